"""Payment configuration, parsed once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class PaymentConfig:
    payments_table_name: str
    payment_operations_table_name: str
    provider: Literal["sandbox"] = "sandbox"


@cache
def load_config() -> PaymentConfig:
    provider = os.environ.get("PAYMENT_PROVIDER", "sandbox")
    if provider != "sandbox":
        raise ValueError(f"PAYMENT_PROVIDER must be 'sandbox', not {provider!r}")
    return PaymentConfig(
        payments_table_name=os.environ["PAYMENTS_TABLE_NAME"],
        payment_operations_table_name=os.environ["PAYMENT_OPERATIONS_TABLE_NAME"],
        provider="sandbox",
    )
