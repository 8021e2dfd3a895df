"""CodeDeploy hooks of the payment service's canary releases: its smoke cases (no customer data touched);
the checks are handlers/shared/release_hooks.py."""

from __future__ import annotations

from handlers.shared.release_hooks import SmokeCase, post_traffic_handler, pre_traffic_handler

_INVALID = frozenset({"InvalidPaymentRequest"})
SMOKE = {
    "authorizePayment": [SmokeCase("authorize nothing", {}, error_types=_INVALID)],
    "capturePayment": [SmokeCase("capture nothing", {}, error_types=_INVALID)],
    "voidPayment": [SmokeCase("void nothing", {}, error_types=_INVALID)],
    "refundPayment": [SmokeCase("refund nothing", {}, error_types=_INVALID)],
}

pre_traffic = pre_traffic_handler(SMOKE)
post_traffic = post_traffic_handler(SMOKE)
