"""Loyalty configuration, parsed once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True, kw_only=True)
class LoyaltyConfig:
    ledger_table_name: str
    totals_table_name: str


@cache
def load_config() -> LoyaltyConfig:
    return LoyaltyConfig(
        ledger_table_name=os.environ["LOYALTY_LEDGER_TABLE_NAME"],
        totals_table_name=os.environ["LOYALTY_TOTALS_TABLE_NAME"],
    )
