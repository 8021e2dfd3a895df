"""What every workflow task shares: one input parser and one classification of AWS faults.

Step Functions sees a task's failure by the exception's class name (`errorType`).
Modelled AWS errors already carry their AWS name (`ProvisionedThroughputExceededException`,
`ThrottledException`, ...). An error code the SDK has no class for arrives as a bare
`ClientError`, a name no retrier can tell apart from a bug: `aws_faults_classified`
raises the transient ones (throttling codes, HTTP 5xx, request timeouts, by code and
status, never by message text) as `ServiceUnavailable`, which the shared transient list
retries. Everything else propagates unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from handlers.shared.errors import InvalidInput, ServiceUnavailable
from handlers.shared.records import RecordError, parse

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


def parse_task_input[M](
    model: type[M], event: Any, error: type[InvalidInput] = InvalidInput, what: str = "task input"
) -> M:
    """The one parser of workflow task inputs: a checked record (handlers/shared/records.py), or
    `error` (a definition bug, never retried)."""
    if not isinstance(event, dict):
        raise error(f"The {what} must be a JSON object")
    try:
        return parse(model, event)
    except RecordError as exc:
        raise error(f"Invalid {what}: {exc.details}", details=exc.details) from exc


def is_transient_client_error(exc: Exception) -> bool:
    """Whether an SDK ClientError is a throttling or server-side fault (by code and HTTP status)."""
    from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return (
        code in ThrottledRetryableChecker._THROTTLED_ERROR_CODES
        or code in TransientRetryableChecker._TRANSIENT_ERROR_CODES
        or status in _TRANSIENT_STATUS
    )


def aws_faults_classified[**P, R](task: Callable[P, R]) -> Callable[P, R]:
    """Raise an unmodelled transient AWS error as ServiceUnavailable; leave every other error as it is."""

    @functools.wraps(task)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return task(*args, **kwargs)
        except Exception as exc:
            from botocore.exceptions import ClientError

            # Only the bare ClientError: a modelled error class already names itself.
            if type(exc) is ClientError and is_transient_client_error(exc):
                code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")
                raise ServiceUnavailable(f"AWS answered {code or 'a server error'}") from exc
            raise

    return run
