"""Canary releases rehearsed on the session's local cloud, under steady booking traffic (issue 10).

Each case releases `createBooking` of the booking stack through the local cloud's deploy path
(`localcloud.release.release`: a copy of the package with a new `RELEASE_ID`, so a new version with the
same code) on a compressed clock, while a few customers keep booking; the timeline is printed
(`pytest -s` shows it). A bad change is a fault rule the cloud puts on the new version before any
traffic moves (`crash`, localcloud/faults.py): through the alias only (the smoke calls of the
pre-traffic hook pass, customers fail), or on every call (the pre-traffic hook sees it).
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from handlers.shared.release_hooks import Answer
from localcloud.packaging import package
from localcloud.release import Timeline, release, touched_package
from tests.e2e.conftest import RunningCloud

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("release")]

CLIENTS = 2
SHIFTED = {  # every function CodeDeploy shifts on the local stage, by service
    "catalog": ["searchFlights", "manageFlights", "reserveSeat", "releaseSeat"],
    "booking": [
        "createBooking",
        "readBookings",
        "cancelBooking",
        "confirmBooking",
        "markBookingCancelled",
        "publishBookingEvent",
    ],
    "payment": ["authorizePayment", "capturePayment", "voidPayment", "refundPayment"],
    "loyalty": ["loyaltyApi", "creditPoints"],
}


@dataclass
class Traffic:
    """Customers booking one after another on a roomy flight; every answer that is not 202 is a failure."""

    cloud: RunningCloud
    flight_id: str
    statuses: Counter[int] = field(default_factory=Counter)
    booked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.sent - self.statuses[202]

    def customer(self, name: str) -> None:
        token = self.cloud.user(name).access
        while not self.stop.is_set():
            answer = requests.post(
                f"{self.cloud.api('booking')}/bookings",
                json={"flightId": self.flight_id, "paymentToken": "tok_visa"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
                timeout=60,
            )
            self.statuses[answer.status_code] += 1
            if answer.status_code == 202:
                self.booked.append(answer.json()["bookingId"])
            else:
                self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            time.sleep(0.25)


def _flight(cloud: RunningCloud) -> str:
    number = f"RL{uuid.uuid4().int % 9000 + 1000}"
    return cloud.add_flight(number, seats=900, to="AMS", days_ahead=50, admin="release-admin")


@pytest.fixture(scope="module")
def flight(cloud: RunningCloud) -> str:
    return _flight(cloud)


@contextmanager
def steady_traffic(cloud: RunningCloud, flight_id: str) -> Iterator[Traffic]:
    """Customers signed in (once per session) and a flight ready; `start` sets them booking (once the
    release's deploy is done: a deploy under load only takes longer), the context's end stops them."""
    traffic = Traffic(cloud, flight_id)
    names = [f"release-customer-{i}" for i in range(CLIENTS)]
    for name in names:
        cloud.user(name)
    traffic.threads = [threading.Thread(target=traffic.customer, args=(name,), daemon=True) for name in names]
    try:
        yield traffic
    finally:
        traffic.stop.set()
        for thread in traffic.threads:
            if thread.is_alive():
                thread.join(timeout=60)
        print(f"customer requests: {traffic.sent} sent, {traffic.failed} failed, by status {dict(traffic.statuses)}")
        for failure in traffic.failures[:5]:
            print(f"  failed: {failure}")


def _release(
    cloud: RunningCloud, traffic: Traffic, tmp_path: Path, *, minute_seconds: float, bad: dict[str, Any] | None
) -> Timeline:
    changed = touched_package(package("booking", "local"), ["createBooking"], tmp_path / "booking")
    lines: list[str] = []
    try:
        timelines = release(
            cloud.gateway_url,
            cloud.edge_url,
            "booking",
            minute_seconds=minute_seconds,
            package_dir=changed,
            bad=bad,
            timeout=180,
            out=lines.append,
            on_deployed=traffic.start,
        )
    finally:
        print("\n".join(lines))
        if bad is not None:  # the rehearsal's fault rules go with it
            requests.delete(f"{cloud.gateway_url}/_localcloud/faults", timeout=10)
    assert len(timelines) == 1, lines
    return timelines[0]


def _settled(cloud: RunningCloud, traffic: Traffic) -> Counter[str]:
    """Each booking the customers got a 202 for, once settled: CONFIRMED, or CANCELLED with its reason."""
    table = cloud.client("dynamodb")
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + 90
    pending = list(traffic.booked)
    while pending and time.monotonic() < deadline:
        still = []
        for booking_id in pending:
            item = table.get_item(TableName="airline-local-bookings", Key={"bookingId": {"S": booking_id}}).get("Item")
            status = item["status"]["S"] if item else "MISSING"
            if status in ("PENDING", "MISSING"):
                still.append(booking_id)
            else:
                outcomes[status if status == "CONFIRMED" else f"{status}:{item.get('cancelReason', {}).get('S')}"] += 1
        pending = still
        if pending:
            time.sleep(0.5)
    if pending:
        outcomes["PENDING"] += len(pending)
    return outcomes


def test_every_shifted_function_answers_its_smoke_cases(cloud: RunningCloud) -> None:
    # Given the smoke cases the pre-traffic hooks send to a new version
    lam = cloud.client("lambda")
    problems = []
    for service, functions in SHIFTED.items():
        smoke = importlib.import_module(f"handlers.{service}.hooks").SMOKE
        assert sorted(smoke) == sorted(functions)
        for function in functions:
            for case in smoke[function]:
                # When the released function (its Live alias) is invoked with them
                answer = lam.invoke(
                    FunctionName=f"airline-{service}-local-{function}:Live", Payload=json.dumps(case.event).encode()
                )
                raw = answer["Payload"].read()
                parsed = Answer(
                    answer.get("FunctionError"), json.loads(raw) if raw else None, answer["ExecutedVersion"]
                )
                # Then a healthy version answers as the case expects
                problems.append(case.problem(parsed))
    assert [p for p in problems if p] == []


def test_a_good_release_completes_with_no_failed_booking(cloud: RunningCloud, flight: str, tmp_path: Path) -> None:
    with steady_traffic(cloud, flight) as traffic:
        timeline = _release(cloud, traffic, tmp_path, minute_seconds=0.5, bad=None)
    assert timeline.status == "Succeeded", timeline.summary()
    assert [w for _, w in timeline.steps] == [0.1, 1.0]  # Canary10Percent5Minutes, as the template says
    assert [(h, s) for _, h, s in timeline.hooks] == [
        ("BeforeAllowTraffic", "InProgress"),
        ("BeforeAllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "InProgress"),
        ("AfterAllowTraffic", "Succeeded"),
    ]
    assert timeline.invocations[timeline.target_version][0] > 0  # the new version served customers
    assert traffic.failed == 0, traffic.statuses
    outcomes = _settled(cloud, traffic)
    assert outcomes == Counter(CONFIRMED=len(traffic.booked)), outcomes  # every booking confirmed


def test_a_bad_release_is_rolled_back_within_its_first_canary_step(
    cloud: RunningCloud, flight: str, tmp_path: Path
) -> None:
    # the new version crashes on every call its alias sends it (the smoke calls on the version pass)
    with steady_traffic(cloud, flight) as traffic:
        timeline = _release(cloud, traffic, tmp_path, minute_seconds=5, bad={"rate": 1.0, "throughAlias": True})
    assert timeline.status == "Stopped", timeline.summary()
    assert "ALARM" in timeline.error
    assert [w for _, w in timeline.steps] == [0.1, 0.0]  # 10 %, then rolled back within it: never 100 %
    assert any(state == "ALARM" for _, _, state in timeline.alarms)
    assert ("BeforeAllowTraffic", "Succeeded") in [(h, s) for _, h, s in timeline.hooks]
    # customers saw failures, only the canary's: every failed request was a call the alias sent the new
    # version, and the new version got the canary's share (10 %: fewer calls than the old one)
    new_calls, new_errors = timeline.invocations[timeline.target_version]
    assert 1 <= traffic.failed <= new_errors <= new_calls, (traffic.statuses, timeline.invocations)
    assert new_calls < timeline.invocations[timeline.current_version][0], timeline.invocations


def test_a_release_whose_pre_traffic_hook_fails_never_receives_traffic(
    cloud: RunningCloud, flight: str, tmp_path: Path
) -> None:
    # the new version crashes on every call: the pre-traffic hook's smoke calls see it
    with steady_traffic(cloud, flight) as traffic:
        timeline = _release(cloud, traffic, tmp_path, minute_seconds=1, bad={"rate": 1.0, "throughAlias": False})
    assert timeline.status == "Failed", timeline.summary()
    assert ("BeforeAllowTraffic", "Failed") in [(h, s) for _, h, s in timeline.hooks]
    assert timeline.steps == []
    assert timeline.invocations[timeline.target_version] == (0.0, 0.0)
    assert traffic.failed == 0, traffic.statuses
