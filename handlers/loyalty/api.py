"""HTTP entry point of loyalty: the caller's points and tier; any customer's for Admin."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.loyalty import logic
from handlers.loyalty.config import LoyaltyConfig, load_config
from handlers.loyalty.dal import DynamoLoyaltyStore
from handlers.loyalty.models import CUSTOMER_ID_PATTERN
from handlers.loyalty.ports import Totals
from handlers.shared.errors import InvalidInput
from handlers.shared.http import build_resolver, current_caller, json_response
from handlers.shared.init_gc import resume_gc_after_first_invocation
from handlers.shared.observability import logger, metrics, tracer
from handlers.shared.records import dump, record

app = build_resolver()


@record
class Adapters:
    """What the loyalty API's logic works with: built once per process (`cold_start`), or passed in by a test."""

    totals: Totals


def build_adapters(config: LoyaltyConfig) -> Adapters:
    return Adapters(totals=DynamoLoyaltyStore(config.ledger_table_name, config.totals_table_name))


@cache
def cold_start() -> Adapters:
    """The adapters of this process, from its configuration (parsed once)."""
    return build_adapters(load_config())


def totals() -> Totals:
    adapters: Adapters = app.context["adapters"]
    return adapters.totals


@app.get("/loyalty")
@tracer.capture_method
def my_loyalty() -> Response[str]:
    caller = current_caller(app)
    status = logic.loyalty_of(totals(), caller.customer_id)
    return json_response(200, dump(status))


@app.get("/loyalty/<customer_id>")
@tracer.capture_method
def customer_loyalty(customer_id: str) -> Response[str]:
    caller = current_caller(app)
    logic.ensure_may_read_any_customer(caller)  # before anything else: a non-Admin learns nothing
    if CUSTOMER_ID_PATTERN.fullmatch(customer_id) is None:
        raise InvalidInput(
            "customerId is not a customer id",
            details=[{"field": "path.customerId", "issue": "1-128 characters of A-Z a-z 0-9 _ . : -"}],
        )
    status = logic.loyalty_of(totals(), customer_id)
    return json_response(200, dump(status))


@resume_gc_after_first_invocation
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    app.context["adapters"] = adapters or cold_start()
    return app.resolve(event, context)
