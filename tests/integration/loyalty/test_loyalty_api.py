"""The loyalty API's real handler with API Gateway v2 events, over totals written by the real consumer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.loyalty.booking_events import CONFIRMED, booking_event, record_of
from tests.integration.loyalty.conftest import loyalty_entry
from tests.support.events import FakeLambdaContext, claims_for, http_event, sqs_event

ADMIN = claims_for("admin-1", groups=["Admin"])
ALICE = claims_for("alice")
BOB = claims_for("bob", groups=["Customers"])


def call(event: dict[str, Any]) -> tuple[int, Any]:
    api = loyalty_entry("api")

    response = api.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def mine(claims: dict[str, Any] | None) -> tuple[int, Any]:
    return call(http_event("GET", "/loyalty", claims=claims))


def of(customer_id: str, claims: dict[str, Any] | None) -> tuple[int, Any]:
    return call(
        http_event(
            "GET",
            f"/loyalty/{customer_id}",
            route="/loyalty/{customerId}",
            claims=claims,
            path_parameters={"customerId": customer_id},
        )
    )


def earn(customer: str, *amounts: int) -> None:
    consumer = loyalty_entry("consumer")

    records = [
        record_of(booking_event(CONFIRMED, booking=f"{customer}-{n}", customer=customer, amount=a))
        for n, a in enumerate(amounts)
    ]
    assert consumer.handler(sqs_event(*records), FakeLambdaContext()) == {"batchItemFailures": []}


def test_my_loyalty_is_read_from_my_token(loyalty: Any) -> None:
    earn("alice", 3_000_000, 2_000_000)  # 30,000 + 20,000 points: exactly silver
    earn("bob", 12050)

    assert mine(ALICE) == (200, {"points": 50_000, "tier": "silver", "nextTier": "gold", "pointsToNextTier": 50_000})
    assert mine(BOB) == (200, {"points": 120, "tier": "bronze", "nextTier": "silver", "pointsToNextTier": 49_880})


def test_a_customer_who_never_earned_is_bronze_with_zero_points(loyalty: Any) -> None:
    assert mine(ALICE) == (200, {"points": 0, "tier": "bronze", "nextTier": "silver", "pointsToNextTier": 50_000})


def test_admin_reads_any_customer(loyalty: Any) -> None:
    earn("alice", 10_000_000)  # 100,000 points: gold

    assert of("alice", ADMIN) == (200, {"points": 100_000, "tier": "gold", "nextTier": None, "pointsToNextTier": None})


@pytest.mark.parametrize("target", ["alice", "bob", "nobody-at-all"])
def test_a_customer_cannot_read_any_customer_by_id_not_even_their_own(loyalty: Any, target: str) -> None:
    earn("alice", 12050)

    status, body = of(target, BOB)

    # The by-id route is Admin's: 403 before any lookup, the same for every id, so it reveals nothing.
    assert status == 403
    assert body["code"] == "FORBIDDEN"
    assert set(body) == {"code", "message", "details"}


@pytest.mark.parametrize(
    "event",
    [
        http_event("GET", "/loyalty"),
        http_event("GET", "/loyalty", claims={"token_use": "access"}),
        http_event("GET", "/loyalty/alice", route="/loyalty/{customerId}", path_parameters={"customerId": "alice"}),
    ],
)
def test_a_request_without_verified_claims_is_401(loyalty: Any, event: dict[str, Any]) -> None:
    status, body = call(event)

    assert status == 401
    assert body["code"] == "UNAUTHORIZED"


def test_admin_asking_for_a_malformed_customer_id_gets_422_naming_it(loyalty: Any) -> None:
    status, body = of("al ice!", ADMIN)

    assert status == 422
    assert body["details"] == [{"field": "path.customerId", "issue": "1-128 characters of A-Z a-z 0-9 _ . : -"}]


def test_an_unknown_route_is_404_not_500(loyalty: Any) -> None:
    status, body = call(http_event("GET", "/loyalty/alice/history", claims=ADMIN))

    assert status == 404
    assert body["code"] == "ROUTE_NOT_FOUND"


def test_a_read_is_a_single_get_item_never_a_sum_over_the_ledger(loyalty: Any) -> None:
    earn("alice", 12050, 30_000, 45_000)
    from handlers.shared.aws import client

    calls: list[str] = []
    client("dynamodb").meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    assert mine(ALICE)[1]["points"] == 870
    assert of("alice", ADMIN)[1]["points"] == 870
    assert calls == ["GetItem", "GetItem"]
