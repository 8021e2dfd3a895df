"""End to end over HTTP against the running local cloud (one per session, see conftest)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import RunningCloud, book_until_final, cloud_signing_key

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

SEARCH = "airline-catalog-local-searchFlights"
ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "data" / "seed-flights.json").read_text())


def _claims(cloud: RunningCloud, **overrides: Any) -> dict[str, Any]:
    pool_id, client_id = cloud.pool()
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "iss": f"https://cognito-idp.eu-west-1.amazonaws.com/{pool_id}",
        "client_id": client_id,
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
        "username": "minted",
    }
    claims.update(overrides)
    return claims


@functools.cache
def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cloud_signed(cloud: RunningCloud, claims: dict[str, Any]) -> str:
    """Signed with the local cloud's own key, as its user pool signs."""
    kid, key = cloud_signing_key(cloud)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def _search(cloud: RunningCloud, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    return requests.get(
        f"{cloud.api('catalog')}/flights",
        params={"from": "LHR", "to": "JFK", "date": tomorrow},
        headers=headers,
        timeout=30,
    )


@pytest.fixture(scope="module")
def seeded(cloud: RunningCloud) -> None:
    answer = cloud.client("lambda").invoke(
        FunctionName="airline-catalog-local-seedFlights", Payload=json.dumps(SEED).encode()
    )
    answer["Payload"].read()  # its outcome is checked by test_seed_function_succeeds_as_deployed
    table = cloud.client("dynamodb").scan(TableName="airline-local-flights", Select="COUNT")
    assert table["Count"] >= len(SEED["flights"])


def test_seed_function_succeeds_as_deployed(cloud: RunningCloud, seeded: None) -> None:
    answer = cloud.client("lambda").invoke(
        FunctionName="airline-catalog-local-seedFlights", Payload=json.dumps(SEED).encode()
    )
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    assert payload


def test_deploy_reports_what_it_does_not_emulate(cloud: RunningCloud) -> None:
    line = next(line for line in cloud.output if line.startswith("not emulated locally:"))
    assert "AWS::Synthetics::Canary x" in line
    assert "AWS::CloudWatch::Alarm" not in line  # stored and evaluated (localcloud.metrics)
    assert "AWS::IAM::Role" not in line  # roles are realized (IAM enforced)
    assert any(line.strip().startswith("catalog") and "/catalog" in line for line in cloud.output)


def test_search_flights_with_a_real_token(cloud: RunningCloud, seeded: None) -> None:
    answer = _search(cloud, cloud.user("searcher").access)
    assert answer.status_code == 200, answer.text
    flights = answer.json()["flights"]
    assert {f["flightId"].split("-")[0] for f in flights} >= {"AB1010", "AB1011"}


def test_id_token_and_minted_valid_token_are_accepted(cloud: RunningCloud, seeded: None) -> None:
    assert _search(cloud, cloud.user("searcher").id).status_code == 200
    assert _search(cloud, _cloud_signed(cloud, _claims(cloud))).status_code == 200  # control for the refusals below


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "forged", "expired", "wrong_audience", "wrong_issuer", "wrong_token_use"]
)
def test_bad_tokens_get_401_and_the_handler_never_runs(cloud: RunningCloud, case: str) -> None:
    kid, _ = cloud_signing_key(cloud)
    tokens = {
        "missing": None,
        "garbage": "not-a-jwt",
        "forged": jwt.encode(_claims(cloud), _other_key(), algorithm="RS256", headers={"kid": kid}),
        "expired": _cloud_signed(cloud, _claims(cloud, exp=int(time.time()) - 60)),
        "wrong_audience": _cloud_signed(cloud, _claims(cloud, client_id="another-app")),
        "wrong_issuer": _cloud_signed(
            cloud, _claims(cloud, iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x")
        ),
        "wrong_token_use": _cloud_signed(cloud, _claims(cloud, token_use="refresh")),  # noqa: S106
    }
    before = cloud.invocations(SEARCH)
    answer = _search(cloud, tokens[case])
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}
    assert cloud.invocations(SEARCH) == before


def test_group_claims_reach_the_handler_as_api_gateway_renders_them(cloud: RunningCloud) -> None:
    body: dict[str, Any] = {
        "flightNumber": "AB7777",
        "departureAirportCode": "LHR",
        "arrivalAirportCode": "CDG",
        "departureTime": "2030-01-02T10:00:00Z",
        "arrivalTime": "2030-01-02T11:15:00Z",
        "ticketPrice": {"amount": 9900, "currency": "GBP"},
        "seatCapacity": 10,
    }
    customer = requests.post(
        f"{cloud.api('catalog')}/flights",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {cloud.user('searcher').access}"},
    )
    assert customer.status_code == 403, customer.text
    admin = requests.post(
        f"{cloud.api('catalog')}/flights",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {cloud.user('staff', admin=True).access}"},
    )
    assert admin.status_code in (200, 201), admin.text


