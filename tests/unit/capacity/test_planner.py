"""The capacity planner: Little's law, Lambda's scaling rules, the worked example, cost and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from capacity import prices
from capacity.cli import main
from capacity.model import (
    PlanningError,
    at_once,
    concurrency_needed,
    littles_law,
    monthly_cost,
    simulate,
    smallest_provisioned,
)
from capacity.profile import duration_from_figures, from_csv, from_shape


@pytest.mark.parametrize(
    ("rate", "duration", "mean", "environments"),
    [(100, 0.2, 20.0, 20), (50, 0.12, 6.0, 6), (10, 0.05, 0.5, 1), (0, 1.0, 0.0, 0), (1000, 1.5, 1500.0, 1500)],
)
def test_littles_law(rate: float, duration: float, mean: float, environments: int) -> None:
    assert littles_law(rate, duration) == pytest.approx(mean)
    assert concurrency_needed(rate, duration) == environments


def test_the_worked_example_10000_at_once_with_7000_provisioned() -> None:
    result = at_once(10_000, provisioned=7_000, account_limit=10_000)

    assert result.warm == 7_000
    assert result.cold_starts == 3_000
    assert result.over_account_limit == 0
    # Lambda's scaling rate: 1,000 new environments now, the other 2,000 within 20 s.
    assert (result.cold_at_once, result.seconds_until_all_started) == (1_000, 20)


def test_the_worked_example_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--at-once", "10000", "--provisioned", "7000", "--account-limit", "10000"]) == 0
    out = capsys.readouterr().out
    assert "served warm by provisioned environments: 7,000" in out
    assert "cold starts on new on-demand environments: 3,000" in out


def test_at_once_beyond_the_account_limit_is_throttled() -> None:
    result = at_once(10_000, provisioned=7_000, account_limit=9_000)
    assert (result.warm, result.cold_starts, result.over_account_limit) == (7_000, 2_000, 1_000)


def test_a_steady_load_under_the_account_limit_starts_cold_once_per_environment() -> None:
    # 200 req/s x 0.5 s = 100 environments, well under the limit: 100 cold starts, then all warm.
    run = simulate([200.0] * 60, 0.5, provisioned=0, account_limit=1_000)

    assert run.peak_concurrency == 100
    assert run.cold_starts == 100
    assert run.throttled == 0
    assert all(s.warm_on_demand == 100 for s in run.seconds[1:])


def test_a_profile_over_the_account_limit_is_throttled_for_as_long_as_it_lasts() -> None:
    # 3,000 req/s x 0.5 s = 1,500 environments against a limit of 1,000 (100 of them provisioned).
    run = simulate([3_000.0] * 30, 0.5, provisioned=100, account_limit=1_000)

    assert run.cold_starts == 900  # the limit minus the provisioned environments
    # Every second, 500 environments' worth of requests (1,000 req/s) find no room.
    assert [round(s.throttled) for s in run.seconds[12:15]] == [1_000, 1_000, 1_000]
    assert run.throttled > 0


def test_a_burst_above_the_scaling_rate_adds_at_most_1000_environments_per_10_seconds() -> None:
    # From idle to 5,000 environments at once (5,000 req/s x 1 s), with room in the account.
    run = simulate([0.0] * 5 + [5_000.0] * 60, 1.0, provisioned=0, account_limit=10_000)
    started = [s.cold_starts for s in run.seconds]

    assert started[5] == 1_000  # the bucket was full
    assert all(started[t] <= 100 for t in range(6, 65))  # then refilled at 100 per second
    for window_start in range(0, 56):
        assert sum(started[window_start : window_start + 10]) <= 1_000 + 100 * 9
    assert sum(started[5:46]) == 5_000  # 1,000 at once plus 100/s for 40 s
    assert run.seconds[5].throttled == pytest.approx(4_000)
    assert run.seconds[46].throttled == 0
    assert run.cold_starts == 5_000


def test_provisioned_concurrency_absorbs_the_burst() -> None:
    run = simulate([0.0] * 5 + [5_000.0] * 10, 1.0, provisioned=5_000, account_limit=10_000)
    assert (run.cold_starts, run.throttled) == (0, 0)


def test_smallest_provisioned_is_the_least_that_meets_the_target() -> None:
    rates = from_shape(20, 120, ["900@30s+10s"])
    duration = 0.2  # steady 4 environments, burst 180
    best = smallest_provisioned(rates, duration, target_cold_share=0.001, account_limit=1_000)

    assert simulate(rates, duration, best).cold_start_share <= 0.001
    assert simulate(rates, duration, best - 1).cold_start_share > 0.001
    # The binary search agrees with a linear scan.
    linear = next(p for p in range(0, 200) if simulate(rates, duration, p).cold_start_share <= 0.001)
    assert best == linear


def test_over_the_account_limit_no_cold_start_is_left_but_throttles_are(capsys: pytest.CaptureFixture[str]) -> None:
    rates = [0.0, 5_000.0, 5_000.0]
    best = smallest_provisioned(rates, 1.0, 0.0, account_limit=1_000)

    assert best == 1_000
    assert simulate(rates, 1.0, best, 1_000).throttled == pytest.approx(8_000)
    assert main(["--steady", "5000", "--length", "3", "--duration-ms", "1000", "--target-cold-share", "0"]) == 0
    assert "WARNING: 12,000 requests are throttled even so" in capsys.readouterr().out


def test_monthly_cost_on_demand_and_provisioned() -> None:
    # 10 req/s for 0.1 s at 1,024 MB: 26,280,000 requests and 2,628,000 GB-s a month.
    idle = simulate([10.0] * 100, 0.1, provisioned=0)
    warm = simulate([10.0] * 100, 0.1, provisioned=1)
    on_demand = monthly_cost(idle, 1024)
    provisioned = monthly_cost(warm, 1024)

    requests = 10 * prices.SECONDS_PER_MONTH
    assert on_demand.requests == pytest.approx(requests)
    assert on_demand.on_demand == pytest.approx(requests * 0.20 / 1e6 + requests * 0.1 * 0.0000166667)
    assert provisioned.provisioned_charge == pytest.approx(prices.SECONDS_PER_MONTH * 0.0000041667)
    # The first second's request started the one environment (cold, on demand); the rest ran provisioned.
    assert warm.provisioned_share == pytest.approx(1.0)
    assert provisioned.provisioned == pytest.approx(
        requests * 0.20 / 1e6 + prices.SECONDS_PER_MONTH * 0.0000041667 + requests * 0.1 * 0.0000097222
    )


def test_csv_profile_fills_missing_seconds_with_no_load(tmp_path: Path) -> None:
    path = tmp_path / "profile.csv"
    path.write_text("second,requests_per_second\n0,5\n3,7.5\n")
    assert from_csv(path) == [5.0, 0.0, 0.0, 7.5]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no data rows"),
        ("second,requests_per_second\n", "no data rows"),
        ("0,10\n1,-3\n", "must not be negative"),
        ("0,10\n0,12\n", "appears twice"),
        ("0,ten\n", "is not a number"),
        ("0,1,2\n", "expected 2 columns"),
        ("-1,5\n", "whole number >= 0"),
    ],
)
def test_bad_csv_is_rejected_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "profile.csv"
    path.write_text(content)

    with pytest.raises(PlanningError, match=message):
        from_csv(path)
    assert main(["--csv", str(path), "--duration-ms", "100"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--steady", "-5", "--duration-ms", "100"],
        ["--steady", "5", "--burst", "lots", "--duration-ms", "100"],
        ["--steady", "5", "--duration-ms", "0"],
        ["--steady", "5", "--duration-ms", "100", "--provisioned", "2000", "--account-limit", "1000"],
        ["--steady", "5", "--figures", "/nonexistent/figures.json"],
        ["--at-once", "-1"],
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "plan_capacity: error:" in capsys.readouterr().err


def test_duration_is_read_from_benchmark_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = tmp_path / "figures.json"
    figures.write_text('{"functions": {"searchFlights": {"durationMs": {"p50": 40, "p95": 120}}}}')

    assert duration_from_figures(figures, "searchFlights") == 120
    assert main(["--steady", "50", "--length", "60", "--figures", str(figures)]) == 0
    assert f"duration 120 ms (from {figures})" in capsys.readouterr().out


def test_the_plan_prints_stage_params_to_paste(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--steady", "50", "--burst", "2000@60s+30s", "--duration-ms", "120", "--timeline", "0"]) == 0
    out = capsys.readouterr().out
    assert "peak concurrency (Little's law, 2,000 req/s x 0.12 s): 240.0 -> 240 environments" in out
    assert "provisionedConcurrency:" in out
    for stage in ("prod", "prod-blue", "prod-green"):
        assert f"        {stage}:\n          provisioned: " in out
