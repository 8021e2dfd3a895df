"""CodeDeploy hooks of the booking service's canary releases: its smoke cases (no customer data touched);
the checks are handlers/shared/release_hooks.py."""

from __future__ import annotations

from handlers.shared.release_hooks import SmokeCase, http_event, post_traffic_handler, pre_traffic_handler

_MISSING = "release-smoke-missing"
_TASK_INPUT = frozenset({"InvalidTaskInput"})
SMOKE = {
    "createBooking": [
        SmokeCase("book without an Idempotency-Key", http_event("POST", "/bookings", "/bookings", body={}), status=422)
    ],
    "readBookings": [
        SmokeCase(
            "read an unknown booking",
            http_event(
                "GET", f"/bookings/{_MISSING}", "/bookings/{bookingId}", path_parameters={"bookingId": _MISSING}
            ),
            status=404,
        )
    ],
    "cancelBooking": [
        SmokeCase(
            "cancel an unknown booking",
            http_event(
                "POST",
                f"/bookings/{_MISSING}/cancel",
                "/bookings/{bookingId}/cancel",
                path_parameters={"bookingId": _MISSING},
            ),
            status=404,
        )
    ],
    "confirmBooking": [SmokeCase("confirm nothing", {}, error_types=_TASK_INPUT)],
    "markBookingCancelled": [SmokeCase("cancel nothing", {}, error_types=_TASK_INPUT)],
    "publishBookingEvent": [SmokeCase("publish nothing", {}, error_types=_TASK_INPUT)],
}

pre_traffic = pre_traffic_handler(SMOKE)
post_traffic = post_traffic_handler(SMOKE)
