"""HTTP plumbing shared by every API: one resolver factory, one error mapping.

Every error answer has the same machine-readable body:
    {"code": "VALIDATION_ERROR", "message": "...", "details": [{"field": "from", "issue": "..."}]}
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from handlers.shared.auth import Caller, caller_from_http_event
from handlers.shared.errors import (
    DomainError,
    InvalidInput,
    MalformedRequest,
    PayloadTooLarge,
    TransientError,
)
from handlers.shared.observability import logger
from handlers.shared.records import RecordError, parse

MAX_BODY_BYTES = 16 * 1024

__all__ = [
    "build_resolver",
    "current_caller",
    "error_response",
    "json_response",
    "parse_body",
    "parse_query",
]


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"code": code, "message": message, "details": details or []}),
    )


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(payload, separators=(",", ":")),
        headers=headers,
    )


def build_resolver() -> APIGatewayHttpResolver:
    """A resolver whose domain and validation errors all answer 4xx, never 500."""
    app = APIGatewayHttpResolver()

    @app.exception_handler(DomainError)
    def _domain_error(exc: DomainError) -> Response[str]:
        logger.info("request refused", extra={"code": exc.code, "status": exc.status})
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RecordError)
    def _validation_error(exc: RecordError) -> Response[str]:
        return error_response(422, InvalidInput.code, "The request is invalid", exc.details)

    @app.exception_handler(Exception)
    def _transient_error(exc: Exception) -> Response[str]:
        """A transient AWS fault (throttling, 5xx, unreachable) is 503: retry, with the same key where one applies.

        Anything else is a bug and propagates (the function fails; its alarm counts it).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        from handlers.shared.tasks import is_transient_client_error

        def transient(error: BaseException | None) -> bool:
            # A library may wrap the AWS fault (Powertools idempotency raises its own error from it).
            if error is None:
                return False
            if isinstance(error, TransientError | BotoCoreError):
                return True
            if isinstance(error, ClientError):
                return is_transient_client_error(error)
            return transient(error.__cause__)

        if not transient(exc):
            raise exc
        logger.warning("transient AWS fault", extra={"error": type(exc).__name__})
        return error_response(503, "SERVICE_UNAVAILABLE", "The service is busy; retry shortly")

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        return error_response(404, "ROUTE_NOT_FOUND", "No such route")

    return app


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    return caller_from_http_event(app.current_event.raw_event)


def _validate[M](model: type[M], payload: Any, location: str) -> M:
    """`payload` as the checked record `model` (handlers/shared/records.py), or 422 naming every problem."""
    try:
        return parse(model, payload, location)
    except RecordError as exc:
        raise InvalidInput(f"The {location} is invalid", details=exc.details) from exc


def parse_body[M](app: APIGatewayHttpResolver, model: type[M]) -> M:
    """The JSON body as `model`; malformed, oversized or invalid bodies are 4xx."""
    try:
        raw = app.current_event.decoded_body or ""
    except ValueError as exc:  # not valid base64 (binascii.Error), or not UTF-8 (UnicodeDecodeError)
        raise MalformedRequest("The body is not UTF-8 JSON") from exc
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise MalformedRequest("The body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedRequest("The body must be a JSON object")
    return _validate(model, payload, "body")


def parse_query[M](app: APIGatewayHttpResolver, model: type[M]) -> M:
    return _validate(model, app.current_event.query_string_parameters or {}, "query")
