"""Money in integer minor units with an ISO 4217 currency; never floats."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Annotated[StrictInt, Field(ge=0, le=10_000_000)]
    currency: CurrencyCode
