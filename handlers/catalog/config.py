"""Catalog configuration, parsed once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, kw_only=True)
class CatalogConfig:
    flights_table_name: str
    # Only the seat tasks get (and need) the reservations table.
    seat_reservations_table_name: str | None = None


@cache
def load_config() -> CatalogConfig:
    return CatalogConfig(
        flights_table_name=os.environ["FLIGHTS_TABLE_NAME"],
        seat_reservations_table_name=os.environ.get("SEAT_RESERVATIONS_TABLE_NAME"),
    )
