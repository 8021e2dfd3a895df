"""Seat tasks of the booking workflow (Step Functions invokes them directly, not over HTTP).

reserveSeat {"bookingId", "flightId"} -> {"bookingId", "flightId", "seatsAvailable"}
releaseSeat {"bookingId", "flightId"} -> {"bookingId", "flightId", "released"}
A business failure is raised; its class name is the Step Functions error name
(`SoldOut`, `FlightNotFound`, `InvalidSeatRequest`, ...; see handlers/catalog/errors.py).
Also the `seedFlights` function (local runs and demos; see handlers/catalog/seed.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.catalog import logic
from handlers.catalog.config import CatalogConfig, load_config
from handlers.catalog.dal import DynamoFlightRepository, DynamoSeatInventory
from handlers.catalog.errors import SoldOut
from handlers.catalog.ports import FlightRepository, SeatInventory
from handlers.shared.config import required
from handlers.shared.errors import DomainError, InvalidInput
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import dump, record
from handlers.shared.tasks import aws_faults_classified, parse_task_input


@record
class Adapters:
    """What the catalog tasks work with: built once per process (`cold_start`), or passed in by a test."""

    flights: FlightRepository
    seats: SeatInventory | None  # only the seat tasks get (and need) the reservations table


def build_adapters(config: CatalogConfig) -> Adapters:
    reservations = config.seat_reservations_table_name
    return Adapters(
        flights=DynamoFlightRepository(config.flights_table_name),
        seats=DynamoSeatInventory(config.flights_table_name, reservations) if reservations else None,
    )


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


def _seats(adapters: Adapters | None) -> SeatInventory:
    return required((adapters or cold_start()).seats, "SEAT_RESERVATIONS_TABLE_NAME")


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def reserve_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    _annotate(event)
    try:
        reserved = logic.reserve_seat(_seats(adapters), event)
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


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path="bookingId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@aws_faults_classified
def release_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    _annotate(event)
    try:
        released = logic.release_seat(_seats(adapters), event)
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


@resume_gc_after_first_invocation
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def seed_handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    """Load a seed document (the event itself, e.g. data/seed-flights.json)."""
    # Imported here: its models are built at import, and only seedFlights uses them.
    from handlers.catalog.seed import SeedDocument, seed_flights

    document = parse_task_input(SeedDocument, event, InvalidInput, "seed document")
    result = seed_flights((adapters or cold_start()).flights, document)
    logger.info(
        "flights seeded", extra={"flightsCreated": len(result.created), "flightsExisting": len(result.existing)}
    )
    summary: dict[str, Any] = dump(result)
    return summary
