"""Seat tasks of the booking workflow (Step Functions invokes them directly, not over HTTP).

reserveSeat {"bookingId", "flightId"} -> {"bookingId", "flightId", "seatsAvailable"}
releaseSeat {"bookingId", "flightId"} -> {"bookingId", "flightId", "released"}
A business failure is raised; its class name is the Step Functions error name
(`SoldOut`, `FlightNotFound`, `InvalidSeatRequest`, ...; see handlers/catalog/errors.py).
Also the `seedFlights` function (local runs and demos; see handlers/catalog/seed.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.catalog import logic
from handlers.catalog.config import load_config
from handlers.catalog.dal import DynamoFlightRepository, DynamoSeatInventory
from handlers.catalog.errors import SoldOut
from handlers.shared.errors import DomainError, InvalidInput
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import RecordError, dump, parse
from handlers.shared.tasks import aws_faults_classified

_inventory: DynamoSeatInventory | None = None


def inventory() -> DynamoSeatInventory:
    global _inventory
    if _inventory is None:
        config = load_config()
        if not config.seat_reservations_table_name:
            raise RuntimeError("SEAT_RESERVATIONS_TABLE_NAME is not set")
        _inventory = DynamoSeatInventory(config.flights_table_name, config.seat_reservations_table_name)
    return _inventory


@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def reserve_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _annotate(event)
    try:
        reserved = logic.reserve_seat(inventory(), event)
    except SoldOut:
        metrics.add_metric(name="SeatSoldOut", unit=MetricUnit.Count, value=1)
        logger.info("sold out", extra={"flightId": event.get("flightId")})
        raise
    except DomainError:
        raise
    except Exception:
        _unexpected("reserveSeat")
        raise
    metrics.add_metric(name="SeatReserved", unit=MetricUnit.Count, value=1)
    answer: dict[str, Any] = dump(reserved)
    logger.info("seat held", extra=answer)
    return answer


@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def release_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _annotate(event)
    try:
        released = logic.release_seat(inventory(), event)
    except DomainError:
        raise
    except Exception:
        _unexpected("releaseSeat")
        raise
    if released.released:
        metrics.add_metric(name="SeatReleased", unit=MetricUnit.Count, value=1)
    answer: dict[str, Any] = dump(released)
    logger.info("seat release", extra=answer)
    return answer


def _annotate(event: Any) -> None:
    """bookingId and flightId on the trace (X-Ray indexes annotations: find a booking's trace)."""
    for key in ("bookingId", "flightId"):
        if isinstance(event, dict) and isinstance(event.get(key), str):
            tracer.put_annotation(key=key, value=event[key])


def _unexpected(task: str) -> None:
    """Counted for the canary alarm: a failure that is not a business outcome (SDK, throttling, bug)."""
    metrics.add_metric(name="SeatTaskFailed", unit=MetricUnit.Count, value=1)
    logger.exception("seat task failed", extra={"task": task})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def seed_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Load a seed document (the event itself, e.g. data/seed-flights.json)."""
    # Imported here: its models are built at import, and only seedFlights uses them.
    from handlers.catalog.seed import SeedDocument, seed_flights

    try:
        document = parse(SeedDocument, event)
    except RecordError as exc:
        raise InvalidInput(
            f"Invalid seed document: {len(exc.details)} error(s): {exc.details[:3]}", details=exc.details
        ) from exc
    result = seed_flights(DynamoFlightRepository(load_config().flights_table_name), document)
    logger.info(
        "flights seeded", extra={"flightsCreated": len(result.created), "flightsExisting": len(result.existing)}
    )
    summary: dict[str, Any] = dump(result)
    return summary
