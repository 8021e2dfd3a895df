"""Payment configuration, parsed once from the environment (handlers/shared/config.py)."""

from __future__ import annotations

from functools import cache

from handlers.shared.config import from_environment, refuse, setting
from handlers.shared.records import record

PROVIDERS = frozenset({"sandbox"})


@record
class PaymentConfig:
    """The payment functions' settings: their tables and the payment provider."""

    payments_table_name: str = setting("PAYMENTS_TABLE_NAME")
    payment_operations_table_name: str = setting("PAYMENT_OPERATIONS_TABLE_NAME")
    provider: str = setting("PAYMENT_PROVIDER", "sandbox")

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            refuse("PAYMENT_PROVIDER", f"{self.provider!r} is not one of {sorted(PROVIDERS)}")


@cache
def load_config() -> PaymentConfig:
    return from_environment(PaymentConfig)
