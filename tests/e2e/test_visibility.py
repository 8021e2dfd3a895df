"""Visibility on the local cloud: one booking's trace end to end, and the metrics of a known journey."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from localcloud.metrics import evaluate_alarms, metric_sums
from localcloud.xray import Trace, TraceStore, booking_traces
from tests.e2e.conftest import RunningCloud
from tests.e2e.test_localcloud import _book, _search, seeded  # noqa: F401 - the module fixture

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]
ROOT = Path(__file__).resolve().parents[2]
HANDLERS = {
    "ReserveSeat": "reserve_handler",
    "AuthorizePayment": "authorize_handler",
    "ConfirmBooking": "confirm_handler",
    "CapturePayment": "capture_handler",
    "PublishBookingConfirmed": "publish_handler",
}


def _traces_of(cloud: RunningCloud, booking_id: str, *, want_linked: bool) -> list[Trace]:
    """The booking's traces once the daemon has forwarded them (and the loyalty consumer's, linked)."""
    store = TraceStore(cloud.edge_url)
    deadline = time.monotonic() + 60
    found: list[Trace] = []
    while time.monotonic() < deadline:
        found = booking_traces(store.recent(600), booking_id)
        consumers = [t for t in found[1:] if any(n.kind == "AWS::Lambda" for n in t.roots)]
        workflow_done = found and any(
            n.kind == "AWS::StepFunctions::StateMachine" and "end_time" in n.doc for n in found[0].nodes.values()
        )
        if workflow_done and (consumers or not want_linked):
            return found
        time.sleep(0.5)
    pytest.fail(f"no complete trace for booking {booking_id}: {[t.trace_id for t in found]}")


def _function_of(node_kind: str, trace: Trace, name_part: str) -> list[str]:
    return [str(n.doc["name"]) for n in trace.nodes.values() if n.kind == node_kind and name_part in n.doc["name"]]


@pytest.mark.usefixtures("seeded")
def test_a_confirmed_booking_is_one_connected_trace_from_the_api_to_loyalty(cloud: RunningCloud) -> None:
    # Given a confirmed booking
    flights = _search(cloud, cloud.user("traced").access).json()["flights"]
    flight = next(f for f in flights if f["seatsAvailable"] > 10)["flightId"]
    booking = _book(cloud, "traced", flight, "tok_visa")
    assert booking["status"] == "CONFIRMED"

    # When its traces are read back through the X-Ray API
    main, *linked = _traces_of(cloud, booking["bookingId"], want_linked=True)

    # Then the API function is the root (HTTP APIs have no X-Ray: Lambda starts the trace) ...
    assert [r.kind for r in main.roots] == ["AWS::Lambda"]
    assert "createBooking" in main.roots[0].doc["name"]
    assert main.orphans == []  # every parent_id names a segment of the trace
    # ... the workflow's segment hangs under createBooking's StartExecution call ...
    workflow = next(n for n in main.nodes.values() if n.kind == "AWS::StepFunctions::StateMachine")
    caller = main.nodes[workflow.doc["parent_id"]]
    assert (caller.doc["name"], caller.doc["aws"]["operation"]) == ("states", "StartExecution")
    # ... each task is a subsegment of the workflow with the function it invoked below it ...
    tasks = {child.doc["name"]: child for child in workflow.children}
    assert set(HANDLERS) <= set(tasks)
    for name, handler in HANDLERS.items():
        invoked = [c for c in tasks[name].children if c.kind == "AWS::Lambda"]
        assert len(invoked) == 1, name
        function = invoked[0].children[0]
        assert function.kind == "AWS::Lambda::Function"
        assert [c.doc["name"] for c in function.children] == [f"## {handler}"]
    # ... DynamoDB calls are recorded with their table, and the annotations find the booking ...
    tables = {n.doc["aws"].get("table_name") for n in main.nodes.values() if n.doc.get("name") == "dynamodb"}
    assert {"airline-local-bookings", "airline-local-flights"} <= tables
    outcomes = {n.doc["annotations"].get("outcome") for n in main.nodes.values() if n.doc.get("annotations")}
    assert "CONFIRMED" in outcomes
    # ... SNS continues the trace under the publish task's Publish call ...
    topic = next(n for n in main.nodes.values() if n.kind == "AWS::SNS")
    assert main.nodes[topic.doc["parent_id"]].doc["aws"]["operation"] == "Publish"
    # ... and the loyalty consumer's trace is linked to it through SQS's AWSTraceHeader
    consumer = next(t for t in linked if _function_of("AWS::Lambda", t, "loyalty"))
    assert (main.trace_id, topic.id) in consumer.links()
    assert any(n.doc.get("annotations", {}).get("outcome") == "CREDITED" for n in consumer.nodes.values())
    assert consumer.orphans == []


@pytest.mark.usefixtures("seeded")
def test_make_traces_prints_the_booking_and_lists_recent_ones(cloud: RunningCloud) -> None:
    flights = _search(cloud, cloud.user("printed").access).json()["flights"]
    flight = next(f for f in flights if f["seatsAvailable"] > 10)["flightId"]
    booking = _book(cloud, "printed", flight, "tok_chargeDeclined")
    _traces_of(cloud, booking["bookingId"], want_linked=False)

    def xray(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "localcloud.xray", "--endpoint", cloud.edge_url, *args]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)

    one = xray("--booking", booking["bookingId"])
    assert one.returncode == 0, one.stderr
    assert f"booking {booking['bookingId']}" in one.stdout
    for expected in (
        "AWS::Lambda",
        "AWS::StepFunctions::StateMachine",
        "AuthorizePayment",
        "dynamodb",
        "PaymentDeclined",
    ):
        assert expected in one.stdout, expected
    listing = xray()
    assert listing.returncode == 0, listing.stderr
    assert booking["bookingId"] in listing.stdout
    assert "service map:" in listing.stdout
    assert "-> StepFunctions::StateMachine" in listing.stdout
    missing = xray("--booking", "no-such-booking")
    assert missing.returncode == 1


def _quiet(cloud: RunningCloud) -> None:
    """No workflow running and the loyalty queue drained: a journey's metrics are its own."""
    states, sqs = cloud.client("stepfunctions"), cloud.client("sqs")
    queue = sqs.get_queue_url(QueueName="airline-local-loyalty-events")["QueueUrl"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        running = [
            e
            for m in states.list_state_machines()["stateMachines"]
            for e in states.list_executions(stateMachineArn=m["stateMachineArn"], statusFilter="RUNNING")["executions"]
        ]
        depth = sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        if not running and all(v == "0" for v in depth.values()):
            return
        time.sleep(0.5)
    pytest.fail("the local cloud did not settle")


def _business(cloud: RunningCloud) -> dict[tuple[str, str], float]:
    return {(m, d): total for _, m, d, total in metric_sums(cloud.edge_url, "Airline/local", minutes=120)}


def _delta(after: dict[tuple[str, str], float], before: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


@pytest.mark.usefixtures("seeded")
def test_business_metrics_of_a_known_journey_have_the_expected_values(cloud: RunningCloud) -> None:
    # Given a quiet cloud and the metrics so far
    _quiet(cloud)
    time.sleep(1.5)  # the shipper's last pass
    before = _business(cloud)
    flights = _search(cloud, cloud.user("counted").access).json()["flights"]
    flight = next(f for f in flights if f["seatsAvailable"] > 10)["flightId"]

    # When one booking is confirmed and one is declined
    assert _book(cloud, "counted", flight, "tok_visa")["status"] == "CONFIRMED"
    assert _book(cloud, "counted", flight, "tok_chargeDeclined")["status"] == "CANCELLED"
    _quiet(cloud)
    points = requests.get(
        f"{cloud.api('loyalty')}/loyalty",
        headers={"Authorization": f"Bearer {cloud.user('counted').access}"},
        timeout=30,
    ).json()["points"]
    deadline = time.monotonic() + 30
    expected = {
        ("BookingStarted", "service=booking"): 2.0,
        ("BookingConfirmed", "service=booking"): 1.0,
        ("BookingFailed", "service=booking"): 1.0,
        ("BookingCancelled", "reason=PAYMENT_DECLINED,service=booking"): 1.0,
        ("PaymentAuthorized", "service=payment"): 1.0,
        ("PaymentCaptured", "service=payment"): 1.0,
        ("PaymentDeclined", "service=payment"): 1.0,
        ("SeatReserved", "service=catalog"): 2.0,
        ("SeatReleased", "service=catalog"): 1.0,
        ("LoyaltyPointsCredited", "service=loyalty"): float(points),
    }
    delta: dict[tuple[str, str], float] = {}
    while time.monotonic() < deadline:
        delta = _delta(_business(cloud), before)
        if delta == expected:
            break
        time.sleep(0.5)

    # Then the CloudWatch metrics on the edge moved by exactly that journey
    assert points > 0
    assert delta == expected


def test_alarms_of_the_templates_are_evaluated_on_the_emitted_metrics(cloud: RunningCloud) -> None:
    # Given the alarm topic delivers to a queue (an operator's subscription)
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    inbox = sqs.create_queue(QueueName="alarm-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":airline-local-alarms"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    names = {a["AlarmName"] for a in cloud.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    expected = {
        "airline-booking-local-task-errors",
        "airline-local-booking-failure-rate",
        "airline-catalog-local-http-5xx-rate",
    }
    assert expected <= names

    # When a task function fails (a bad task input is an unhandled error, as Step Functions would see it)
    answer = cloud.client("lambda").invoke(FunctionName="airline-booking-local-confirmBooking", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    results = {r.name: r for r in evaluate_alarms(cloud.edge_url)}

    # Then its error alarm fires and notifies the topic; alarms on other functions stay OK;
    # percentiles are reported as not evaluated here (moto has none)
    assert results["airline-booking-local-task-errors"].state == "ALARM"
    assert results["airline-catalog-local-searchFlights-errors"].state == "OK"
    assert results["airline-catalog-local-http-latency-p99"].state == "NOT_EVALUATED"
    stored = cloud.client("cloudwatch").describe_alarms(AlarmNames=["airline-booking-local-task-errors"])
    assert stored["MetricAlarms"][0]["StateValue"] == "ALARM"
    notified: set[str] = set()
    for _ in range(5):
        answer = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        notified |= {json.loads(m["Body"])["AlarmName"] for m in answer.get("Messages", [])}
    assert "airline-booking-local-task-errors" in notified
    assert "airline-catalog-local-searchFlights-errors" not in notified


def _canary(cloud: RunningCloud, secret_arn: str) -> subprocess.CompletedProcess[str]:
    pool_id, client_id = cloud.pool()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": cloud.edge_url,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "canary",
        "AWS_SECRET_ACCESS_KEY": "canary",
        "LIVE_ENTRY_PARAMETER": "/airline-local/live-entry/catalog",
        "USER_POOL_ID": pool_id,
        "USER_POOL_CLIENT_ID": client_id,
        "CANARY_USERNAME": "heartbeat@local.canary.airline.invalid",
        "CANARY_SECRET_ARN": secret_arn,
    }
    code = "import json, heartbeat; print(json.dumps(heartbeat.handler({}, None)))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "synthetics",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.usefixtures("seeded")
def test_the_heartbeat_canary_script_signs_in_and_searches_on_the_local_cloud(cloud: RunningCloud) -> None:
    # Given what the platform stack and the release give the canary: a generated password in
    # Secrets Manager (as GenerateSecretString) and the live entry in SSM
    secrets = cloud.client("secretsmanager")
    password = secrets.get_random_password(PasswordLength=32, ExcludeCharacters="\"'`\\/", RequireEachIncludedType=True)
    secret_arn = secrets.create_secret(
        Name=f"airline-local/canary/heartbeat-user-{time.time_ns()}",
        SecretString=json.dumps({"password": password["RandomPassword"]}),
    )["ARN"]
    ssm = cloud.client("ssm")
    ssm.put_parameter(
        Name="/airline-local/live-entry/catalog", Value=cloud.api("catalog"), Type="String", Overwrite=True
    )

    # When it runs twice (the first run creates the synthetic user)
    first, second = _canary(cloud, secret_arn), _canary(cloud, secret_arn)

    # Then both runs sign in and find flights
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1])["flights"] > 0

    # And a broken live entry fails the run (Synthetics records a failed run; its alarm fires)
    ssm.put_parameter(
        Name="/airline-local/live-entry/catalog", Value=cloud.api("nowhere"), Type="String", Overwrite=True
    )
    broken = _canary(cloud, secret_arn)
    assert broken.returncode != 0
    assert "HTTP Error 404" in broken.stderr
