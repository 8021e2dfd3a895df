"""The pure parts of the local X-Ray and CloudWatch: headers, trace assembly, EMF, alarm rules."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time

import pytest

from localcloud.metrics import NotEvaluable, _math, decide, emf_metric_data
from localcloud.xray import Daemon, TraceHeader, assemble, map_edges, render, service_map_dot, sqs_links


def test_trace_header_round_trips_and_children_keep_the_root() -> None:
    header = TraceHeader.parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    assert header == TraceHeader("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", True)
    assert (
        str(header.child("aaaaaaaaaaaaaaaa"))
        == "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=aaaaaaaaaaaaaaaa;Sampled=1"
    )
    assert TraceHeader.parse("Parent=53995c3f42cd8ad8") is None
    assert TraceHeader.parse("") is None


def test_sqs_records_give_links_only_when_they_carry_a_trace_header() -> None:
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "attributes": {"AWSTraceHeader": "Root=1-a-b;Parent=p1;Sampled=1"}},
            {"eventSource": "aws:sqs", "attributes": {}},
            {"eventSource": "aws:sns", "attributes": {"AWSTraceHeader": "Root=1-c-d;Parent=p2;Sampled=1"}},
        ]
    }
    assert sqs_links(event) == [TraceHeader("1-a-b", "p1")]
    assert sqs_links({"bookingId": "x"}) == []


def test_assembly_nests_embedded_and_streamed_subsegments_and_reports_orphans() -> None:
    documents = [
        {"id": "s1", "name": "fn", "trace_id": "t", "start_time": 1.0, "end_time": 2.0, "origin": "AWS::Lambda"},
        {
            "id": "f1",
            "parent_id": "s1",
            "name": "fn",
            "trace_id": "t",
            "start_time": 1.0,
            "end_time": 2.0,
            "origin": "AWS::Lambda::Function",
        },
        {
            "type": "subsegment",
            "id": "h1",
            "parent_id": "f1",
            "name": "## handler",
            "trace_id": "t",
            "start_time": 1.2,
            "end_time": 1.9,
            "subsegments": [
                {
                    "id": "d1",
                    "name": "dynamodb",
                    "namespace": "aws",
                    "start_time": 1.3,
                    "end_time": 1.4,
                    "aws": {"operation": "GetItem", "table_name": "bookings"},
                }
            ],
        },
        {"id": "x1", "parent_id": "missing", "name": "lost", "trace_id": "t", "start_time": 1.5, "end_time": 1.6},
    ]
    trace = assemble("t", documents)
    assert [r.id for r in trace.roots] == ["s1"]
    assert [o.id for o in trace.orphans] == ["x1"]
    assert trace.nodes["d1"].doc["parent_id"] == "h1"
    lines = render(trace)
    assert "dynamodb GetItem bookings" in lines[4]
    assert lines[0].startswith("trace t  1000 ms")


def test_an_in_progress_segment_is_replaced_by_its_completed_document() -> None:
    base = {"id": "s", "name": "n", "trace_id": "t", "start_time": 1.0}
    trace = assemble("t", [{**base, "in_progress": True}, {**base, "end_time": 3.0}])
    assert trace.nodes["s"].end == 3.0


def test_the_daemon_accepts_the_sdks_datagrams_and_refuses_others() -> None:
    daemon = Daemon("http://127.0.0.1:9")
    host, port = daemon.address.split(":")
    try:
        import threading

        threading.Thread(target=daemon._listen, daemon=True).start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b'{"format":"json","version":1}\n{"id":"a"}', (host, int(port)))
            sender.sendto(b'{"format":"xml"}\n{"id":"b"}', (host, int(port)))
        deadline = time.monotonic() + 5
        while daemon.received + daemon.rejected < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (daemon.received, daemon.rejected) == (1, 1)
        assert json.loads(daemon._queue.get_nowait() or "") == {"id": "a"}
    finally:
        daemon.socket.close()


def test_emf_documents_become_metric_data_per_dimension_set() -> None:
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Airline/local",
                    "Dimensions": [["service", "reason"]],
                    "Metrics": [{"Name": "BookingCancelled", "Unit": "Count"}],
                }
            ],
        },
        "service": "booking",
        "reason": "SOLD_OUT",
        "BookingCancelled": [1.0, 1.0],
    }
    namespace, entries = emf_metric_data(document) or ("", [])
    assert namespace == "Airline/local"
    assert entries == [
        {
            "MetricName": "BookingCancelled",
            "Dimensions": [{"Name": "service", "Value": "booking"}, {"Name": "reason", "Value": "SOLD_OUT"}],
            "Timestamp": dt.datetime.fromtimestamp(1_700_000_000, dt.UTC),
            "Values": [1.0, 1.0],
            "Counts": [1.0, 1.0],
            "Unit": "Count",
        }
    ]
    assert emf_metric_data({"message": "not a metric"}) is None


@pytest.mark.parametrize(
    ("points", "missing", "expected"),
    [
        ([0.0, 2.0, 3.0], "missing", "ALARM"),  # 2 of 3 breach, 2 needed
        ([0.0, 2.0, None], "missing", "OK"),
        ([None, 2.0, None], "breaching", "ALARM"),
        ([None, None, None], "missing", "INSUFFICIENT_DATA"),
        ([None, None, None], "notBreaching", "OK"),
    ],
)
def test_alarm_state_follows_m_out_of_n_and_missing_data(
    points: list[float | None], missing: str, expected: str
) -> None:
    alarm = {
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "TreatMissingData": missing,
    }
    assert decide(alarm, points)[0] == expected


def test_metric_math_evaluates_arithmetic_and_refuses_functions() -> None:
    assert _math("100 * failed / started", {"failed": 1.0, "started": 4.0}) == 25.0
    assert _math("a + b", {"a": None, "b": None}) is None
    with pytest.raises(NotEvaluable):
        _math("FILL(a, 0)", {"a": 1.0})


def test_the_service_map_follows_sqs_links_back_to_the_producing_topic() -> None:
    producer = assemble(
        "t1",
        [
            {
                "id": "l1",
                "name": "publisher",
                "trace_id": "t1",
                "start_time": 1.0,
                "end_time": 2.0,
                "origin": "AWS::Lambda",
            },
            {
                "id": "f1",
                "parent_id": "l1",
                "name": "publisher",
                "trace_id": "t1",
                "start_time": 1.0,
                "end_time": 2.0,
                "origin": "AWS::Lambda::Function",
            },
            {
                "id": "n1",
                "parent_id": "f1",
                "name": "events",
                "trace_id": "t1",
                "start_time": 1.5,
                "end_time": 1.6,
                "origin": "AWS::SNS",
            },
        ],
    )
    consumer = assemble(
        "t2",
        [
            {
                "id": "l2",
                "name": "consumer",
                "trace_id": "t2",
                "start_time": 3.0,
                "end_time": 4.0,
                "origin": "AWS::Lambda",
            },
            {
                "id": "f2",
                "parent_id": "l2",
                "name": "consumer",
                "trace_id": "t2",
                "start_time": 3.0,
                "end_time": 4.0,
                "origin": "AWS::Lambda::Function",
                "links": [{"trace_id": "t1", "id": "n1"}],
            },
        ],
    )
    edges = map_edges([producer, consumer])
    assert edges[("Lambda::Function publisher", "SNS events")] == 1
    assert edges[("SNS events -> SQS (linked)", "Lambda::Function consumer")] == 1
    assert service_map_dot([producer, consumer])[3] == '  "Lambda::Function publisher" -> "SNS events" [label="1"];'