def test_unknown_route_is_404(cloud: RunningCloud) -> None:
    answer = requests.get(f"{cloud.api('catalog')}/nowhere", timeout=30)
    assert answer.status_code == 404


def test_sqs_batch_failure_redelivers_only_that_record_then_dlq(cloud: RunningCloud) -> None:
    sqs, dynamodb = cloud.client("sqs"), cloud.client("dynamodb")
    queue = sqs.get_queue_url(QueueName="sqsprobe-queue")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="sqsprobe-dlq")["QueueUrl"]
    run = uuid.uuid4().hex[:8]
    bodies = [f"good-{run}-1", f"poison-{run}", f"good-{run}-2"]
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
    in_dlq: list[str] = []
    deadline = time.monotonic() + 90
    while not in_dlq and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        in_dlq += [m["Body"] for m in messages]
    assert in_dlq == [f"poison-{run}"]

    def deliveries(body: str) -> int:
        item = dynamodb.get_item(TableName="airline-sqsprobe-local-deliveries", Key={"body": {"S": body}})
        return int(item.get("Item", {}).get("deliveries", {}).get("N", "0"))

    assert deliveries(f"poison-{run}") == 2  # maxReceiveCount
    assert deliveries(f"good-{run}-1") == 1
    assert deliveries(f"good-{run}-2") == 1
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_lambda_invoke_api_on_the_edge_answers_errors_in_lambdas_shape(cloud: RunningCloud) -> None:
    client = cloud.client("lambda")
    answer = client.invoke(FunctionName="airline-booking-local-confirmBooking", Payload=b'{"bookingId": 1}')
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert set(error) >= {"errorType", "errorMessage", "stackTrace"}
    queued = client.invoke(FunctionName="sqsprobe-consumer", InvocationType="Event", Payload=b'{"Records": []}')
    assert queued["StatusCode"] == 202
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="no-such-function", Payload=b"{}")


def _book(cloud: RunningCloud, who: str, flight_id: str, card: str) -> dict[str, Any]:
    return book_until_final(cloud.api("booking"), cloud.user(who).access, flight_id, card)


def test_booking_journey_through_gateway_workflow_and_tasks(cloud: RunningCloud, seeded: None) -> None:
    flights = _search(cloud, cloud.user("traveller").access).json()["flights"]
    flight = next(f for f in flights if f["seatsAvailable"] > 10)["flightId"]
    good = _book(cloud, "traveller", flight, "tok_visa")
    assert good["status"] == "CONFIRMED"
    assert good["bookingReference"]
    declined = _book(cloud, "traveller", flight, "tok_chargeDeclined")
    assert (declined["status"], declined["cancelReason"]) == ("CANCELLED", "PAYMENT_DECLINED")
    stranger = requests.get(
        f"{cloud.api('booking')}/bookings/{good['bookingId']}",
        timeout=30,
        headers={"Authorization": f"Bearer {cloud.user('stranger').access}"},
    )
    assert stranger.status_code == 404


def _localcloud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_token_command_prints_a_token_the_gateway_accepts(cloud: RunningCloud, seeded: None) -> None:
    port = cloud.edge_url.rsplit(":", 1)[1]
    done = _localcloud("token", "--port", port, "--email", f"cli-{uuid.uuid4().hex[:6]}@e2e.example.com")
    assert done.returncode == 0, done.stderr
    assert _search(cloud, done.stdout.strip()).status_code == 200


def test_a_second_up_on_the_same_port_fails_clearly(cloud: RunningCloud) -> None:
    port = cloud.edge_url.rsplit(":", 1)[1]
    done = _localcloud("up", "--port", port, "--gateway-port", "0")
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is busy" in done.stderr


def test_deploy_command_updates_a_stack_in_place(cloud: RunningCloud, seeded: None) -> None:
    port = cloud.gateway_url.rsplit(":", 1)[1]
    flights_before = cloud.client("dynamodb").scan(TableName="airline-local-flights", Select="COUNT")["Count"]
    done = _localcloud("deploy", "catalog", "--gateway-port", port)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["stack"] == "catalog"
    assert summary["functions"] == 7  # 5 and the release hooks (pre- and post-traffic)
    assert summary["reloaded"] == []  # nothing changed: warm workers stay
    assert summary["deployments"] == []  # and no new version: nothing for CodeDeploy to shift
    assert cloud.client("dynamodb").scan(TableName="airline-local-flights", Select="COUNT")["Count"] == flights_before
    assert _search(cloud, cloud.user("searcher").access).status_code == 200
    unknown = _localcloud("deploy", "nope", "--gateway-port", port)
    assert unknown.returncode == 1
    assert "no deployed stack 'nope'" in unknown.stdout
