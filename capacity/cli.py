"""`scripts/plan_capacity.py`: plan provisioned concurrency for one function from a traffic profile."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from capacity import prices
from capacity.model import (
    DEFAULT_ACCOUNT_LIMIT,
    PlanningError,
    Simulation,
    at_once,
    littles_law,
    monthly_cost,
    simulate,
    smallest_provisioned,
)
from capacity.profile import duration_from_figures, from_csv, from_shape

DEFAULT_FIGURES = Path("benchmarks/figures.json")
PRODUCTION_STAGES = ("prod", "prod-blue", "prod-green")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plan_capacity.py",
        description="Peak concurrency, cold starts, throttles, provisioned concurrency and monthly cost of a function.",
    )
    load = parser.add_mutually_exclusive_group(required=True)
    load.add_argument("--csv", type=Path, help="profile: CSV of second,requests_per_second")
    load.add_argument("--steady", type=float, help="profile: a steady rate (requests/s) for --length seconds")
    load.add_argument("--at-once", type=int, metavar="N", help="N requests arriving in the same instant")
    parser.add_argument("--length", type=int, default=300, help="length of a --steady profile in seconds (300)")
    parser.add_argument("--burst", action="append", default=[], help="RATE@STARTs+LENGTHs inside a --steady profile")
    parser.add_argument("--function", default="searchFlights", help="function key (searchFlights)")
    parser.add_argument("--duration-ms", type=float, help="mean duration; default: from --figures")
    parser.add_argument("--figures", type=Path, default=DEFAULT_FIGURES, help=f"benchmark figures ({DEFAULT_FIGURES})")
    parser.add_argument("--memory-mb", type=int, default=512, help="function memory (512)")
    parser.add_argument("--provisioned", type=int, default=0, help="provisioned concurrency to evaluate (0)")
    parser.add_argument("--account-limit", type=int, default=DEFAULT_ACCOUNT_LIMIT, help="account concurrency (1000)")
    parser.add_argument("--target-cold-share", type=float, default=0.001, help="cold starts / requests (0.001)")
    parser.add_argument("--target-utilization", type=float, default=0.7, help="target tracking value (0.7)")
    parser.add_argument("--timeline", type=int, default=10, help="seconds of timeline to print (10; 0 for none)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.at_once is not None:
            print(report_at_once(args.at_once, args.provisioned, args.account_limit))
            return 0
        print(report_profile(args))
    except PlanningError as exc:
        print(f"plan_capacity: error: {exc}", file=sys.stderr)
        return 2
    return 0


def report_at_once(requests: int, provisioned: int, account_limit: int) -> str:
    result = at_once(requests, provisioned, account_limit)
    lines = [
        f"{result.requests:,} requests at once, {provisioned:,} provisioned, account limit {account_limit:,}:",
        f"  served warm by provisioned environments: {result.warm:,}",
        f"  cold starts on new on-demand environments: {result.cold_starts:,}",
        f"    of which start at once (scaling rate 1,000 per 10 s): {result.cold_at_once:,}",
        f"    the rest are throttled (429) until they start, within {result.seconds_until_all_started} s",
        f"  beyond the account limit (throttled): {result.over_account_limit:,}",
    ]
    return "\n".join(lines)


def _duration_seconds(args: argparse.Namespace) -> tuple[float, str]:
    if args.duration_ms is not None:
        if not args.duration_ms > 0:
            raise PlanningError("--duration-ms must be positive")
        return args.duration_ms / 1000, "given"
    if args.figures.exists():
        return duration_from_figures(args.figures, args.function) / 1000, f"from {args.figures}"
    raise PlanningError(f"no --duration-ms and no benchmark figures at {args.figures}")


def report_profile(args: argparse.Namespace) -> str:
    if not 0 < args.target_utilization <= 1:
        raise PlanningError("--target-utilization is a share in (0, 1]")
    rates = from_csv(args.csv) if args.csv else from_shape(args.steady, args.length, args.burst)
    duration, source = _duration_seconds(args)
    current = simulate(rates, duration, args.provisioned, args.account_limit)
    best = smallest_provisioned(rates, duration, args.target_cold_share, args.account_limit)
    peak_rate = max(rates)
    lines = [
        f"profile: {len(rates)} s, {current.requests:,.0f} requests, peak {peak_rate:,.0f} req/s; "
        f"duration {duration * 1000:g} ms ({source}); memory {args.memory_mb} MB",
        f"peak concurrency (Little's law, {peak_rate:,.0f} req/s x {duration:g} s): "
        f"{littles_law(peak_rate, duration):,.1f} -> {current.peak_concurrency:,} environments",
        "",
        f"with {args.provisioned:,} provisioned (account limit {args.account_limit:,}):",
        f"  cold starts {current.cold_starts:,} ({current.cold_start_share:.3%} of requests), "
        f"throttled {current.throttled:,.0f} requests",
    ]
    lines += _timeline(current, args.timeline)
    lines.append("")
    planned = simulate(rates, duration, best, args.account_limit)
    lines.append(
        f"smallest provisioned concurrency with cold starts <= {args.target_cold_share:.3%}: {best:,} "
        f"(cold starts {planned.cold_starts:,}, throttled {planned.throttled:,.0f})"
    )
    if planned.throttled:
        lines.append(
            f"  WARNING: {planned.throttled:,.0f} requests are throttled even so: the account limit "
            f"{args.account_limit:,} is below the peak concurrency {planned.peak_concurrency:,}"
        )
    recommended = best
    cost_on_demand = monthly_cost(simulate(rates, duration, 0, args.account_limit), args.memory_mb)
    cost_planned = monthly_cost(simulate(rates, duration, recommended, args.account_limit), args.memory_mb)
    lines += [
        "",
        f"monthly cost at this profile's mean load ({cost_on_demand.requests:,.0f} requests/month; "
        f"{prices.PRICES_REGION} {prices.PRICES_ARCHITECTURE} list prices of {prices.PRICES_AS_OF}, "
        f"{prices.PRICES_SOURCE}):",
        f"  {'on demand only:':<28}${cost_on_demand.on_demand:,.2f}",
        f"  {f'with {recommended:,} provisioned:':<28}${cost_planned.provisioned:,.2f} "
        f"(of which ${cost_planned.provisioned_charge:,.2f} for keeping them warm)",
    ]
    maximum = max(recommended, min(args.account_limit, math.ceil(current.peak_concurrency / args.target_utilization)))
    lines += ["", "stage parameters to paste (custom.provisionedConcurrency in the function's service):", ""]
    lines += _stage_params(args.function, recommended, maximum, args.target_utilization)
    return "\n".join(lines)


def _timeline(simulation: Simulation, seconds: int) -> list[str]:
    busy = [s for s in simulation.seconds if s.cold_starts or s.throttled][:seconds] if seconds else []
    if not busy:
        return []
    lines = ["  second  req/s  concurrency  warm(prov)  warm(on-demand)  cold  throttled"]
    lines += [
        f"  {s.second:>6}  {s.requests:>5,.0f}  {s.concurrency:>11,}  {s.warm_provisioned:>10,}  "
        f"{s.warm_on_demand:>15,}  {s.cold_starts:>4,}  {s.throttled:>9,.0f}"
        for s in busy
    ]
    return lines


def _stage_params(function: str, provisioned: int, maximum: int, target: float) -> list[str]:
    if provisioned == 0:
        return ["  # no provisioned concurrency needed for this profile"]
    lines = ["  provisionedConcurrency:", f"    {function}:", "      stages:"]
    for stage in PRODUCTION_STAGES:
        lines += [
            f"        {stage}:",
            f"          provisioned: {provisioned}",
            f"          min: {provisioned}",
            f"          max: {maximum}",
            f"          targetUtilization: {target:g}",
        ]
    return lines
