"""CodeDeploy hooks of the catalog service's canary releases: its smoke cases (no customer data touched);
the checks are handlers/shared/release_hooks.py."""

from __future__ import annotations

from handlers.shared.release_hooks import SmokeCase, http_event, post_traffic_handler, pre_traffic_handler

SMOKE = {
    "searchFlights": [SmokeCase("search without a route", http_event("GET", "/flights", "/flights"), status=422)],
    "manageFlights": [
        SmokeCase(
            "create an empty flight", http_event("POST", "/flights", "/flights", body={}, groups=["Admin"]), status=422
        )
    ],
    "reserveSeat": [SmokeCase("reserve nothing", {}, error_types=frozenset({"InvalidSeatRequest"}))],
    "releaseSeat": [SmokeCase("release nothing", {}, error_types=frozenset({"InvalidSeatRequest"}))],
}

pre_traffic = pre_traffic_handler(SMOKE)
post_traffic = post_traffic_handler(SMOKE)
