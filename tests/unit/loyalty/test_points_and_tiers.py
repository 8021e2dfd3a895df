"""Points of a captured amount and the tier of a total: the loyalty rules, no AWS."""

from __future__ import annotations

import pytest

from handlers.loyalty.logic import points_for, status_for
from handlers.shared.money import Money
from handlers.shared.records import dump


@pytest.mark.parametrize(
    ("amount", "currency", "points"),
    [
        (12050, "EUR", 120),  # the domain's example: whole units only
        (12099, "EUR", 120),  # never rounded up
        (99, "USD", 0),
        (0, "EUR", 0),
        (10_000_000, "GBP", 100_000),
        (12050, "JPY", 12050),  # no minor unit
        (12050, "KWD", 12),  # three decimals
    ],
)
def test_one_point_per_whole_unit_of_the_amount(amount: int, currency: str, points: int) -> None:
    assert points_for(Money(amount=amount, currency=currency)) == points


@pytest.mark.parametrize(
    ("points", "tier", "next_tier", "to_next"),
    [
        (0, "bronze", "silver", 50_000),
        (49_999, "bronze", "silver", 1),
        (50_000, "silver", "gold", 50_000),
        (99_999, "silver", "gold", 1),
        (100_000, "gold", None, None),
        (1_234_567, "gold", None, None),
    ],
)
def test_tiers_at_their_boundaries(points: int, tier: str, next_tier: str | None, to_next: int | None) -> None:
    status = status_for(points)

    assert dump(status) == {
        "points": points,
        "tier": tier,
        "nextTier": next_tier,
        "pointsToNextTier": to_next,
    }


def test_a_negative_total_is_refused_rather_than_shown() -> None:
    with pytest.raises(ValueError, match="never negative"):
        status_for(-1)
