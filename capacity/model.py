"""Lambda's documented scaling rules as a per-second model.

- Little's law: the concurrency a load needs is arrival rate x duration.
- Provisioned environments are warm; a request beyond them needs an on-demand
  environment. An existing on-demand environment is reused (warm); a new one
  starts cold.
- Scaling rate: each function adds at most 1,000 environments every 10 seconds,
  refilled continuously (100 per second) and never banked beyond 1,000
  (https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html).
- The account concurrency limit caps provisioned + on-demand environments
  (provisioned concurrency counts against it).
- A request that finds no environment and cannot get a new one is throttled (429).

On-demand environments are assumed to stay alive for the whole profile (Lambda
keeps idle environments for minutes, not guaranteed): cold starts are a lower
bound when traffic has long gaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from capacity import prices

SCALING_STEP = 1_000  # environments per function ...
SCALING_WINDOW_SECONDS = 10  # ... every 10 seconds
DEFAULT_ACCOUNT_LIMIT = 1_000  # default Regional account concurrency quota


class PlanningError(ValueError):
    """Input the planner cannot plan for; the message says what to fix."""


def littles_law(rate_per_second: float, duration_seconds: float) -> float:
    """Mean number of requests in flight (L = lambda x W)."""
    if rate_per_second < 0 or duration_seconds < 0:
        raise PlanningError("rate and duration must not be negative")
    return rate_per_second * duration_seconds


def concurrency_needed(rate_per_second: float, duration_seconds: float) -> int:
    """Environments a second of this load occupies (Little's law, rounded up)."""
    return math.ceil(littles_law(rate_per_second, duration_seconds) - 1e-9)


@dataclass(frozen=True)
class Second:
    second: int
    requests: float
    concurrency: int
    warm_provisioned: int
    warm_on_demand: int
    cold_starts: int
    throttled: float  # requests


@dataclass(frozen=True)
class Simulation:
    seconds: tuple[Second, ...]
    provisioned: int
    account_limit: int
    duration_seconds: float

    @property
    def requests(self) -> float:
        return sum(s.requests for s in self.seconds)

    @property
    def cold_starts(self) -> int:
        return sum(s.cold_starts for s in self.seconds)

    @property
    def throttled(self) -> float:
        return sum(s.throttled for s in self.seconds)

    @property
    def peak_concurrency(self) -> int:
        return max((s.concurrency for s in self.seconds), default=0)

    @property
    def cold_start_share(self) -> float:
        return self.cold_starts / self.requests if self.requests else 0.0

    @property
    def provisioned_share(self) -> float:
        """Share of busy environment-seconds served by provisioned environments."""
        busy = sum(s.warm_provisioned + s.warm_on_demand + s.cold_starts for s in self.seconds)
        return sum(s.warm_provisioned for s in self.seconds) / busy if busy else 0.0


def _check(provisioned: int, account_limit: int, duration_seconds: float) -> None:
    if provisioned < 0:
        raise PlanningError("provisioned concurrency must not be negative")
    if account_limit < 1:
        raise PlanningError("the account concurrency limit must be at least 1")
    if provisioned > account_limit:
        raise PlanningError(
            f"provisioned concurrency {provisioned} exceeds the account limit {account_limit} it counts against"
        )
    if not duration_seconds > 0:
        raise PlanningError("the function's duration must be positive")


def simulate(
    rates: Sequence[float], duration_seconds: float, provisioned: int, account_limit: int = DEFAULT_ACCOUNT_LIMIT
) -> Simulation:
    """Second by second: who serves the load, how many start cold, how many are throttled."""
    _check(provisioned, account_limit, duration_seconds)
    tokens = float(SCALING_STEP)
    refill = SCALING_STEP / SCALING_WINDOW_SECONDS
    on_demand = 0  # on-demand environments created so far
    out = []
    for second, rate in enumerate(rates):
        if second:
            tokens = min(float(SCALING_STEP), tokens + refill)
        needed = concurrency_needed(rate, duration_seconds)
        from_provisioned = min(needed, provisioned)
        from_existing = min(needed - from_provisioned, on_demand)
        missing = needed - from_provisioned - from_existing
        room = account_limit - provisioned - on_demand
        created = max(0, min(missing, math.floor(tokens), room))
        tokens -= created
        on_demand += created
        unserved = missing - created
        # Each concurrency unit carries rate/needed requests in this second.
        per_unit = rate / needed if needed else 0.0
        out.append(
            Second(
                second=second,
                requests=rate,
                concurrency=needed,
                warm_provisioned=from_provisioned,
                warm_on_demand=from_existing,
                cold_starts=created,
                throttled=unserved * per_unit,
            )
        )
    return Simulation(tuple(out), provisioned, account_limit, duration_seconds)


@dataclass(frozen=True)
class AtOnce:
    """N requests in flight together, each holding its environment until served."""

    requests: int
    warm: int  # served by provisioned environments
    cold_starts: int  # served by new on-demand environments
    cold_at_once: int  # of which the scaling rate allows immediately
    seconds_until_all_started: int  # until the last new environment may start
    over_account_limit: int  # throttled for good (until others finish)


def at_once(requests: int, provisioned: int, account_limit: int = DEFAULT_ACCOUNT_LIMIT) -> AtOnce:
    """The provisioned-concurrency worked example: a burst arriving in one instant.

    With 10,000 requests at once and 7,000 provisioned: 7,000 are served warm and
    3,000 by new on-demand environments (3,000 cold starts); the scaling rate lets
    1,000 of those start at once and the rest within 20 s (throttled, 429, until
    then), all within the account limit if it is at least 10,000.
    """
    if requests < 0:
        raise PlanningError("the number of requests must not be negative")
    _check(provisioned, account_limit, 1.0)
    warm = min(requests, provisioned)
    cold = max(0, min(requests - warm, account_limit - provisioned))
    immediately = min(cold, SCALING_STEP)
    later = cold - immediately
    return AtOnce(
        requests=requests,
        warm=warm,
        cold_starts=cold,
        cold_at_once=immediately,
        seconds_until_all_started=math.ceil(later / SCALING_STEP) * SCALING_WINDOW_SECONDS,
        over_account_limit=requests - warm - cold,
    )


def smallest_provisioned(
    rates: Sequence[float],
    duration_seconds: float,
    target_cold_share: float,
    account_limit: int = DEFAULT_ACCOUNT_LIMIT,
) -> int:
    """Least provisioned concurrency whose cold-start share is at most the target.

    Cold starts never increase with more provisioned concurrency, so a binary search finds it.
    Provisioned up to the peak (or the account limit) has no cold starts at all, so
    there is always an answer; whether the load is throttled is a separate figure.
    """
    if not 0 <= target_cold_share < 1:
        raise PlanningError("the cold-start target is a share in [0, 1)")
    low, high = 0, min(account_limit, max((concurrency_needed(r, duration_seconds) for r in rates), default=0))
    while low < high:
        middle = (low + high) // 2
        if simulate(rates, duration_seconds, middle, account_limit).cold_start_share <= target_cold_share:
            high = middle
        else:
            low = middle + 1
    return low


@dataclass(frozen=True)
class MonthlyCost:
    requests: float
    on_demand: float
    provisioned: float
    provisioned_charge: float  # the always-on part


def monthly_cost(simulation: Simulation, memory_mb: int) -> MonthlyCost:
    """The profile's mean load for a month, on demand only vs with its provisioned concurrency."""
    if memory_mb < 128 or memory_mb > 10_240:
        raise PlanningError("memory must be between 128 and 10240 MB")
    if not simulation.seconds:
        raise PlanningError("the profile is empty")
    gb = memory_mb / 1024
    mean_rate = simulation.requests / len(simulation.seconds)
    requests = mean_rate * prices.SECONDS_PER_MONTH
    request_cost = requests / 1e6 * prices.REQUEST_PRICE_PER_MILLION
    gb_seconds = requests * simulation.duration_seconds * gb
    on_demand = request_cost + gb_seconds * prices.ON_DEMAND_PER_GB_SECOND
    share = simulation.provisioned_share
    charge = simulation.provisioned * gb * prices.SECONDS_PER_MONTH * prices.PROVISIONED_PER_GB_SECOND
    with_provisioned = (
        request_cost
        + charge
        + gb_seconds * share * prices.PROVISIONED_DURATION_PER_GB_SECOND
        + gb_seconds * (1 - share) * prices.ON_DEMAND_PER_GB_SECOND
    )
    return MonthlyCost(requests=requests, on_demand=on_demand, provisioned=with_provisioned, provisioned_charge=charge)
