"""The booking API handlers against moto: start, replay, read, list, cancel, bad input."""

from __future__ import annotations

import json

import pytest

from tests.integration.booking.conftest import BookingWorld, book, call

BOOKINGS = "airline-local-bookings"
IDEMPOTENCY = "airline-local-booking-idempotency"


def _confirm(world: BookingWorld, booking_id: str, payment_id: str = "pay-1") -> None:
    from handlers.booking.tasks import confirm_handler, publish_handler
    from tests.support.events import FakeLambdaContext

    confirm_handler({"bookingId": booking_id, "paymentId": payment_id}, FakeLambdaContext())
    publish_handler({"bookingId": booking_id, "eventType": "BookingConfirmed"}, FakeLambdaContext())


def test_post_writes_a_pending_booking_priced_by_the_catalog_and_starts_its_execution(world: BookingWorld) -> None:
    flight = world.add_flight(price=12050)

    status, body = book(flight)

    assert status == 202
    assert body["status"] == "PENDING"
    booking_id = body["bookingId"]
    status, stored = call("GET", f"/bookings/{booking_id}", route="/bookings/{bookingId}")
    assert status == 200
    assert stored["price"] == {"amount": 12050, "currency": "EUR"}
    assert stored["customerId"] == "customer-1"
    executions = world.executions()
    assert [e["name"] for e in executions] == [booking_id]
    started = world.execution_input(booking_id)
    assert started["amount"] == {"amount": 12050, "currency": "EUR"}
    assert started["paymentToken"] == "tok_visa"
    assert started["customerId"] == "customer-1"


def test_a_price_sent_by_the_client_is_refused_and_nothing_is_written(world: BookingWorld) -> None:
    flight = world.add_flight()
    status, body = call(
        "POST",
        "/bookings",
        body={"flightId": flight, "paymentToken": "tok_visa", "price": {"amount": 1, "currency": "EUR"}},
        headers={"Idempotency-Key": "key-00000001"},
    )
    assert status == 422
    assert body["code"] == "VALIDATION_ERROR"
    assert world.count(BOOKINGS) == 0
    assert world.executions() == []


def test_ten_replays_of_one_key_give_one_booking_and_one_execution(world: BookingWorld) -> None:
    flight = world.add_flight()
    answers = [book(flight, key="replayed-key-1") for _ in range(10)]

    assert {status for status, _ in answers} == {202}
    assert len({body["bookingId"] for _, body in answers}) == 1
    assert world.count(BOOKINGS) == 1
    assert len(world.executions()) == 1


