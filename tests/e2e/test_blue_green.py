"""Blue/green on the local cloud: local-blue and local-green over the `local` data, the router's live
colour served at the public paths, bookings running across a promotion and a rollback.

Guarantees checked from the state of the world (tables, executions, the cloud's invocation counts),
not from what the client was told: 0 failed requests, every booking finished in the colour whose
workflow started it, one ledger entry per confirmed booking and each customer's points exact, the
live colour's consumer only. Refusals: not deployed, already live, unhealthy (incompatible: the
unit tests, tests/unit/bluegreen, where the contract can be changed without re-packaging).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import requests

from bluegreen.cli import package_colours
from bluegreen.logic import COLOUR_SERVICES, ROUTER, Refused, Timeline, promote, rollback, stand_down
from bluegreen.smoke import smoke_checks
from bluegreen.targets import LocalTarget
from localcloud.users import find_pool, sign_in
from tests.e2e.conftest import RunningCloud

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("blue-green")]

CUSTOMERS = 2
PRICE = 10_000  # pence: 100 points per confirmed booking
PER_PHASE = 3  # bookings posted in each phase (blue, green, blue again), at least
DEADLINE = 180
RETRIED = {429, 500, 502, 503, 504}


def _stats(cloud: RunningCloud) -> dict[str, Any]:
    stats: dict[str, Any] = requests.get(f"{cloud.gateway_url}/_localcloud/stats", timeout=30).json()
    return {n: s for n, s in stats.items() if not n.startswith("_")}


def _served(cloud: RunningCloud) -> dict[str, int]:
    return {n: int(s.get("invocations", 0)) for n, s in _stats(cloud).items()}


def _count(served: dict[str, int], colour: str, function: str) -> int:
    return served.get(f"airline-{'booking' if function == 'createBooking' else 'loyalty'}-local-{colour}-{function}", 0)


class Load:
    """Customers booking one after another through the public entry until stopped; every answer kept."""

    def __init__(self, cloud: RunningCloud, flight_id: str, tokens: dict[str, str]) -> None:
        self.cloud, self.flight_id, self.tokens = cloud, flight_id, tokens
        self.posted: dict[str, str] = {}  # bookingId -> customer email
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []  # requests that did not succeed, after a client's retries
        self.retried: list[str] = []  # answers retried (when, status): the machine's throttles
        self.started = time.time()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.customer, args=(email,), daemon=True) for email in tokens]

    def customer(self, email: str) -> None:
        """Books one after another; a 429/5xx is retried with the same Idempotency-Key, as a client does."""
        while not self.stop.is_set():
            headers = {"Authorization": f"Bearer {self.tokens[email]}", "Idempotency-Key": str(uuid.uuid4())}
            for attempt in range(8):
                answer = requests.post(
                    f"{self.cloud.api('booking')}/bookings",
                    json={"flightId": self.flight_id, "paymentToken": "tok_visa"},
                    headers=headers,
                    timeout=60,
                )
                self.statuses[answer.status_code] += 1
                if answer.status_code not in RETRIED:
                    break
                self.retried.append(f"{time.time() - self.started:.1f}s {answer.status_code}")
                time.sleep(min(2.0, 0.2 * 2**attempt))
            if answer.status_code == 202:
                self.posted[answer.json()["bookingId"]] = email
            else:
                self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            time.sleep(0.2)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE
        while len(self.posted) < count and time.monotonic() < deadline and not self.failures:
            time.sleep(0.2)


def _flight(cloud: RunningCloud) -> str:
    return cloud.add_flight("BG1234", seats=300, price=PRICE, to="AMS", days_ahead=41, admin="bluegreen-admin")


def _settled(cloud: RunningCloud, booking_ids: set[str]) -> dict[str, dict[str, Any]]:
    dynamodb = cloud.client("dynamodb")
    out = {}
    for booking_id in booking_ids:
        item = dynamodb.get_item(
            TableName="airline-local-bookings", Key={"bookingId": {"S": booking_id}}, ConsistentRead=True
        ).get("Item")
        if item and (item["status"]["S"] == "CANCELLED" or "settledAt" in item):
            out[booking_id] = item
    return out


def _executions(cloud: RunningCloud, colour: str) -> dict[str, str]:
    """Booking workflow executions of one colour: execution name (the booking id) -> status."""
    sfn = cloud.client("stepfunctions")
    arn = f"arn:aws:states:eu-west-1:123456789012:stateMachine:airline-booking-local-{colour}-workflow"
    found: dict[str, str] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        found |= {e["name"]: e["status"] for e in page["executions"]}
    return found


def _points(cloud: RunningCloud, token: str) -> int:
    answer = requests.get(f"{cloud.api('loyalty')}/loyalty", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["points"])


def test_bookings_keep_running_across_a_promotion_and_a_rollback(cloud: RunningCloud) -> None:  # noqa: PLR0915
    target = LocalTarget(cloud.gateway_url, cloud.edge_url)
    pool, client = find_pool(cloud.edge_url)
    smoke = smoke_checks(lambda: sign_in(cloud.edge_url, pool, client, "smoke@bluegreen.local").access)
    timeline = Timeline()

    def mark(what: str) -> None:
        served = _served(cloud)
        counts = [
            f"{c}: createBooking {_count(served, c, 'createBooking')}, creditPoints {_count(served, c, 'creditPoints')}"
            for c in ("blue", "green")
        ]
        timeline.mark(f"{what}  [{'; '.join(counts)}]")

    # Given the router (no colour live) and blue, packaged from this checkout and deployed on demand
    package_colours(["local-blue", "local-green"])
    target.deploy(ROUTER, "local")
    for service in COLOUR_SERVICES:
        target.deploy(service, "local-blue")
    mark("router (live none) and local-blue deployed")
    try:
        # Refusals: green is not deployed yet
        with pytest.raises(Refused) as refused:
            promote(target, "green", smoke)
        assert refused.value.code == "NOT_DEPLOYED"
        promote(target, "blue", smoke, timeline=timeline)
        with pytest.raises(Refused) as refused:
            promote(target, "blue", smoke)
        assert refused.value.code == "ALREADY_LIVE"
        for service in COLOUR_SERVICES:
            target.deploy(service, "local-green")
        mark("local-green deployed")
        # An unhealthy green (its search crashes) is refused, and nothing moves
        crash: dict[str, Any] = {
            "service": "lambda",
            "function": "airline-catalog-local-green-searchFlights",
            "error": "crash",
            "rate": 1,
        }
        requests.put(f"{cloud.gateway_url}/_localcloud/faults", json=[crash], timeout=10).raise_for_status()
        try:
            with pytest.raises(Refused) as refused:
                promote(target, "green", smoke)
        finally:
            requests.delete(f"{cloud.gateway_url}/_localcloud/faults", timeout=10).raise_for_status()
        assert refused.value.code == "UNHEALTHY"
        assert "catalog" in str(refused.value)
        router = target.stack("airline-router-local")
        assert router is not None
        assert router.outputs["LiveColour"] == "blue"

        # When customers book through the public entry while green is promoted and then rolled back
        flight_id = _flight(cloud)
        tokens = {f"bg{n}@e2e.example.com": cloud.user(f"bg{n}").access for n in range(CUSTOMERS)}
        load = Load(cloud, flight_id, tokens)
        load.started = timeline.started  # retried answers on the timeline's clock
        for thread in load.threads:
            thread.start()
        load.wait_for(PER_PHASE)
        mark(f"{len(load.posted)} bookings posted on blue")
        promote(target, "green", smoke, timeline=timeline)
        mark("promoted to green")
        at_green = _served(cloud)
        posted_at_switch = len(load.posted)
        load.wait_for(posted_at_switch + PER_PHASE)
        mark(f"{len(load.posted)} bookings posted")
        before_rollback = _served(cloud)
        rollback(target, smoke, timeline=timeline)
        mark("rolled back to blue")
        at_blue = _served(cloud)
        load.wait_for(len(load.posted) + PER_PHASE)
        load.stop.set()
        for thread in load.threads:
            thread.join(timeout=90)
        mark(f"load stopped: {len(load.posted)} bookings posted")

        # Then every request succeeded (a 429/5xx retried by the client with the same Idempotency-Key,
        # as the storm's clients do: Lambda throttles of a loaded laptop, printed with their times),
        # with the live colour serving around each switch
        print(f"\nstatuses {dict(load.statuses)}; retried at {load.retried}")
        assert load.failures == []
        assert _count(before_rollback, "green", "createBooking") > _count(at_green, "green", "createBooking")
        assert _count(_served(cloud), "blue", "createBooking") > _count(at_blue, "blue", "createBooking")
        # and blue consumed nothing while green was live (hand-over done when promote returned)
        assert _count(before_rollback, "blue", "creditPoints") == _count(at_green, "blue", "creditPoints")

        # and every booking finished, in the colour whose workflow started it: one execution each
        booking_ids = set(load.posted)
        deadline = time.monotonic() + DEADLINE
        settled = _settled(cloud, booking_ids)
        while len(settled) < len(booking_ids) and time.monotonic() < deadline:
            time.sleep(1)
            settled = _settled(cloud, booking_ids)
        assert set(settled) == booking_ids
        outcomes = Counter(
            b["status"]["S"] + (f":{b['cancelReason']['S']}" if "cancelReason" in b else "") for b in settled.values()
        )
        print(f"\noutcomes: {dict(outcomes)}")
        assert set(outcomes) == {"CONFIRMED"}
        executions = {colour: _executions(cloud, colour) for colour in ("blue", "green")}
        ran_in = Counter(c for c, found in executions.items() for name in found if name in booking_ids)
        assert sum(ran_in.values()) == len(booking_ids)
        assert ran_in["blue"] > 0
        assert ran_in["green"] > 0
        assert {s for found in executions.values() for n, s in found.items() if n in booking_ids} == {"SUCCEEDED"}

        # and the points are exact: one ledger entry per booking, nothing lost, nothing applied twice
        expected = Counter(load.posted[b] for b, item in settled.items() if item["status"]["S"] == "CONFIRMED")
        deadline = time.monotonic() + DEADLINE
        points = {email: _points(cloud, token) for email, token in tokens.items()}
        while any(points[e] != expected[e] * PRICE // 100 for e in tokens) and time.monotonic() < deadline:
            time.sleep(1)
            points = {email: _points(cloud, token) for email, token in tokens.items()}
        mark("every booking settled, points credited")
        assert points == {e: expected[e] * PRICE // 100 for e in tokens}
        ledger = cloud.client("dynamodb")
        entries = [
            ledger.get_item(TableName="airline-local-loyalty-ledger", Key={"bookingId": {"S": b}}).get("Item")
            for b in booking_ids
        ]
        assert all(entries)
        # and who switched what when is on record: the router's SSM parameter history
        log = target.history()
        assert any("promote from blue to green by" in line for line in log)
        assert any("rollback from green to blue by" in line for line in log)
        print("\nblue/green timeline (local cloud):\n" + "\n".join(timeline.lines()))
        print("promotion log (SSM /airline-local/live-colour history):\n  " + "\n  ".join(log))
        print(
            f"bookings: {len(booking_ids)} posted, workflows by colour {dict(ran_in)}, statuses {dict(load.statuses)}"
        )
        throttles = {n: s["throttles"] for n, s in _stats(cloud).items() if s.get("throttles")}
        print(f"throttled invocations by function: {throttles}")
    finally:
        stand_down(target)
        mark("stood down: the public entry serves the colourless local stage again")
