"""Catalog configuration, parsed once from the environment (handlers/shared/config.py)."""

from __future__ import annotations

from functools import cache

from handlers.shared.config import from_environment, setting
from handlers.shared.records import record


@record
class CatalogConfig:
    """The catalog functions' settings: the flights table and the seat reservations table."""

    flights_table_name: str = setting("FLIGHTS_TABLE_NAME")
    # Only the seat tasks get (and need) the reservations table.
    seat_reservations_table_name: str | None = setting("SEAT_RESERVATIONS_TABLE_NAME", None)


@cache
def load_config() -> CatalogConfig:
    return from_environment(CatalogConfig)
