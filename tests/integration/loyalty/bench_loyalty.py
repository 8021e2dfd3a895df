"""Loyalty figures, printed (never asserted): import cost of each entry module, consumer and API work on moto.

    .venv/bin/python -m tests.integration.loyalty.bench_loyalty

Import cost is what a cold start pays before the first event (fresh interpreter,
median of 5). Handler figures run in-process against moto, so they measure our
code plus the emulator, not DynamoDB latency.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import tests.conftest  # noqa: F401  (fake credentials, Powertools settings, no endpoint)
from localcloud.packaging import ROOT

IMPORT_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_ms(module: str, runs: int = 5) -> float:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(module=module)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip()) * 1000)
    return statistics.median(samples)


def handler_figures(batches: int = 50) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from localcloud.deploy import create_platform_tables, platform_tables
    from tests.integration.loyalty.booking_events import CONFIRMED, booking_event, record_of
    from tests.support.events import FakeLambdaContext, claims_for, http_event, sqs_event

    tables = platform_tables("local")
    os.environ["LOYALTY_LEDGER_TABLE_NAME"] = tables["LoyaltyLedgerTable"]["TableName"]
    os.environ["LOYALTY_TOTALS_TABLE_NAME"] = tables["LoyaltyTotalsTable"]["TableName"]
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    with mock_aws():
        create_platform_tables(
            boto3.client("dynamodb", region_name="eu-west-1"), only={"LoyaltyLedgerTable", "LoyaltyTotalsTable"}
        )
        from handlers.loyalty import api, consumer

        events = [
            [booking_event(CONFIRMED, booking=f"b-{b}-{r}", customer=f"c-{r}") for r in range(10)]
            for b in range(batches)
        ]
        started = time.perf_counter()
        for batch in events:
            consumer.handler(sqs_event(*(record_of(e) for e in batch)), FakeLambdaContext())
        fresh = time.perf_counter() - started
        started = time.perf_counter()
        for batch in events:  # the same events again: every record is a duplicate
            consumer.handler(sqs_event(*(record_of(e) for e in batch)), FakeLambdaContext())
        duplicate = time.perf_counter() - started
        started = time.perf_counter()
        for n in range(200):
            api.handler(http_event("GET", "/loyalty", claims=claims_for(f"c-{n % 10}")), FakeLambdaContext())
        reads = time.perf_counter() - started
    records = batches * 10
    return {
        "consumer_new_records_per_s_moto": round(records / fresh),
        "consumer_duplicate_records_per_s_moto": round(records / duplicate),
        "api_get_loyalty_ms_moto": round(reads / 200 * 1000, 2),
    }


def main() -> None:
    figures: dict[str, Any] = {
        "import_ms_consumer": round(import_ms("handlers.loyalty.consumer"), 1),
        "import_ms_api": round(import_ms("handlers.loyalty.api"), 1),
    }
    figures.update(handler_figures())
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
