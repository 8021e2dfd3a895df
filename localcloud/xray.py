"""X-Ray on the local cloud: a daemon stand-in, the segments AWS services add, and trace assembly.

What AWS does, and what this module does in its place:
- The X-Ray SDK in a function sends its subsegments as UDP datagrams
  (`{"format": "json", "version": 1}\\n<document>`) to `AWS_XRAY_DAEMON_ADDRESS`; the daemon
  batches them to `PutTraceSegments`. `Daemon` listens on a loopback UDP port and forwards every
  document to `PutTraceSegments` on the edge (moto's X-Ray stores them).
- Lambda (Active tracing) writes two segments per invocation, `AWS::Lambda` (the service, parent =
  the caller's `Parent`) and `AWS::Lambda::Function` (its child), and hands the function
  `_X_AMZN_TRACE_ID=Root=..;Parent=<function segment>;Sampled=1`. `Tracing.invocation` does that
  for the runner. With no incoming header (HTTP APIs have no X-Ray) a new trace starts.
- The AWS SDK (patched by the X-Ray SDK) sends `X-Amzn-Trace-Id` on every call. The edge marks the
  request thread with it (`inbound`), and:
  * Step Functions (tracing enabled) continues the caller's trace: one
    `AWS::StepFunctions::StateMachine` segment per execution, one subsegment per task attempt,
    and each Lambda task invoked with `Parent=<that subsegment>`;
  * SNS continues the trace (an `AWS::SNS` segment) and SNS -> SQS carries it in the message's
    `AWSTraceHeader` system attribute;
  * the Lambda SQS poller starts a new trace for the consumer and links it to every record's
    `AWSTraceHeader` (X-Ray "trace linking" for SQS -> Lambda); assembly follows the links.
- The local cloud samples every request (`Sampled=1`); the sampling rules of the templates apply on AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from localcloud import ACCOUNT, REGION

HEADER = {"format": "json", "version": 1}  # the first line of every datagram the SDK sends
_local = threading.local()


# -- trace headers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TraceHeader:
    root: str
    parent: str | None = None
    sampled: bool = True

    @classmethod
    def parse(cls, text: str | None) -> TraceHeader | None:
        if not text:
            return None
        parts = dict(p.strip().split("=", 1) for p in text.split(";") if "=" in p)
        root = parts.get("Root")
        if not root:
            return None
        return cls(root, parts.get("Parent"), parts.get("Sampled", "1") != "0")

    def child(self, parent: str) -> TraceHeader:
        return TraceHeader(self.root, parent, self.sampled)

    def __str__(self) -> str:
        parent = f";Parent={self.parent}" if self.parent else ""
        return f"Root={self.root}{parent};Sampled={1 if self.sampled else 0}"


def new_trace_id(now: float | None = None) -> str:
    return f"1-{int(now or time.time()):08x}-{secrets.token_hex(12)}"


def new_id() -> str:
    return secrets.token_hex(8)


@contextmanager
def inbound(header: str | None) -> Iterator[None]:
    """Mark this request thread with the caller's X-Amzn-Trace-Id (the edge does this per request)."""
    previous = getattr(_local, "inbound", None)
    _local.inbound = TraceHeader.parse(header)
    try:
        yield
    finally:
        _local.inbound = previous


def inbound_header() -> TraceHeader | None:
    header: TraceHeader | None = getattr(_local, "inbound", None)
    return header


# -- the daemon stand-in ------------------------------------------------------------------------
def _is_header(line: bytes) -> bool:
    try:
        return bool(json.loads(line) == HEADER)
    except ValueError:
        return False


