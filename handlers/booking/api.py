"""HTTP entry point of the booking API: start, list, read and cancel the caller's bookings.

The adapters are built once per process (cold start) by `cold_start()`, or passed in
by a test (`handler(event, context, adapters=...)`); routes read them from the
resolver's context. Idempotency sits on the logic function (`logic.start_booking`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.booking import logic
from handlers.booking.config import BookingConfig, load_config
from handlers.booking.dal import DynamoBookingRepository, DynamoFlightCatalog, StepFunctionsStarter, idempotency_store
from handlers.booking.errors import BookingNotFound, IdempotencyKeyReused, RequestInProgress
from handlers.booking.models import Booking, BookingListQuery, NewBooking
from handlers.booking.ports import BookingRepository, FlightCatalog, WorkflowStarter
from handlers.shared.config import required
from handlers.shared.errors import InvalidInput
from handlers.shared.http import build_resolver, current_caller, json_response, parse_body, parse_query
from handlers.shared.ids import is_booking_id
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import record

app = build_resolver()

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


@record
class Adapters:
    """What the booking API's logic works with, and the function's configuration."""

    config: BookingConfig
    repository: BookingRepository
    catalog: FlightCatalog
    starter: WorkflowStarter

    @cache  # noqa: B019 - one wrapper per Adapters (they live as long as the process)
    def idempotent_start(self) -> tuple[Any, Callable[..., dict[str, str]]]:
        """`logic.start_booking` under Powertools idempotency, built on first use (cold start stays small).

        The key is (customer, Idempotency-Key); the payload hash covers the body, so the same
        key with another body raises IdempotencyValidationError instead of booking again.
        """
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

        config = IdempotencyConfig(
            event_key_jmespath="[customerId, idempotencyKey]",
            payload_validation_jmespath="[flightId, paymentToken]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        )
        store = idempotency_store(self.config.idempotency_table_name)
        decorate = idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)
        decorated: Callable[..., dict[str, str]] = decorate(logic.start_booking)
        return config, decorated


def build_adapters(config: BookingConfig) -> Adapters:
    return Adapters(
        config=config,
        repository=DynamoBookingRepository(config.bookings_table_name, config.references_table_name),
        catalog=DynamoFlightCatalog(config.flights_table_name),
        starter=StepFunctionsStarter(),
    )


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


def _wired() -> Adapters:
    """The adapters of this invocation (the handler put them in the resolver's context)."""
    found: Adapters = app.context["adapters"]
    return found


def _idempotency_key() -> str:
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER) or app.current_event.headers.get("Idempotency-Key")
    if not key:
        raise InvalidInput(
            "The Idempotency-Key header is required",
            details=[{"field": "header.Idempotency-Key", "issue": "missing"}],
        )
    if not (8 <= len(key) <= 128) or not all(c.isascii() and (c.isalnum() or c in "_.:-") for c in key):
        raise InvalidInput(
            "The Idempotency-Key header is invalid",
            details=[{"field": "header.Idempotency-Key", "issue": "8-128 characters of A-Z a-z 0-9 _ . : -"}],
        )
    return key


def _started(booking: Booking) -> None:
    metrics.add_metric(name="BookingStarted", unit="Count", value=1)


@app.post("/bookings")
@tracer.capture_method
def create_booking() -> Response[str]:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    caller = current_caller(app)
    key = _idempotency_key()
    body = parse_body(app, NewBooking)
    request = {
        "customerId": caller.customer_id,
        "idempotencyKey": key,
        "flightId": body.flightId,
        "paymentToken": body.paymentToken,
    }
    wired = _wired()
    try:
        idempotency_config, idempotent_start = wired.idempotent_start()
        idempotency_config.register_lambda_context(app.lambda_context)
        answer = idempotent_start(
            request=request,
            repository=wired.repository,
            catalog=wired.catalog,
            starter=wired.starter,
            workflow_arn=required(wired.config.workflow_arn, "BOOKING_WORKFLOW_ARN"),
            on_started=_started,
        )
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused("This Idempotency-Key was used with another body") from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise RequestInProgress("A request with this Idempotency-Key is in progress; retry shortly") from exc
    tracer.put_annotation(key="bookingId", value=answer["bookingId"])
    tracer.put_annotation(key="flightId", value=body.flightId)
    return json_response(202, answer, headers={"Location": f"/bookings/{answer['bookingId']}"})


@app.get("/bookings")
@tracer.capture_method
def list_bookings() -> Response[str]:
    caller = current_caller(app)
    query = parse_query(app, BookingListQuery)
    page = _wired().repository.list_for_customer(caller.customer_id, query.limit, query.nextToken)
    return json_response(
        200, {"bookings": [booking.public() for booking in page.bookings], "nextToken": page.nextToken}
    )


def _checked_id(booking_id: str) -> str:
    if not is_booking_id(booking_id):
        raise BookingNotFound(f"Booking {booking_id[:64]} does not exist")
    return booking_id


@app.get("/bookings/<booking_id>")
@tracer.capture_method
def get_booking(booking_id: str) -> Response[str]:
    caller = current_caller(app)
    booking = logic.visible_booking(_wired().repository, caller, _checked_id(booking_id))
    return json_response(200, booking.public())


@app.post("/bookings/<booking_id>/cancel")
@tracer.capture_method
def cancel_booking(booking_id: str) -> Response[str]:
    caller = current_caller(app)
    wired = _wired()
    cancel_workflow_arn = required(wired.config.cancel_workflow_arn, "CANCEL_WORKFLOW_ARN")
    booking = logic.request_cancellation(wired.repository, caller, _checked_id(booking_id), cancel_workflow_arn)
    payload = logic.cancellation_to_start(booking, cancel_workflow_arn)
    if payload is not None:
        # (Re)start the cancellation; its execution is named after the booking, so a
        # repeated request never runs it twice, and a crash here is healed by a retry
        # (or by the reconciler). Another colour's cancellation is left to that colour.
        wired.starter.start(cancel_workflow_arn, booking.bookingId, payload)
    return json_response(202, {"bookingId": booking.bookingId, "status": booking.status.value})


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    app.context["adapters"] = adapters or cold_start()
    return app.resolve(event, context)
