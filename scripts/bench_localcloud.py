#!/usr/bin/env python3
"""Benchmarks of the local cloud; prints figures (no assertions).

    .venv/bin/python scripts/bench_localcloud.py [--invokes 1000] [--bookings 96] [--clients 8]
    taskset -c 0,1 .venv/bin/python scripts/bench_localcloud.py    # on 2 cores

1. start -> all endpoints ready (edge + runner + gateway, package (cached) + deploy of every stack);
2. warm invoke overhead of the runner for a trivial function (median, p99): direct, and through
   the Lambda Invoke API on the edge (boto3);
3. cold start of each real function (worker process start + handler module import);
4. confirmed bookings per second through the gateway with N concurrent clients (POST /bookings,
   then GET until CONFIRMED), on a flight with enough seats;
5. the storm: 200 bookings from 20 customers at once on 50 seats, POST /bookings latency (p50,
   p99, time to the 202 including the client's retries of 429/5xx), throughput and outcomes,
   without and with transient faults (--storm-fault-rate; the same rules as tests/e2e/test_storm.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import requests  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from localcloud.deploy import FAKE_CREDENTIALS  # noqa: E402
from localcloud.faults import parse_spec  # noqa: E402
from localcloud.runner import FunctionSpec  # noqa: E402
from localcloud.users import sign_in  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def trivial_function(cloud: LocalCloud, folder: Path) -> str:
    code = folder / "trivial.zip"
    with zipfile.ZipFile(code, "w") as zipped:
        zipped.writestr("trivial.py", "def handler(event, context):\n    return event\n")
    cloud.runner.register(FunctionSpec("bench-trivial", "trivial.handler", code, [], {}, 3.0, 128))
    return "bench-trivial"


def bench_invokes(cloud: LocalCloud, name: str, count: int) -> None:
    cloud.runner.invoke(name, {})
    direct = [cloud.runner.invoke(name, {"n": i}).duration_ms for i in range(count)]
    client = boto3.client(
        "lambda",
        endpoint_url=cloud.edge.url,
        region_name="eu-west-1",
        **FAKE_CREDENTIALS,
    )
    api = []
    for i in range(count):
        started = time.perf_counter()
        client.invoke(FunctionName=name, Payload=json.dumps({"n": i}).encode())["Payload"].read()
        api.append((time.perf_counter() - started) * 1000)
    print(
        f"warm invoke, runner direct ({count}x): median {statistics.median(direct):.2f} ms, "
        f"p99 {pct(direct, 99):.2f} ms"
    )
    print(
        f"warm invoke, Lambda Invoke API on the edge via boto3 ({count}x): median {statistics.median(api):.2f} ms, "
        f"p99 {pct(api, 99):.2f} ms"
    )


def bench_cold_starts(cloud: LocalCloud) -> None:
    print("cold start per real function (process start + handler import; median of 3):")
    for name in cloud.runner.names():
        if name.startswith("bench-") or name.startswith("sqsprobe"):
            continue
        runs = [cloud.runner.cold_start(name) for _ in range(3)]
        total = statistics.median(r[0] for r in runs)
        init = statistics.median(r[1] for r in runs)
        print(f"  {name:<45} {total:7.0f} ms (init {init:.0f} ms)")


def _add_flight(catalog: str, admin_token: str, number: str, *, seats: int, days: int, to: str, hours: int) -> str:
    """A flight as an Admin creates it (POST /flights, GBP 100.00 from LHR); its id."""
    departure = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=days)
    created = requests.post(
        f"{catalog}/flights",
        timeout=30,
        headers={"Authorization": f"Bearer {admin_token}"},
        json={
            "flightNumber": number,
            "departureAirportCode": "LHR",
            "arrivalAirportCode": to,
            "departureTime": departure.isoformat(),
            "arrivalTime": (departure + dt.timedelta(hours=hours)).isoformat(),
            "ticketPrice": {"amount": 10000, "currency": "GBP"},
            "seatCapacity": seats,
        },
    )
    created.raise_for_status()
    return str(created.json()["flightId"])


def bench_bookings(cloud: LocalCloud, total: int, clients: int) -> None:
    pool_id, client_id = cloud.user_pool()
    run = uuid.uuid4().hex[:6]
    admin = sign_in(cloud.edge.url, pool_id, client_id, f"bench-admin-{run}@example.com", admin=True)
    users = [sign_in(cloud.edge.url, pool_id, client_id, f"bench-{run}-{i}@example.com") for i in range(clients)]
    catalog, booking = cloud.endpoints()["catalog"], cloud.endpoints()["booking"]
    flight_id = _add_flight(catalog, admin.access, "AB4242", seats=total + 10, days=30, to="JFK", hours=8)

    def one(i: int) -> tuple[str, float]:
        tokens = users[i % clients]
        headers = {"Authorization": f"Bearer {tokens.access}"}
        started = time.perf_counter()
        answer = requests.post(
            f"{booking}/bookings",
            json={"flightId": flight_id, "paymentToken": "tok_visa"},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        )
        answer.raise_for_status()
        booking_id = answer.json()["bookingId"]
        while True:
            read = requests.get(f"{booking}/bookings/{booking_id}", headers=headers, timeout=60).json()
            if read["status"] in ("CONFIRMED", "CANCELLED"):
                return read["status"], (time.perf_counter() - started) * 1000
            time.sleep(0.1)

    one(0)  # warm the path once
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        results = list(executor.map(one, range(total)))
    elapsed = time.perf_counter() - started
    confirmed = [ms for status, ms in results if status == "CONFIRMED"]
    print(
        f"bookings through the gateway, {clients} concurrent clients: {len(confirmed)}/{total} CONFIRMED in "
        f"{elapsed:.1f}s = {len(confirmed) / elapsed:.2f} confirmed bookings/s; POST->CONFIRMED median "
        f"{statistics.median(confirmed):.0f} ms, p99 {pct(confirmed, 99):.0f} ms"
    )


# -- start to ready as a user sees it (`python -m localcloud up`), fresh clone and cached -------
def _up_until_ready(tree: Path, *extra: str, timeout: float = 600) -> float:
    """Seconds from launching `python -m localcloud up` in `tree` to its "ready" line (then stopped)."""
    import signal
    import subprocess

    from localcloud.edge import free_port

    started = time.perf_counter()
    command = [sys.executable, "-m", "localcloud", "up", "--port", str(free_port()), "--gateway-port", "0", *extra]
    process = subprocess.Popen(command, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if line.startswith("ready in"):
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                break
        tail = "".join(seen[-15:])
        raise RuntimeError(f"`localcloud up` in {tree} did not get ready (exit {process.poll()}):\n{tail}")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=600)  # its worker folders are deleted after the ports and state are freed
        process.stdout.close()


def _fresh_clone(folder: Path, revision: str = "HEAD") -> Path:
    """A clone of a committed revision with the installed node_modules and .venv linked in (setup excluded)."""
    import subprocess

    tree = folder / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", revision], check=True)
    for shared in ("node_modules", ".venv"):
        (tree / shared).symlink_to((ROOT / shared).resolve())
    return tree


def _load() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_start_to_ready(jobs_tried: list[int], baseline: str | None) -> None:
    """Fresh clone (nothing packaged, no requirements cache) per packaging parallelism, then cached, then a
    restart with its state restored; the baseline revision's `up` (sequential packaging, no state) beside it."""
    if baseline:
        with tempfile.TemporaryDirectory(prefix="bench-start-") as folder:
            tree = _fresh_clone(Path(folder), baseline)
            fresh, cached = _up_until_ready(tree), _up_until_ready(tree)
        print(
            f"start -> ready, baseline {baseline[:10]}: fresh clone {fresh:.1f}s, cached {cached:.1f}s "
            f"(load average {_load()})"
        )
    for jobs in jobs_tried:
        with tempfile.TemporaryDirectory(prefix="bench-start-") as folder:
            tree = _fresh_clone(Path(folder))
            state = ("--state-dir", str(tree / ".localcloud" / "state"))
            fresh = _up_until_ready(tree, "--package-jobs", str(jobs), *state, "--reset")
            cached = _up_until_ready(tree, "--package-jobs", str(jobs), *state, "--reset")
            restored = _up_until_ready(tree, "--package-jobs", str(jobs), *state)
        print(
            f"start -> ready (`localcloud up`, {jobs} stacks packaged at once): fresh clone {fresh:.1f}s, "
            f"cached {cached:.1f}s, restart with state restored {restored:.1f}s (load average {_load()})"
        )