def test_the_same_key_with_another_body_is_refused_never_a_second_booking(world: BookingWorld) -> None:
    flight = world.add_flight("FL-1")
    other = world.add_flight("FL-2")
    assert book(flight, key="reused-key-1")[0] == 202

    status, body = book(other, key="reused-key-1")
    assert (status, body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    status, body = book(flight, key="reused-key-1", payment="tok_chargeDeclined")
    assert (status, body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert world.count(BOOKINGS) == 1
    assert len(world.executions()) == 1


def test_one_key_used_by_two_customers_makes_two_bookings(world: BookingWorld) -> None:
    flight = world.add_flight()
    first = book(flight, key="shared-key-1", customer="alice")[1]["bookingId"]
    second = book(flight, key="shared-key-1", customer="bob")[1]["bookingId"]
    assert first != second
    assert world.count(BOOKINGS) == 2


def test_a_retry_after_the_idempotency_record_is_gone_finds_the_same_booking(world: BookingWorld) -> None:
    # Given a booking whose idempotency record expired (or a crash lost it)
    flight = world.add_flight()
    booking_id = book(flight, key="crash-key-01")[1]["bookingId"]
    for item in world.dynamodb.scan(TableName=IDEMPOTENCY)["Items"]:
        world.dynamodb.delete_item(TableName=IDEMPOTENCY, Key={"id": item["id"]})
    # When the client retries, Then the same booking answers and Step Functions refuses a second run
    status, body = book(flight, key="crash-key-01")
    assert (status, body["bookingId"]) == (202, booking_id)
    assert world.count(BOOKINGS) == 1
    assert len(world.executions()) == 1


def test_unknown_flight_is_404_and_nothing_is_written(world: BookingWorld) -> None:
    status, body = book("FL-missing")
    assert (status, body["code"]) == (404, "FLIGHT_NOT_FOUND")
    assert world.count(BOOKINGS) == 0
    assert world.count(IDEMPOTENCY) == 0
    assert world.executions() == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ({"flightId": "FL-1", "paymentToken": "tok_visa"}, {}, 422, "VALIDATION_ERROR"),
        ({"flightId": "FL-1", "paymentToken": "tok_visa"}, {"Idempotency-Key": "short"}, 422, "VALIDATION_ERROR"),
        (
            {"flightId": "FL-1", "paymentToken": "tok_visa"},
            {"Idempotency-Key": "bad key with spaces"},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {"flightId": "../etc/passwd", "paymentToken": "tok_visa"},
            {"Idempotency-Key": "key-00000001"},
            422,
            "VALIDATION_ERROR",
        ),
        ({"flightId": 123, "paymentToken": "tok_visa"}, {"Idempotency-Key": "key-00000001"}, 422, "VALIDATION_ERROR"),
        (
            {"flightId": "FL-1", "paymentToken": ["tok_visa"]},
            {"Idempotency-Key": "key-00000001"},
            422,
            "VALIDATION_ERROR",
        ),
        ({"flightId": "FL-1", "paymentToken": "visa"}, {"Idempotency-Key": "key-00000001"}, 422, "VALIDATION_ERROR"),
        ({"flightId": "FL-1"}, {"Idempotency-Key": "key-00000001"}, 422, "VALIDATION_ERROR"),
        ("{not json", {"Idempotency-Key": "key-00000001"}, 400, "MALFORMED_REQUEST"),
        ("[1, 2]", {"Idempotency-Key": "key-00000001"}, 400, "MALFORMED_REQUEST"),
        (
            {"flightId": "FL-1", "paymentToken": "tok_visa", "pad": "x" * 20_000},
            {"Idempotency-Key": "key-00000001"},
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx_and_nothing_is_written(
    world: BookingWorld, body: object, headers: dict[str, str], status: int, code: str
) -> None:
    world.add_flight("FL-1")
    got_status, got = call("POST", "/bookings", body=body, headers=headers)
    assert (got_status, got["code"]) == (status, code)
    assert set(got) == {"code", "message", "details"}
    assert world.count(BOOKINGS) == 0
    assert world.count(IDEMPOTENCY) == 0
    assert world.executions() == []


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/bookings", None),
        ("GET", "/bookings", None),
        ("GET", "/bookings/b-1", "/bookings/{bookingId}"),
        ("POST", "/bookings/b-1/cancel", "/bookings/{bookingId}/cancel"),
    ],
)
def test_missing_claims_are_401(world: BookingWorld, method: str, path: str, route: str | None) -> None:
    world.add_flight("FL-1")
    status, body = call(
        method,
        path,
        route=route,
        customer=None,
        body={"flightId": "FL-1", "paymentToken": "tok_visa"},
        headers={"Idempotency-Key": "key-00000001"},
    )
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert world.count(BOOKINGS) == 0


def test_someone_elses_booking_is_404_and_admin_may_read_it(world: BookingWorld) -> None:
    flight = world.add_flight()
    booking_id = book(flight, customer="alice")[1]["bookingId"]

    assert call("GET", f"/bookings/{booking_id}", route="/bookings/{bookingId}", customer="alice")[0] == 200
    status, body = call("GET", f"/bookings/{booking_id}", route="/bookings/{bookingId}", customer="mallory")
    assert (status, body["code"]) == (404, "BOOKING_NOT_FOUND")
    status, body = call(
        "GET", f"/bookings/{booking_id}", route="/bookings/{bookingId}", customer="op", groups=["Admin"]
    )
    assert (status, body["bookingId"]) == (200, booking_id)


def test_a_malformed_booking_id_is_404(world: BookingWorld) -> None:
    status, body = call("GET", "/bookings/%3Cscript%3E", route="/bookings/{bookingId}")
    assert status == 404
    assert body["code"] == "BOOKING_NOT_FOUND"


def test_list_is_mine_only_newest_first_and_paginated_with_an_opaque_token(world: BookingWorld) -> None:
    flight = world.add_flight()
    mine = [book(flight, key=f"list-key-{i:04d}", customer="alice")[1]["bookingId"] for i in range(5)]
    book(flight, key="list-key-other", customer="bob")

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {"limit": "2", **({"nextToken": token} if token else {})}
        status, page = call("GET", "/bookings", customer="alice", query=query)
        assert status == 200
        assert len(page["bookings"]) <= 2
        seen += [b["bookingId"] for b in page["bookings"]]
        pages += 1
        token = page["nextToken"]
        if not token:
            break
    assert sorted(seen) == sorted(mine)
    assert pages >= 3
    assert all(b["customerId"] == "alice" for b in call("GET", "/bookings", customer="alice")[1]["bookings"])


def test_a_token_from_another_customer_or_tampered_is_refused(world: BookingWorld) -> None:
    flight = world.add_flight()
    for i in range(3):
        book(flight, key=f"token-key-{i:04d}", customer="alice")
    token = call("GET", "/bookings", customer="alice", query={"limit": "1"})[1]["nextToken"]
    assert token
    status, body = call("GET", "/bookings", customer="bob", query={"limit": "1", "nextToken": token})
    assert (status, body["code"]) == (400, "MALFORMED_REQUEST")
    status, body = call("GET", "/bookings", customer="alice", query={"nextToken": "!!not-base64"})
    assert status == 400
    status, body = call("GET", "/bookings", customer="alice", query={"limit": "500"})
    assert (status, body["code"]) == (422, "VALIDATION_ERROR")


def test_owner_cancels_a_confirmed_booking_once_through_the_cancellation_workflow(world: BookingWorld) -> None:
    flight = world.add_flight()
    booking_id = book(flight)[1]["bookingId"]
    _confirm(world, booking_id, "pay-42")
    route = "/bookings/{bookingId}/cancel"

    answers = [call("POST", f"/bookings/{booking_id}/cancel", route=route) for _ in range(3)]

    assert {(s, b["status"]) for s, b in answers} == {(202, "CANCELLING")}
    executions = world.executions(world.cancel_workflow_arn)
    assert [e["name"] for e in executions] == [booking_id]
    started = world.execution_input(booking_id, world.cancel_workflow_arn)
    assert started["paymentId"] == "pay-42"
    assert started["flightId"] == flight


def test_cancel_is_refused_for_a_pending_booking_and_hidden_from_others(world: BookingWorld) -> None:
    flight = world.add_flight()
    booking_id = book(flight, customer="alice")[1]["bookingId"]
    route = "/bookings/{bookingId}/cancel"
    status, body = call("POST", f"/bookings/{booking_id}/cancel", route=route, customer="alice")
    assert (status, body["code"]) == (409, "BOOKING_NOT_CANCELLABLE")
    _confirm(world, booking_id)
    status, body = call("POST", f"/bookings/{booking_id}/cancel", route=route, customer="mallory")
    assert (status, body["code"]) == (404, "BOOKING_NOT_FOUND")
    assert world.executions(world.cancel_workflow_arn) == []


def test_unknown_route_is_a_json_404(world: BookingWorld) -> None:
    status, body = call("DELETE", "/bookings")
    assert status == 404
    assert json.dumps(body)


def test_a_workflow_that_cannot_start_is_503_and_a_retry_with_the_key_heals_it(
    world: BookingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from botocore.config import Config

    from handlers.booking import api
    from handlers.booking.dal import StepFunctionsStarter
    from localcloud.edge import free_port

    # Given Step Functions cannot be reached for the first attempt (nothing listens there)
    unreachable = boto3.client(
        "stepfunctions",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    flight = world.add_flight()
    monkeypatch.setattr(api, "starter", lambda: StepFunctionsStarter(unreachable))
    status, body = book(flight, key="heal-key-0001")
    assert (status, body["code"]) == (503, "WORKFLOW_UNAVAILABLE")
    assert world.count(IDEMPOTENCY) == 0  # the failed attempt leaves no record: a retry runs again

    # When the client retries with the same key and Step Functions answers again
    monkeypatch.setattr(api, "starter", StepFunctionsStarter)
    status, body = book(flight, key="heal-key-0001")

    # Then the one booking's one saga starts
    assert status == 202
    assert world.count(BOOKINGS) == 1
    assert [e["name"] for e in world.executions()] == [body["bookingId"]]


def test_the_other_colour_or_a_late_retry_never_starts_a_second_saga(
    world: BookingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.booking.conftest import reset_handler_state

    flight = world.add_flight()
    status, first = book(flight, key="colour-key-01")
    assert status == 202
    # the same request reaches the other colour (its own state machine, the same tables)
    # after the idempotency record is gone
    world.clear_idempotency()
    monkeypatch.setenv("BOOKING_WORKFLOW_ARN", world.workflow_arn.replace("-local-", "-local-green-"))
    reset_handler_state()

    status, again = book(flight, key="colour-key-01")

    assert (status, again["bookingId"]) == (202, first["bookingId"])
    assert [e["name"] for e in world.executions()] == [first["bookingId"]]
    # and with another card, for ever: 409, not a second saga
    status, refused = book(flight, key="colour-key-01", payment="tok_mastercard")
    assert (status, refused["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")


def test_cancel_waits_until_the_confirmation_is_settled(world: BookingWorld) -> None:
    from handlers.booking.tasks import confirm_handler
    from tests.support.events import FakeLambdaContext

    flight = world.add_flight()
    booking_id = book(flight)[1]["bookingId"]
    confirm_handler({"bookingId": booking_id, "paymentId": "pay-1"}, FakeLambdaContext())  # capture still to come

    status, body = call("POST", f"/bookings/{booking_id}/cancel", route="/bookings/{bookingId}/cancel")

    assert (status, body["code"]) == (409, "BOOKING_NOT_CANCELLABLE")
    assert world.executions(world.cancel_workflow_arn) == []


def test_a_table_that_cannot_be_reached_is_503_not_500(world: BookingWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.config import Config

    from handlers.booking import api
    from handlers.booking.dal import DynamoBookingRepository
    from localcloud.edge import free_port

    unreachable = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    monkeypatch.setattr(
        api,
        "repository",
        lambda: DynamoBookingRepository("airline-local-bookings", "airline-local-booking-references", unreachable),
    )

    status, body = call("GET", "/bookings")

    assert (status, body["code"]) == (503, "SERVICE_UNAVAILABLE")
