"""CodeDeploy hooks of the loyalty service's canary releases: its smoke cases (no customer data touched);
the checks are handlers/shared/release_hooks.py."""

from __future__ import annotations

from handlers.shared.release_hooks import SmokeCase, http_event, post_traffic_handler, pre_traffic_handler, sqs_event

SMOKE = {
    "loyaltyApi": [
        SmokeCase(
            "another customer's points without Admin",
            http_event(
                "GET",
                "/loyalty/release-smoke-other",
                "/loyalty/{customerId}",
                path_parameters={"customerId": "release-smoke-other"},
            ),
            status=403,
        )
    ],
    "creditPoints": [SmokeCase("a poison message", sqs_event("not a booking event"), batch_failures=1)],
}

pre_traffic = pre_traffic_handler(SMOKE)
post_traffic = post_traffic_handler(SMOKE)
