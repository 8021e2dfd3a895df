"""Catalog configuration, parsed once from the environment."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel


class CatalogConfig(BaseModel):
    flights_table_name: str


@cache
def load_config() -> CatalogConfig:
    return CatalogConfig(flights_table_name=os.environ["FLIGHTS_TABLE_NAME"])