def bench_storm(cloud: LocalCloud, fault_rate: float) -> None:
    from collections import Counter

    pool_id, client_id = cloud.user_pool()
    run = uuid.uuid4().hex[:6]
    admin = sign_in(cloud.edge.url, pool_id, client_id, f"storm-admin-{run}@example.com", admin=True)
    customers = [sign_in(cloud.edge.url, pool_id, client_id, f"storm-{run}-{i}@example.com") for i in range(20)]
    catalog, booking = cloud.endpoints()["catalog"], cloud.endpoints()["booking"]
    bookings_table = boto3.client("dynamodb", endpoint_url=cloud.edge.url, region_name="eu-west-1", **FAKE_CREDENTIALS)
    for label, rate in (("no faults", 0.0), (f"faults at rate {fault_rate}", fault_rate)):
        flight_id = _add_flight(catalog, admin.access, "ST4242", seats=50, days=45, to="CDG", hours=1)
        if rate:
            cloud.edge.faults.set(parse_spec(storm_faults(rate)))
        posts: list[float] = []
        ids: list[str] = []

        def customer(tokens: Any, flight_id: str = flight_id, posts: list[float] = posts, ids: list[str] = ids) -> None:
            for _ in range(10):
                headers = {"Authorization": f"Bearer {tokens.access}", "Idempotency-Key": str(uuid.uuid4())}
                started = time.perf_counter()
                for attempt in range(12):
                    answer = requests.post(
                        f"{booking}/bookings",
                        json={"flightId": flight_id, "paymentToken": "tok_visa"},
                        headers=headers,
                        timeout=60,
                    )
                    if answer.status_code not in (429, 500, 502, 503, 504):
                        break
                    time.sleep(min(2.0, 0.1 * 2**attempt))
                if answer.status_code == 202:
                    posts.append((time.perf_counter() - started) * 1000)
                    ids.append(answer.json()["bookingId"])

        started = time.perf_counter()
        with ThreadPoolExecutor(20) as executor:
            list(executor.map(customer, customers))
        mine = set(ids)
        deadline = time.monotonic() + 300
        while True:
            items = [
                i
                for page in bookings_table.get_paginator("scan").paginate(TableName="airline-local-bookings")
                for i in page["Items"]
                if i["bookingId"]["S"] in mine
            ]
            done = [i for i in items if i["status"]["S"] in ("CONFIRMED", "CANCELLED")]
            if len(done) == len(mine) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        elapsed = time.perf_counter() - started
        injected = cloud.edge.faults.describe()["total"]
        cloud.edge.faults.set([])
        outcomes = Counter(
            i["status"]["S"] + (":" + i["cancelReason"]["S"] if "cancelReason" in i else "") for i in items
        )
        confirmed = outcomes.get("CONFIRMED", 0)
        print(
            f"storm, {label}: 200 POST /bookings from 20 customers on 50 seats: {len(ids)} accepted, POST p50 "
            f"{statistics.median(posts):.0f} ms, p99 {pct(posts, 99):.0f} ms; settled {len(done)} in {elapsed:.1f}s "
            f"= {len(done) / elapsed:.2f} bookings/s ({confirmed / elapsed:.2f} confirmed/s); "
            f"outcomes {dict(sorted(outcomes.items()))}; faults injected {injected}"
        )


