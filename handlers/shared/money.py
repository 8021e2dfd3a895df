"""Money in integer minor units with an ISO 4217 currency; never floats.

A checked record (handlers/shared/records.py), so that task functions validate it
without pydantic; HTTP functions embed it in their pydantic models, which apply the
same rules (`__pydantic_config__` forbids extra keys there too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from handlers.shared.records import Extra, Rules

CURRENCY_PATTERN = r"^[A-Z]{3}$"
CurrencyCode = Annotated[str, Rules(pattern=CURRENCY_PATTERN)]


@dataclass(frozen=True, kw_only=True)
class Money:
    EXTRA: ClassVar[Extra] = "forbid"
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    amount: Annotated[int, Rules(strict=True, ge=0, le=10_000_000)]
    currency: CurrencyCode
