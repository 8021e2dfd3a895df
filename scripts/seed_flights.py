#!/usr/bin/env python3
"""Load the seed flights into a flights table, through the catalog's own DAL.

    .venv/bin/python scripts/seed_flights.py [--table airline-local-flights] [--file data/seed-flights.json]
                                             [--base-date 2026-12-01]

The table defaults to $FLIGHTS_TABLE_NAME, else airline-local-flights. The
endpoint is boto3's: set AWS_ENDPOINT_URL (e.g. http://127.0.0.1:4566 for the
local moto server) and AWS_REGION. Loading twice adds nothing (ids are
<flightNumber>-<YYYYMMDD>); prints one JSON line {"table", "created", "existing"}.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.catalog.dal import DynamoFlightRepository  # noqa: E402
from handlers.catalog.seed import SeedDocument, seed_flights  # noqa: E402
from handlers.shared.records import parse  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default=os.environ.get("FLIGHTS_TABLE_NAME", "airline-local-flights"))
    parser.add_argument("--file", type=Path, default=ROOT / "data" / "seed-flights.json")
    parser.add_argument("--base-date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default today UTC)")
    args = parser.parse_args(argv)

    document = parse(SeedDocument, json.loads(args.file.read_text()))
    if args.base_date:
        document = dataclasses.replace(document, baseDate=args.base_date)
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")  # Lambda's name, then the CLI's
    repository = DynamoFlightRepository(args.table, boto3.client("dynamodb", region_name=region))
    result = seed_flights(repository, document)
    print(json.dumps({"table": args.table, "created": len(result.created), "existing": len(result.existing)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
