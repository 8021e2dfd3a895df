"""Loyalty configuration, parsed once from the environment (handlers/shared/config.py)."""

from __future__ import annotations

from functools import cache

from handlers.shared.config import from_environment, setting
from handlers.shared.records import record


@record
class LoyaltyConfig:
    """The loyalty functions' settings: the ledger and totals tables."""

    ledger_table_name: str = setting("LOYALTY_LEDGER_TABLE_NAME")
    totals_table_name: str = setting("LOYALTY_TOTALS_TABLE_NAME")


@cache
def load_config() -> LoyaltyConfig:
    return from_environment(LoyaltyConfig)