def storm_faults(rate: float) -> str:
    return ";".join(
        f"{rule},rate={rate}"
        for rule in (
            "service=dynamodb,operation=TransactWriteItems,error=TransactionConflict",
            "service=dynamodb,error=ThrottlingException",
            "service=dynamodb,error=ProvisionedThroughputExceededException",
            "service=lambda,error=Sandbox.Timedout",
            "service=lambda,error=TooManyRequestsException",
            "service=sns,operation=Publish,error=InternalError",
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=1000)
    parser.add_argument("--bookings", type=int, default=96)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--start-jobs",
        default="1,3",
        help="start -> ready from a fresh clone with these packaging parallelisms (comma-separated; empty: skip)",
    )
    parser.add_argument(
        "--start-baseline", default="f1fb5dc", help="also start -> ready of this revision, side by side (empty: skip)"
    )
    parser.add_argument("--start-only", action="store_true", help="only the start -> ready figures")
    parser.add_argument("--storm-fault-rate", type=float, default=0.03)
    parser.add_argument("--no-storm", action="store_true")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {describe()}")
    if args.start_jobs:
        bench_start_to_ready([int(j) for j in args.start_jobs.split(",")], args.start_baseline or None)
    if args.start_only:
        return 0
    started = time.perf_counter()
    cloud = LocalCloud(edge_port=None, schedules=False)
    cloud.start()
    try:
        packages = cloud.package_all(progress=lambda _: None)
        packaged = time.perf_counter() - started
        cloud.deploy_all(packages, progress=lambda _: None)
        ready = time.perf_counter() - started
        print(
            f"start -> all endpoints ready: {ready:.1f}s (of which packaging, cached: {packaged:.1f}s); "
            f"{len(cloud.runner.names())} functions, APIs: {', '.join(cloud.endpoints())}"
        )
        with tempfile.TemporaryDirectory() as folder:
            bench_invokes(cloud, trivial_function(cloud, Path(folder)), args.invokes)
            bench_cold_starts(cloud)
        if "booking" in cloud.endpoints():
            bench_bookings(cloud, args.bookings, args.clients)
            if not args.no_storm:
                bench_storm(cloud, args.storm_fault_rate)
        else:
            print("bookings per second: the booking service is not deployed")
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
