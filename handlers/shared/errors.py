"""Typed domain errors. Handlers map them to HTTP answers in one place (http.py)."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A failure the caller can act on; `code` is machine-readable and stable."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidInput(DomainError):
    status = 422
    code = "VALIDATION_ERROR"


class MalformedRequest(DomainError):
    status = 400
    code = "MALFORMED_REQUEST"


class PayloadTooLarge(DomainError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class Unauthorized(DomainError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"


class Conflict(DomainError):
    status = 409
    code = "CONFLICT"


class TransientError(Exception):
    """A fault a later attempt may cure (contention, throttling, an AWS 5xx), never a business outcome.

    Not a DomainError: an HTTP route that meets one answers 503 through its own
    handler, and a workflow task raises it under its class name, which the state
    machines' shared transient list (services/booking/workflows/retry.yml) retries.
    """


class WriteConflict(TransientError):
    """A DynamoDB transaction was cancelled because another request held one of its items
    (cancellation reason `TransactionConflict`) and the data layer's own retries ran out."""


class WriteThrottled(TransientError):
    """A DynamoDB transaction was cancelled for throughput (`ThrottlingError`/`ProvisionedThroughputExceeded`)."""


class ServiceUnavailable(TransientError):
    """An AWS call failed with a transient error code that the SDK has no class for (HTTP 500/503, throttling)."""
