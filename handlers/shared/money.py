"""Money in integer minor units with an ISO 4217 currency; never floats (a checked record)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from handlers.shared.records import Extra, Rules, record

CURRENCY_PATTERN = r"^[A-Z]{3}$"
CurrencyCode = Annotated[str, Rules(pattern=CURRENCY_PATTERN)]


@record
class Money:
    """An amount in minor units (pence, cents) of an ISO 4217 currency."""

    EXTRA: ClassVar[Extra] = "forbid"

    amount: Annotated[int, Rules(strict=True, ge=0, le=10_000_000)]
    currency: CurrencyCode
