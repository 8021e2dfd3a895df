"""HTTP entry point of the catalog: flight search (any customer), flight management (Admin)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.catalog import logic
from handlers.catalog.config import CatalogConfig, load_config
from handlers.catalog.dal import DynamoFlightRepository
from handlers.catalog.models import FLIGHT_ID_PATTERN, FlightSearch, FlightUpdate, NewFlight
from handlers.catalog.ports import FlightRepository
from handlers.shared.errors import NotFound
from handlers.shared.http import build_resolver, current_caller, json_response, parse_body, parse_query
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import dump, record

app = build_resolver()


@record
class Adapters:
    """What the catalog API's logic works with: built once per process (`cold_start`), or passed in by a test."""

    flights: FlightRepository


def build_adapters(config: CatalogConfig) -> Adapters:
    return Adapters(flights=DynamoFlightRepository(config.flights_table_name))


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


def repository() -> FlightRepository:
    adapters: Adapters = app.context["adapters"]
    return adapters.flights


@app.get("/flights")
@tracer.capture_method
def search_flights() -> Response[str]:
    current_caller(app)
    query = parse_query(app, FlightSearch)
    page = logic.search_flights(repository(), query)
    return json_response(200, dump(page))


@app.get("/flights/<flight_id>")
@tracer.capture_method
def get_flight(flight_id: str) -> Response[str]:
    current_caller(app)
    if not _is_flight_id(flight_id):
        raise NotFound(f"Flight {flight_id} does not exist")
    flight = logic.get_flight(repository(), flight_id)
    return json_response(200, dump(flight))


@app.post("/flights")
@tracer.capture_method
def create_flight() -> Response[str]:
    caller = current_caller(app)
    logic.ensure_may_manage_flights(caller)  # before reading the body: outsiders learn nothing
    new_flight = parse_body(app, NewFlight)
    flight = logic.create_flight(repository(), caller, new_flight)
    metrics.add_metric(name="FlightCreated", unit="Count", value=1)
    return json_response(201, dump(flight))


@app.put("/flights/<flight_id>")
@tracer.capture_method
def update_flight(flight_id: str) -> Response[str]:
    caller = current_caller(app)
    logic.ensure_may_manage_flights(caller)  # before reading the body: outsiders learn nothing
    if not _is_flight_id(flight_id):
        raise NotFound(f"Flight {flight_id} does not exist")
    change = parse_body(app, FlightUpdate)
    flight = logic.update_flight(repository(), caller, flight_id, change)
    metrics.add_metric(name="FlightUpdated", unit="Count", value=1)
    return json_response(200, dump(flight))


def _is_flight_id(value: str) -> bool:
    return FLIGHT_ID_PATTERN.fullmatch(value) is not None


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    app.context["adapters"] = adapters or cold_start()
    return app.resolve(event, context)
