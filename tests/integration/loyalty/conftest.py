"""Loyalty integration fixtures: moto tables built from the packaged platform template, fresh handler state."""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localcloud.deploy import create_platform_tables, platform_tables
from tests.support.wiring import Wired, wired

LOYALTY_TABLES = ("LoyaltyLedgerTable", "LoyaltyTotalsTable")


def table_name(logical_id: str) -> str:
    return str(platform_tables("local")[logical_id]["TableName"])


@pytest.fixture
def loyalty(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The loyalty tables on moto and the environment the stack gives the functions."""
    monkeypatch.setenv("LOYALTY_LEDGER_TABLE_NAME", table_name("LoyaltyLedgerTable"))
    monkeypatch.setenv("LOYALTY_TOTALS_TABLE_NAME", table_name("LoyaltyTotalsTable"))
    create_platform_tables(dynamodb, only=set(LOYALTY_TABLES))
    return dynamodb


def loyalty_entry(name: str) -> Wired:
    """`handlers.loyalty.<name>` (api, consumer) with the adapters a cold start would build from the environment now."""
    from handlers.loyalty.config import LoyaltyConfig

    return wired(importlib.import_module(f"handlers.loyalty.{name}"), LoyaltyConfig)


def total_of(dynamodb: Any, customer_id: str) -> int | None:
    item = dynamodb.get_item(TableName=table_name("LoyaltyTotalsTable"), Key={"customerId": {"S": customer_id}})
    return int(item["Item"]["points"]["N"]) if "Item" in item else None


def ledger_entry(dynamodb: Any, booking_id: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table_name("LoyaltyLedgerTable"), Key={"bookingId": {"S": booking_id}})
    return {k: next(iter(v.values())) for k, v in item["Item"].items()} if "Item" in item else None


@pytest.fixture
def consumer_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The consumer's structured log lines, as CloudWatch would receive them (JSON, one per line)."""
    from handlers.shared.observability import logger  # the consumer's logger (one per process)

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    underlying.addHandler(handler)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    underlying.removeHandler(handler)
