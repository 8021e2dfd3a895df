"""The smoke checks of one colour, against its own endpoints (never the public entry).

Each HTTP API refuses a request without a token (the JWT authorizer is in front) and, with a
token, answers its read routes: a flight search, the caller's bookings, the caller's points.
The release stream's CodeDeploy hooks (handlers/<svc>/hooks.py) may reuse these checks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests

READS = {
    "catalog": "/flights?from=LHR&to=JFK&date={tomorrow}",
    "booking": "/bookings",
    "loyalty": "/loyalty",
}


def smoke_checks(token: Callable[[], str | None], timeout: float = 30.0) -> Callable[[dict[str, str]], list[str]]:
    """Smoke checks over a colour's endpoints; `token` gives a customer's access token (None: unsigned checks only)."""

    def check(endpoints: dict[str, str]) -> list[str]:
        failures = [f"{service}: no endpoint" for service in READS if service not in endpoints]
        bearer = token()
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        for service, url in sorted(endpoints.items()):
            path = READS.get(service, "/").format(tomorrow=tomorrow)
            try:
                anonymous = requests.get(url + path, timeout=timeout)
                if anonymous.status_code != 401:
                    failures.append(f"{service}: GET {path} without a token answered {anonymous.status_code}, not 401")
                if bearer is not None:
                    signed = requests.get(url + path, headers={"Authorization": f"Bearer {bearer}"}, timeout=timeout)
                    if signed.status_code != 200:
                        failures.append(f"{service}: GET {path} answered {signed.status_code}: {signed.text[:120]}")
            except requests.RequestException as exc:
                failures.append(f"{service}: {url} unreachable ({type(exc).__name__})")
        return failures

    return check
