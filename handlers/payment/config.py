"""Payment configuration, parsed once from the environment."""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel


class PaymentConfig(BaseModel):
    payments_table_name: str
    payment_operations_table_name: str
    provider: Literal["sandbox"] = "sandbox"


@cache
def load_config() -> PaymentConfig:
    return PaymentConfig(
        payments_table_name=os.environ["PAYMENTS_TABLE_NAME"],
        payment_operations_table_name=os.environ["PAYMENT_OPERATIONS_TABLE_NAME"],
        provider=os.environ.get("PAYMENT_PROVIDER", "sandbox"),
    )
