"""Runs inside one fresh Python process for benchmarks/cold_start.py; prints one result line.

    python -s -P benchmarks/probe.py <input.pickle>

Modes (the input's "mode"):
- function: import the handler module (init) and invoke it once with the event (first
  invocation), as the Lambda runtime does; tracing is on when the environment says so.
- floor: import boto3, create the clients the function created and make the same AWS calls.
- record: like function, untimed, but every AWS call made is written to "record_to" (what
  the floor replays).
- warm: one cold invocation, then each further event timed through the handler, and the
  time spent inside botocore's calls during it (what a bare handler making the same calls
  on the same client would spend; X-Ray's subsegments wrap outside and count as overhead).

Only the standard library is imported before the clock starts, the same in every mode.
"""

import importlib
import json
import os
import pickle
import sys
import time
import uuid
from typing import Any

MARKER = "@@probe "


class Context:
    """What the Lambda runtime passes as `context`."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def trace_header() -> str:
    # The runtime sets a fresh trace header in the environment for every invocation.
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"


def outcome(result: Any) -> str:
    if isinstance(result, dict) and "statusCode" in result:
        return f"HTTP {result['statusCode']}"
    if isinstance(result, dict) and result.get("batchItemFailures"):
        return f"{len(result['batchItemFailures'])} batch failure(s)"
    if isinstance(result, dict) and result.get("status") in ("Succeeded", "Failed"):  # a release hook's report
        return f"hook {result['status']}"
    if isinstance(result, dict) and result.get("ok") is False:
        return f"refused {result.get('code')}"
    return "ok"


def invoke(handler: Any, event: Any, name: str) -> str:
    os.environ["_X_AMZN_TRACE_ID"] = trace_header()
    try:
        return outcome(handler(event, Context(name)))
    except Exception as exc:  # a task's failure is an answer too; the caller decides if it is expected
        return f"raised {type(exc).__name__}"


def load_handler(spec: dict[str, Any]) -> Any:
    module, attribute = spec["handler"].rsplit(".", 1)
    return getattr(importlib.import_module(module.replace("/", ".")), attribute)


def install_recorder(
    calls: list[tuple[int, str, str, dict[str, Any]]], spent: list[float], spent_cpu: list[float]
) -> None:
    """Record every AWS call and the time spent in botocore making it (X-Ray's wrapper sits outside)."""
    import copy

    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls.append((id(self), self.meta.service_model.service_name, operation_name, copy.deepcopy(api_params)))
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return original(self, operation_name, api_params)
        finally:
            spent.append((time.perf_counter() - started) * 1000)
            spent_cpu.append((time.process_time() - cpu) * 1000)

    BaseClient._make_api_call = recording


def replay(calls: list[tuple[int, str, str, dict[str, Any]]], factory: Any) -> list[str]:
    """Make the recorded calls on one client per client the function had; the errors they met."""
    from botocore import xform_name
    from botocore.exceptions import ClientError

    clients: dict[int, Any] = {}
    refused = []
    for client_id, service, operation, params in calls:
        client = clients.get(client_id)
        if client is None:
            client = clients[client_id] = factory(service)
        try:
            getattr(client, xform_name(operation))(**params)
        except ClientError as exc:  # a replayed conditional write is refused: the same round trip, another answer
            refused.append(f"{operation}:{exc.response['Error']['Code']}")
    return refused


def main() -> None:
    with open(sys.argv[1], "rb") as source:
        spec = pickle.load(source)  # noqa: S301 (written by benchmarks/cold_start.py for this process)
    mode = spec["mode"]
    name = spec["function_name"]
    answer: dict[str, Any] = {}
    if mode == "function":
        cpu, started = time.process_time(), time.perf_counter()
        handler = load_handler(spec)
        imported = time.perf_counter()
        answer["outcome"] = invoke(handler, spec["event"], name)
        done, cpu = time.perf_counter(), time.process_time() - cpu
        answer.update(init=(imported - started) * 1000, invoke=(done - imported) * 1000, cpu=cpu * 1000)
    elif mode == "floor":
        cpu, started = time.process_time(), time.perf_counter()
        import boto3

        imported = time.perf_counter()
        refused = replay(spec["calls"], boto3.client)
        done, cpu = time.perf_counter(), time.process_time() - cpu
        answer.update(init=(imported - started) * 1000, invoke=(done - imported) * 1000, cpu=cpu * 1000)
        answer["refused"] = refused
    elif mode == "record":
        calls: list[tuple[int, str, str, dict[str, Any]]] = []
        install_recorder(calls, [], [])
        answer["outcome"] = invoke(load_handler(spec), spec["event"], name)
        with open(spec["record_to"], "wb") as sink:
            pickle.dump(calls, sink)
        answer["calls"] = [f"{service}:{operation}" for _, service, operation, _ in calls]
    elif mode == "warm":
        calls = []
        spent: list[float] = []
        spent_cpu: list[float] = []
        install_recorder(calls, spent, spent_cpu)
        handler = load_handler(spec)
        events = spec["events"]
        answer["outcome"] = invoke(handler, events[0], name)
        handler_ms, calls_ms, handler_cpu, calls_cpu = [], [], [], []
        for event in events[1:]:
            spent.clear()
            spent_cpu.clear()
            started, cpu = time.perf_counter(), time.process_time()
            invoke(handler, event, name)
            handler_ms.append((time.perf_counter() - started) * 1000)
            handler_cpu.append((time.process_time() - cpu) * 1000)
            calls_ms.append(sum(spent))
            calls_cpu.append(sum(spent_cpu))
        answer.update(handler=handler_ms, calls=calls_ms, handler_cpu=handler_cpu, calls_cpu=calls_cpu)
    print(MARKER + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
