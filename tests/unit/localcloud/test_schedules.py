"""Schedule expressions (rate and cron, EventBridge's fields) and the rule deploy."""

from __future__ import annotations

import datetime as dt

import pytest

from localcloud.pollers import Schedule

NOW = dt.datetime(2026, 11, 28, 13, 47, 30, tzinfo=dt.UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", NOW + dt.timedelta(minutes=5)),
        ("rate(1 hour)", NOW + dt.timedelta(hours=1)),
        ("rate(2 days)", NOW + dt.timedelta(days=2)),
        ("cron(0/15 * * * ? *)", dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.UTC)),
        ("cron(0 9 * * ? *)", dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)),
        ("cron(30 8 ? * 2-6 *)", dt.datetime(2026, 11, 30, 8, 30, tzinfo=dt.UTC)),  # Monday-Friday: next Monday
        ("cron(0 12 1 * ? *)", dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)),
        ("cron(50,55 13 * * ? *)", dt.datetime(2026, 11, 28, 13, 50, tzinfo=dt.UTC)),
    ],
)
def test_next_firing(expression: str, expected: dt.datetime) -> None:
    assert Schedule("fn", expression).next_after(NOW) == expected


@pytest.mark.parametrize("expression", ["every 5 minutes", "cron(0 9 L * ? *)", "rate(five minutes)"])
def test_unsupported_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        Schedule("fn", expression).next_after(NOW)
