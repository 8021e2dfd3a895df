"""Visibility on the local cloud: one booking's trace end to end, and the metrics of a known journey."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

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