class Daemon:
    """UDP listener on loopback collecting segment documents, forwarded to PutTraceSegments on the edge."""

    def __init__(self, edge_url: str, host: str = "127.0.0.1") -> None:
        self.edge_url = edge_url
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((host, 0))
        self.address = f"{host}:{self.socket.getsockname()[1]}"
        self.received = 0
        self.rejected = 0
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._client: Any = None

    def start(self) -> None:
        import boto3

        self._client = boto3.client(
            "xray",
            endpoint_url=self.edge_url,
            region_name=REGION,
            aws_access_key_id="localcloud",
            aws_secret_access_key="localcloud",  # noqa: S106 - the local edge
        )
        for target, name in ((self._listen, "xray-daemon-udp"), (self._forward, "xray-daemon-forward")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def put(self, document: dict[str, Any]) -> None:
        """A segment written by the local cloud itself (the parts AWS services write on AWS)."""
        self._queue.put(json.dumps(document))

    def _listen(self) -> None:
        while True:
            try:
                data = self.socket.recv(65536)
            except OSError:
                return
            header, _, body = data.partition(b"\n")
            if not _is_header(header) or not body:
                self.rejected += 1
                continue
            self.received += 1
            self._queue.put(body.decode())

    def _forward(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 50:  # PutTraceSegments takes batches, as the daemon sends them
                try:
                    item = self._queue.get(timeout=0.05)
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                self._client.put_trace_segments(TraceSegmentDocuments=batch)
            except Exception as exc:  # the edge is stopping; the daemon drops, as AWS's does when unreachable
                print(f"xray daemon: PutTraceSegments failed: {exc}", file=sys.stderr)

    def flush(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # the batch in flight

    def stop(self) -> None:
        self.socket.close()
        self._queue.put(None)


# -- the segments AWS services write --------------------------------------------------------------
@dataclass
class InvocationTrace:
    """What the runner needs for one traced invocation."""

    header: TraceHeader  # for the function (_X_AMZN_TRACE_ID)
    service_id: str
    function_id: str
    parent: str | None
    links: list[TraceHeader]
    started: float


class Tracing:
    """The X-Ray parts of the local cloud: the daemon plus the segments Lambda, Step Functions and SNS write."""

    def __init__(self, edge_url: str) -> None:
        self.daemon = Daemon(edge_url)
        self._executions: dict[str, TraceHeader] = {}
        self._lock = threading.Lock()

    @property
    def daemon_address(self) -> str:
        return self.daemon.address

    def start(self) -> None:
        self.daemon.start()
        _install_moto_hooks(self)

    def stop(self) -> None:
        _uninstall_moto_hooks()
        self.daemon.flush(2.0)
        self.daemon.stop()

    # Lambda ------------------------------------------------------------------------------------
    def begin_invocation(self, event: Any, header: TraceHeader | None = None) -> InvocationTrace:
        incoming = header or inbound_header()
        links = sqs_links(event)
        if incoming is None:
            incoming = TraceHeader(new_trace_id())
        function_id = new_id()
        service_id = new_id()
        return InvocationTrace(
            incoming.child(function_id), service_id, function_id, incoming.parent, links, time.time()
        )

    def end_invocation(
        self,
        trace: InvocationTrace,
        function_name: str,
        *,
        request_id: str,
        error_type: str | None,
        cold_start_ms: float | None,
    ) -> None:
        ended = time.time()
        root = trace.header.root
        service: dict[str, Any] = {
            "name": function_name,
            "id": trace.service_id,
            "trace_id": root,
            "start_time": trace.started,
            "end_time": ended,
            "origin": "AWS::Lambda",
            "aws": {"request_id": request_id, "account_id": ACCOUNT, "region": REGION},
            "http": {"response": {"status": 200}},
        }
        if trace.parent:
            service["parent_id"] = trace.parent
        function: dict[str, Any] = {
            "name": function_name,
            "id": trace.function_id,
            "trace_id": root,
            "parent_id": trace.service_id,
            "start_time": trace.started,
            "end_time": ended,
            "origin": "AWS::Lambda::Function",
            "aws": {"function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"},
            "annotations": {"ColdStart": cold_start_ms is not None},
        }
        if cold_start_ms is not None:
            function["metadata"] = {"localcloud": {"coldStartMs": round(cold_start_ms, 1)}}
        if trace.links:
            function["links"] = [{"trace_id": link.root, "id": link.parent} for link in trace.links]
        if error_type:
            function["fault"] = True
            function["cause"] = {"exceptions": [{"id": new_id(), "type": error_type, "message": error_type}]}
            service["fault"] = True
        self.daemon.put(service)
        self.daemon.put(function)

    # Step Functions ------------------------------------------------------------------------------
    def execution_started(self, execution_arn: str, header: TraceHeader) -> None:
        with self._lock:
            self._executions[execution_arn] = header

    def execution_header(self, execution_arn: str) -> TraceHeader | None:
        with self._lock:
            return self._executions.get(execution_arn)


def sqs_links(event: Any) -> list[TraceHeader]:
    """The AWSTraceHeader of every SQS record of an event source mapping's batch."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return []
    links = []
    for record in event["Records"]:
        if isinstance(record, dict) and record.get("eventSource") == "aws:sqs":
            header = TraceHeader.parse((record.get("attributes") or {}).get("AWSTraceHeader"))
            if header is not None and header.parent:
                links.append(header)
    return links


# -- hooks into moto's Step Functions, SNS and SQS (in the edge's process) ------------------------
_hooks: dict[str, Any] = {}
_running: dict[str, tuple[str, str]] = {}  # execution ARN -> (trace id, its segment id)
_tracing: Tracing | None = None


def _install_moto_hooks(tracing: Tracing) -> None:  # noqa: PLR0915 - six small wrappers, each next to its patch
    global _tracing
    _tracing = tracing
    if _hooks:
        return
    from moto.sns import models as sns_models
    from moto.sqs import models as sqs_models
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.backend import execution_worker

    worker_cls = execution_worker.ExecutionWorker
    _hooks.update(
        start=worker_cls.start,
        logic=worker_cls._execution_logic,
        integration=lambda_eval_utils.execute_lambda_function_integration,
        client_for=lambda_eval_utils.boto_client_for,  # type: ignore[attr-defined]
        publish=sns_models.Topic.publish,
        send=sqs_models.SQSBackend.send_message,
    )

    def start(self: Any) -> None:
        header = inbound_header()
        if header is not None and _tracing is not None:  # StartExecution carried the caller's trace
            _tracing.execution_started(self._evaluation_details.execution_details.arn, header)
        _hooks["start"](self)

    def logic(self: Any) -> None:
        details = self._evaluation_details
        arn = details.execution_details.arn
        header = _tracing.execution_header(arn) if _tracing else None
        if header is None:
            _hooks["logic"](self)
            return
        segment_id = new_id()
        _running[arn] = (header.root, segment_id)  # the interpreter runs states on threads of its own
        started = time.time()
        try:
            _hooks["logic"](self)
        finally:
            _running.pop(arn, None)
            status = str(getattr(self._execution_communication.execution, "exec_status", ""))
            document: dict[str, Any] = {
                "name": details.state_machine_details.name,
                "id": segment_id,
                "trace_id": header.root,
                "start_time": started,
                "end_time": time.time(),
                "origin": "AWS::StepFunctions::StateMachine",
                "aws": {"execution_arn": arn},
                "annotations": {"status": status.rsplit(".", 1)[-1]},
            }
            if header.parent:
                document["parent_id"] = header.parent
            if not status.endswith("SUCCEEDED"):
                document["fault"] = True
            if _tracing is not None:
                _tracing.daemon.put(document)

    def integration(env: Any, parameters: dict[str, Any], region: str, state_credentials: Any) -> None:
        context = env.states.context_object.context_object_data
        execution = _running.get(str((context.get("Execution") or {}).get("Id")))
        if execution is None or _tracing is None:
            _hooks["integration"](env, parameters, region, state_credentials)
            return
        root, segment_id = execution
        state = context.get("State") or {}
        subsegment = {
            "type": "subsegment",
            "name": state.get("Name", "Task"),
            "id": new_id(),
            "trace_id": root,
            "parent_id": segment_id,
            "start_time": time.time(),
            "namespace": "aws",
            "aws": {"operation": "Invoke", "function_name": str(parameters.get("FunctionName", ""))},
            "metadata": {"states": {"retryCount": state.get("RetryCount", 0)}},
        }
        _local.task_header = str(TraceHeader(root, subsegment["id"]))
        try:
            _hooks["integration"](env, parameters, region, state_credentials)
        except Exception as exc:
            subsegment["error"] = True
            subsegment["cause"] = {"exceptions": [{"id": new_id(), "type": type(exc).__name__}]}
            raise
        finally:
            _local.task_header = None
            subsegment["end_time"] = time.time()
            _tracing.daemon.put(subsegment)

    def client_for(*args: Any, **kwargs: Any) -> Any:
        client = _hooks["client_for"](*args, **kwargs)

        def add_header(request: Any, **_: Any) -> None:
            header = getattr(_local, "task_header", None)
            if header:
                request.headers["X-Amzn-Trace-Id"] = header

        client.meta.events.register("before-sign.lambda.Invoke", add_header)
        return client

    def publish(self: Any, *args: Any, **kwargs: Any) -> str:
        header = inbound_header()
        if header is None or _tracing is None:
            return str(_hooks["publish"](self, *args, **kwargs))
        segment = {
            "name": self.name,
            "id": new_id(),
            "trace_id": header.root,
            "start_time": time.time(),
            "origin": "AWS::SNS",
            "aws": {"operation": "Publish", "topic_arn": self.arn},
        }
        if header.parent:
            segment["parent_id"] = header.parent
        _local.outbound = header.child(segment["id"])
        try:
            return str(_hooks["publish"](self, *args, **kwargs))
        finally:
            _local.outbound = None
            segment["end_time"] = time.time()
            _tracing.daemon.put(segment)

    def send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        outbound = getattr(_local, "outbound", None)
        if outbound is not None and not kwargs.get("system_attributes"):
            kwargs["system_attributes"] = {"AWSTraceHeader": {"StringValue": str(outbound), "DataType": "String"}}
        return _hooks["send"](self, *args, **kwargs)

    worker_cls.start = start  # type: ignore[method-assign]
    worker_cls._execution_logic = logic  # type: ignore[method-assign]
    lambda_eval_utils.execute_lambda_function_integration = integration
    lambda_eval_utils.boto_client_for = client_for  # type: ignore[attr-defined]
    sns_models.Topic.publish = publish  # type: ignore[method-assign]
    sqs_models.SQSBackend.send_message = send_message  # type: ignore[method-assign]


def _uninstall_moto_hooks() -> None:
    global _tracing
    _tracing = None
    if not _hooks:
        return
    from moto.sns import models as sns_models
    from moto.sqs import models as sqs_models
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.backend import execution_worker

    execution_worker.ExecutionWorker.start = _hooks["start"]  # type: ignore[method-assign]
    execution_worker.ExecutionWorker._execution_logic = _hooks["logic"]  # type: ignore[method-assign]
    lambda_eval_utils.execute_lambda_function_integration = _hooks["integration"]
    lambda_eval_utils.boto_client_for = _hooks["client_for"]  # type: ignore[attr-defined]
    sns_models.Topic.publish = _hooks["publish"]  # type: ignore[method-assign]
    sqs_models.SQSBackend.send_message = _hooks["send"]  # type: ignore[method-assign]
    _hooks.clear()


# -- reading traces back (X-Ray API on the edge) and assembling them ----------------------------
@dataclass
class Node:
    doc: dict[str, Any]
    children: list[Node] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def start(self) -> float:
        return float(self.doc.get("start_time", 0.0))

    @property
    def end(self) -> float:
        return float(self.doc.get("end_time") or self.start)

    @property
    def kind(self) -> str:
        """AWS::Lambda, AWS::Lambda::Function, AWS::StepFunctions::StateMachine, AWS::SNS, aws/remote call, local."""
        if "origin" in self.doc:
            return str(self.doc["origin"])
        return str(self.doc.get("namespace") or "local")


@dataclass
class Trace:
    trace_id: str
    roots: list[Node]
    nodes: dict[str, Node]
    orphans: list[Node]  # a parent_id that no document of the trace has

    @property
    def start(self) -> float:
        return min((n.start for n in self.nodes.values()), default=0.0)

    @property
    def end(self) -> float:
        return max((n.end for n in self.nodes.values()), default=0.0)

    def annotations(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for node in self.nodes.values():
            found.update(node.doc.get("annotations") or {})
        return found

    def links(self) -> list[tuple[str, str]]:
        return [
            (str(link["trace_id"]), str(link.get("id")))
            for node in self.nodes.values()
            for link in node.doc.get("links") or []
        ]


def assemble(trace_id: str, documents: list[dict[str, Any]]) -> Trace:
    """Segments and subsegments (embedded or sent alone) into one tree by id / parent_id."""
    nodes: dict[str, Node] = {}

    def add(doc: dict[str, Any], parent: str | None) -> None:
        embedded = doc.get("subsegments") or []
        own = {k: v for k, v in doc.items() if k != "subsegments"}
        if parent is not None:
            own.setdefault("parent_id", parent)
        current = nodes.get(own["id"])
        if current is None or (current.doc.get("in_progress") and not own.get("in_progress")):
            nodes[own["id"]] = Node(own)
        for sub in embedded:
            add(sub, own["id"])

    for doc in documents:
        add(doc, None)
    roots, orphans = [], []
    for node in nodes.values():
        parent_id = node.doc.get("parent_id")
        if parent_id is None:
            roots.append(node)
        elif parent_id in nodes:
            nodes[parent_id].children.append(node)
        else:
            orphans.append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.start)
    roots.sort(key=lambda n: n.start)
    return Trace(trace_id, roots, nodes, orphans)


class TraceStore:
    """The X-Ray API of a running local cloud (GetTraceSummaries + BatchGetTraces)."""

    def __init__(self, edge_url: str) -> None:
        import boto3

        self.client = boto3.client(
            "xray",
            endpoint_url=edge_url,
            region_name=REGION,
            aws_access_key_id="localcloud",
            aws_secret_access_key="localcloud",  # noqa: S106 - the local edge
        )

    def trace_ids(self, since_seconds: int = 3600) -> list[str]:
        now = int(time.time())
        # moto compares naive local datetimes strictly: widen by a second on each side
        answer = self.client.get_trace_summaries(StartTime=now - since_seconds - 1, EndTime=now + 2)
        return [s["Id"] for s in answer.get("TraceSummaries", [])]

    def traces(self, trace_ids: list[str]) -> list[Trace]:
        out = []
        for start in range(0, len(trace_ids), 5):  # BatchGetTraces takes 5 ids per call
            answer = self.client.batch_get_traces(TraceIds=trace_ids[start : start + 5])
            for trace in answer.get("Traces", []):
                documents = [json.loads(s["Document"]) for s in trace["Segments"]]
                out.append(assemble(trace["Id"], documents))
        return out

    def recent(self, since_seconds: int = 3600) -> list[Trace]:
        return sorted(self.traces(self.trace_ids(since_seconds)), key=lambda t: t.start)


def booking_traces(traces: list[Trace], booking_id: str) -> list[Trace]:
    """The trace(s) annotated with the booking id, then the traces linked to them (SQS consumers)."""
    found = [t for t in traces if _has_annotation(t, "bookingId", booking_id)]
    ids = {t.trace_id for t in found}
    linked = [t for t in traces if t.trace_id not in ids and any(root in ids for root, _ in t.links())]
    return found + linked


def _has_annotation(trace: Trace, key: str, value: str) -> bool:
    return any((n.doc.get("annotations") or {}).get(key) == value for n in trace.nodes.values())


# -- printing -------------------------------------------------------------------------------------
def _label(node: Node) -> str:
    doc = node.doc
    kind = node.kind
    name = str(doc.get("name", "?"))
    aws = doc.get("aws") or {}
    if kind == "aws":
        operation = aws.get("operation", "")
        target = aws.get("table_name") or aws.get("topic_arn", "").rsplit(":", 1)[-1] or aws.get("function_name")
        target = target or aws.get("queue_url", "").rsplit("/", 1)[-1] or aws.get("state_machine_arn", "")
        label = f"{name} {operation}" + (f" {target}" if target else "")
    elif kind.startswith("AWS::"):
        label = f"{kind} {name}"
    else:
        label = name
    flags = [f for f in ("fault", "error", "throttle") if doc.get(f)]
    raised = [e.get("type") for e in (doc.get("cause") or {}).get("exceptions", []) if isinstance(e, dict)]
    flags += [str(t) for t in raised if t][:1]
    annotations = {k: v for k, v in (doc.get("annotations") or {}).items() if k != "ColdStart"}
    if (doc.get("annotations") or {}).get("ColdStart"):
        flags.append("cold start")
    extra = " ".join(f"{k}={v}" for k, v in sorted(annotations.items()))
    return label + (f" [{', '.join(flags)}]" if flags else "") + (f"  {extra}" if extra else "")


def render(trace: Trace, origin: float | None = None, link: str | None = None) -> list[str]:
    """One line per segment: offset from the start, duration, what it is; children indented."""
    base = trace.start if origin is None else origin
    heading = f"trace {trace.trace_id}  {(trace.end - trace.start) * 1000:.0f} ms"
    lines = [heading + (f"  (linked from {link})" if link else "")]

    def walk(node: Node, depth: int) -> None:
        offset = (node.start - base) * 1000
        duration = (node.end - node.start) * 1000
        lines.append(f"  {offset:8.1f} ms {duration:8.1f} ms  {'  ' * depth}{_label(node)}")
        for child in node.children:
            walk(child, depth + 1)

    for root in trace.roots + trace.orphans:
        walk(root, 0)
    return lines


def render_booking(traces: list[Trace], booking_id: str) -> list[str]:
    chosen = booking_traces(traces, booking_id)
    if not chosen:
        return [f"no trace annotated with bookingId={booking_id} in the last hour"]
    origin = chosen[0].start
    lines = [f"booking {booking_id}"]
    own = {t.trace_id for t in chosen}
    for index, trace in enumerate(chosen):
        linked = next((root for root, _ in trace.links() if root in own), None) if index else None
        lines += render(trace, origin, linked)
    return lines


def render_list(traces: list[Trace]) -> list[str]:
    lines = [f"{'started (UTC)':19}  {'ms':>7}  {'entry':40}  annotations"]
    for trace in traces:
        entry = next((r for r in trace.roots if r.kind == "AWS::Lambda"), trace.roots[0] if trace.roots else None)
        name = str(entry.doc.get("name")) if entry else "?"
        found = {k: v for k, v in trace.annotations().items() if k in ("bookingId", "outcome", "flightId")}
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(trace.start))
        extra = " ".join(f"{k}={v}" for k, v in sorted(found.items()))
        lines.append(f"{started:19}  {(trace.end - trace.start) * 1000:7.0f}  {name:40}  {extra}")
    return lines


def map_edges(traces: list[Trace]) -> Counter[tuple[str, str]]:
    """Edges between services (Lambda functions, workflow, topics, tables, queues) with call counts."""
    edges: Counter[tuple[str, str]] = Counter()
    everywhere = {node_id: (trace, node) for trace in traces for node_id, node in trace.nodes.items()}

    def service_of(node: Node, nodes: dict[str, Node]) -> str:
        current: Node | None = node
        while current is not None:
            if current.kind.startswith("AWS::") and current.kind != "AWS::Lambda":
                return f"{current.kind.removeprefix('AWS::')} {current.doc.get('name')}"
            parent_id = current.doc.get("parent_id")
            current = nodes.get(parent_id) if parent_id else None
        return "client"

    for trace in traces:
        for node in trace.nodes.values():
            parent_id = node.doc.get("parent_id")
            parent = trace.nodes.get(parent_id) if parent_id else None
            if node.kind == "AWS::Lambda" or node.kind in ("AWS::StepFunctions::StateMachine", "AWS::SNS"):
                source = service_of(parent, trace.nodes) if parent else "client"
                target = f"{node.kind.removeprefix('AWS::')} {node.doc.get('name')}"
                if node.kind == "AWS::Lambda":
                    target = f"Lambda::Function {node.doc.get('name')}"
                edges[(source, target)] += 1
            elif node.kind == "aws" and parent is not None:
                aws = node.doc.get("aws") or {}
                resource = aws.get("table_name") or aws.get("queue_url", "").rsplit("/", 1)[-1]
                if resource:
                    edges[(service_of(parent, trace.nodes), f"{node.doc.get('name')} {resource}")] += 1
        for _, span in trace.links():
            consumer = next((r for r in trace.roots if r.kind == "AWS::Lambda"), None)
            producer = everywhere.get(span)
            if consumer is not None:
                source = service_of(producer[1], producer[0].nodes) if producer else "unknown producer"
                edges[(f"{source} -> SQS (linked)", f"Lambda::Function {consumer.doc.get('name')}")] += 1
    return edges


def service_map(traces: list[Trace]) -> list[str]:
    edges = map_edges(traces)
    width = max((len(a) for a, _ in edges), default=10)
    return [f"{a:{width}} -> {b}  x{n}" for (a, b), n in sorted(edges.items())]


def service_map_dot(traces: list[Trace]) -> list[str]:
    """The same map as Graphviz DOT (`make traces DOT=1 > map.dot; dot -Tsvg map.dot > map.svg`)."""
    lines = ["digraph services {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    for (source, target), count in sorted(map_edges(traces).items()):
        lines.append(f'  "{source}" -> "{target}" [label="{count}"];')
    return [*lines, "}"]


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.xray", description="traces of a running local cloud")
    parser.add_argument("--booking", default="", help="print one booking's trace (and the traces linked to it)")
    parser.add_argument("--map", action="store_true", help="print the service map of recent traces")
    parser.add_argument("--dot", action="store_true", help="print the service map as Graphviz DOT (a picture)")
    parser.add_argument("--minutes", type=int, default=60, help="how far back to look (default 60)")
    parser.add_argument("--endpoint", default=os.environ.get("LOCALCLOUD_EDGE", "http://127.0.0.1:4566"))
    args = parser.parse_args(argv)
    from botocore.exceptions import EndpointConnectionError

    try:
        traces = TraceStore(args.endpoint).recent(args.minutes * 60)
    except EndpointConnectionError:
        print(f"no local cloud at {args.endpoint}: start one with `make local` (or pass --endpoint)", file=sys.stderr)
        return 2
    if args.booking:
        lines = render_booking(traces, args.booking)
    elif args.dot:
        lines = service_map_dot(traces)
    elif args.map:
        lines = service_map(traces)
    else:
        lines = [*render_list(traces), "", "service map:", *service_map(traces)]
    for line in lines:
        out(line)
    return 0 if not args.booking or booking_traces(traces, args.booking) else 1


if __name__ == "__main__":
    raise SystemExit(main())
