"""The demo: start the local cloud, deploy everything, and walk the customer journey over HTTP.

One line per step, PASS/FAIL with what was observed; steps whose service is not
deployed are "not built yet" (never pretended). Exit status 1 if any step failed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from localcloud.cloud import ROOT, LocalCloud
from localcloud.users import Tokens, sign_in

SEED_FILE = ROOT / "data" / "seed-flights.json"
FINAL = ("CONFIRMED", "CANCELLED")


class StepFailed(Exception):
    pass


class NotBuilt(Exception):
    pass


@dataclass
class Report:
    lines: list[tuple[str, str, str]] = field(default_factory=list)
    out: Callable[[str], None] = print

    def step(self, name: str, action: Callable[[], str]) -> None:
        try:
            observed = action()
            outcome = "PASS"
        except NotBuilt as exc:
            outcome, observed = "NOT BUILT YET", str(exc)
        except Exception as exc:
            outcome, observed = "FAIL", f"{type(exc).__name__}: {exc}"
        self.lines.append((outcome, name, observed))
        self.out(f"{outcome:>13}  {name}: {observed}")

    @property
    def failed(self) -> bool:
        return any(outcome == "FAIL" for outcome, _, _ in self.lines)


class Journey:
    def __init__(self, cloud: LocalCloud, report: Report) -> None:
        self.cloud = cloud
        self.report = report
        self.api = cloud.endpoints()
        self.session = requests.Session()
        self.customer: Tokens | None = None
        self.other: Tokens | None = None
        self.admin: Tokens | None = None
        self.flights: list[dict[str, Any]] = []
        self.confirmed_id: str | None = None

    def url(self, service: str, path: str) -> str:
        if service not in self.api:
            raise NotBuilt(f"the {service} service has no HTTP API deployed")
        return self.api[service] + path

    def call(self, method: str, service: str, path: str, tokens: Tokens | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if tokens is not None:
            headers["Authorization"] = f"Bearer {tokens.access}"
        return self.session.request(method, self.url(service, path), headers=headers, timeout=60, **kwargs)

    # -- steps --------------------------------------------------------------------------------
    def users(self) -> str:
        pool_id, client_id = self.cloud.user_pool()
        edge = self.cloud.edge.url
        run = uuid.uuid4().hex[:6]
        self.customer = sign_in(edge, pool_id, client_id, f"customer-{run}@example.com")
        self.other = sign_in(edge, pool_id, client_id, f"other-{run}@example.com")
        self.admin = sign_in(edge, pool_id, client_id, f"admin-{run}@example.com", admin=True)
        return f"customer, another customer and an Admin signed in on pool {pool_id} (real RS256 tokens)"

    def seed(self) -> str:
        document = json.loads(SEED_FILE.read_text())
        name = "airline-catalog-local-seedFlights"
        if name not in self.cloud.runner.functions:
            raise NotBuilt("no seedFlights function deployed")
        invocation = self.cloud.invoke_event(name, document)
        if invocation.function_error:
            error = invocation.json()
            raise StepFailed(f"seedFlights failed: {error.get('errorType')}: {error.get('errorMessage')}")
        answer = invocation.json()
        if isinstance(answer, dict) and isinstance(answer.get("created"), list):
            return (
                f"seedFlights function: {len(answer['created'])} created, "
                f"{len(answer.get('existing') or [])} already there"
            )
        return f"seedFlights function -> {invocation.payload.decode()[:120]}"

    def search(self) -> str:
        document = json.loads(SEED_FILE.read_text())
        first = document["flights"][0]
        date = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=first["dayOffset"])).isoformat()
        answer = self.call(
            "GET", "catalog", "/flights", self.customer, params={"from": first["from"], "to": first["to"], "date": date}
        )
        if answer.status_code != 200:
            raise StepFailed(f"HTTP {answer.status_code} {answer.text[:200]}")
        self.flights = answer.json().get("flights", [])
        if not self.flights:
            raise StepFailed(f"no flights {first['from']}->{first['to']} on {date}")
        return f"{len(self.flights)} flights {first['from']}->{first['to']} on {date}: " + ", ".join(
            f"{f['flightId']} ({f.get('seatsAvailable')} seats)" for f in self.flights
        )

    def _book(self, flight_id: str, token: str) -> dict[str, Any]:
        answer = self.call(
            "POST",
            "booking",
            "/bookings",
            self.customer,
            json={"flightId": flight_id, "paymentToken": token},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if answer.status_code not in (200, 201, 202):
            raise StepFailed(f"POST /bookings HTTP {answer.status_code} {answer.text[:200]}")
        booking_id = answer.json()["bookingId"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            read = self.call("GET", "booking", f"/bookings/{booking_id}", self.customer)
            if read.status_code == 200 and read.json().get("status") in FINAL:
                booking: dict[str, Any] = read.json()
                return booking
            time.sleep(0.25)
        raise StepFailed(f"booking {booking_id} not final after 90 s")

    def _seats(self, flight_id: str) -> int:
        answer = self.call("GET", "catalog", f"/flights/{flight_id}", self.customer)
        if answer.status_code != 200:
            raise StepFailed(f"GET /flights/{flight_id} HTTP {answer.status_code}")
        return int(answer.json()["seatsAvailable"])

    def book_good_card(self) -> str:
        flight = self.flights[0]["flightId"]
        before = self._seats(flight)
        booking = self._book(flight, "tok_visa")
        if booking["status"] != "CONFIRMED" or not booking.get("bookingReference"):
            raise StepFailed(f"{booking['status']} {booking.get('cancelReason')}")
        after = self._seats(flight)
        if after != before - 1:
            raise StepFailed(f"seats {before} -> {after}, expected one taken")
        self.confirmed_id = booking["bookingId"]
        return f"CONFIRMED, reference {booking['bookingReference']}, seats {before} -> {after}"

    def book_declined_card(self) -> str:
        flight = self.flights[-1]["flightId"]
        before = self._seats(flight)
        booking = self._book(flight, "tok_chargeDeclined")
        after = self._seats(flight)
        if booking["status"] != "CANCELLED" or booking.get("cancelReason") != "PAYMENT_DECLINED":
            raise StepFailed(f"{booking['status']} {booking.get('cancelReason')}")
        if after != before:
            raise StepFailed(f"seats {before} -> {after}: the seat was not released")
        return f"CANCELLED {booking['cancelReason']}, seat released ({before} -> {after})"

    def book_sold_out(self) -> str:
        document = json.loads(SEED_FILE.read_text())
        small = min(document["flights"], key=lambda f: f["seatCapacity"])
        date = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=small["dayOffset"])).strftime("%Y%m%d")
        flight = f"{small['flightNumber']}-{date}"
        seats = self._seats(flight)
        for _ in range(seats):
            taken = self._book(flight, "tok_visa")
            if taken["status"] != "CONFIRMED":
                raise StepFailed(f"filling {flight}: {taken['status']} {taken.get('cancelReason')}")
        booking = self._book(flight, "tok_visa")
        if booking["status"] != "CANCELLED" or booking.get("cancelReason") != "SOLD_OUT":
            raise StepFailed(f"{booking['status']} {booking.get('cancelReason')}")
        return f"{flight}: {seats} seats filled, next booking CANCELLED SOLD_OUT"

    def list_mine(self) -> str:
        answer = self.call("GET", "booking", "/bookings", self.customer)
        if answer.status_code != 200:
            raise StepFailed(f"HTTP {answer.status_code} {answer.text[:200]}")
        bookings = answer.json()["bookings"]
        mine = {b["customerId"] for b in bookings}
        if self.customer is None or mine != {self.customer.sub} or not bookings:
            raise StepFailed(f"customers in my list: {mine}")
        statuses: dict[str, int] = {}
        for b in bookings:
            statuses[b["status"]] = statuses.get(b["status"], 0) + 1
        return f"{len(bookings)} bookings, all mine: {statuses}"

    def loyalty(self) -> str:
        deadline = time.monotonic() + 60
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = self.call("GET", "loyalty", "/loyalty", self.customer)
            if answer.status_code != 200:
                raise StepFailed(f"HTTP {answer.status_code} {answer.text[:200]}")
            body = answer.json()
            if body.get("points", 0) > 0:
                return f"{body['points']} points, tier {body.get('tier')}"
            time.sleep(0.5)
        raise StepFailed(f"no points credited within 60 s: {body}")

    def other_cannot_read(self) -> str:
        if self.confirmed_id is None:
            raise StepFailed("no confirmed booking to look at")
        answer = self.call("GET", "booking", f"/bookings/{self.confirmed_id}", self.other)
        if answer.status_code != 404:
            raise StepFailed(f"HTTP {answer.status_code} {answer.text[:200]}")
        return "404 for another customer's booking"

    def no_token(self) -> str:
        answer = self.call("GET", "catalog", "/flights", None)
        if answer.status_code != 401:
            raise StepFailed(f"HTTP {answer.status_code}")
        return f"401 {answer.text}"

    def walk(self) -> None:
        r = self.report
        r.step("sign up and sign in (customer, other customer, Admin)", self.users)
        r.step("seed flights", self.seed)
        r.step("request without a token is refused", self.no_token)
        r.step("search flights", self.search)
        r.step("book with a good card (tok_visa)", self.book_good_card)
        r.step("book with a declined card (tok_chargeDeclined)", self.book_declined_card)
        r.step("book a sold-out flight", self.book_sold_out)
        r.step("list my bookings", self.list_mine)
        r.step("my loyalty points and tier", self.loyalty)
        r.step("another customer cannot read my booking", self.other_cannot_read)


def run(*, edge_port: int | None = None, out: Callable[[str], None] = print) -> int:
    started = time.perf_counter()
    out("localcloud demo: starting the local cloud (moto edge, runner, gateway) on free ports")
    cloud = LocalCloud(edge_port=edge_port, schedules=False)
    cloud.start()
    try:
        packages = cloud.package_all(progress=out)
        cloud.deploy_all(packages, progress=out)
        out(cloud.deployment.not_emulated_line())
        out(
            f"ready in {time.perf_counter() - started:.1f}s; endpoints: "
            + ", ".join(f"{s} {u}" for s, u in cloud.endpoints().items())
        )
        report = Report(out=out)
        Journey(cloud, report).walk()
        passed = sum(1 for o, _, _ in report.lines if o == "PASS")
        out(
            f"{passed}/{len(report.lines)} steps passed in {time.perf_counter() - started:.1f}s"
            f"{'; function logs in ' + str(cloud.workdir / 'logs') if report.failed else ''}"
        )
        if report.failed:
            cloud.keep_workdir = True  # the function logs stay for a look
        return 1 if report.failed else 0
    finally:
        cloud.stop()
