"""The Lambda runner on small hand-written functions (no AWS needed)."""

from __future__ import annotations

import json
import textwrap
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.faults import Faults, parse_spec
from localcloud.runner import FunctionNotFound, FunctionSpec, Runner, Throttled, function_name_of

CODE = textwrap.dedent(
    """
    import os, sys, time
    import layered

    STARTED = time.time()

    def echo(event, context):
        print("a handler's print goes to the log, not into the protocol")
        return {
            "event": event,
            "pid": os.getpid(),
            "function": context.function_name,
            "requestId": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
            "env": {k: os.environ.get(k) for k in ("TABLE", "AWS_ENDPOINT_URL", "POWERTOOLS_TRACE_DISABLED",
                                                  "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME")},
            "layer": layered.VALUE,
            "cwd": os.getcwd(),
        }

    class SeatsGone(Exception):
        pass

    def fail(event, context):
        raise SeatsGone("no seat left on FL-1")

    def slow(event, context):
        time.sleep(event.get("sleep", 5))
        return "done"

    def crash(event, context):
        os._exit(3)

    def not_json(event, context):
        return {1, 2}
    """
)


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in files.items():
            zipped.writestr(name, text)
    return path


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    code = _zip(
        tmp_path / "fn.zip", {"handlers/demo/app.py": CODE, "handlers/__init__.py": "", "handlers/demo/__init__.py": ""}
    )
    layer = _zip(tmp_path / "layer.zip", {"python/layered.py": "VALUE = 'from the layer'\n"})
    broken = _zip(tmp_path / "broken.zip", {"broken.py": "import not_a_module_anywhere\n"})
    r = Runner(tmp_path / "work", "http://127.0.0.1:1", account_limit=2)

    def spec(name: str, handler: str, timeout: float = 3.0, zip_path: Path = code) -> FunctionSpec:
        return FunctionSpec(name, handler, zip_path, [layer], {"TABLE": "airline-local-flights"}, timeout, 256)

    r.register(spec("echo", "handlers/demo/app.echo"))
    r.register(spec("fail", "handlers/demo/app.fail"))
    r.register(spec("slow", "handlers/demo/app.slow", timeout=1.0))
    r.register(spec("crash", "handlers/demo/app.crash"))
    r.register(spec("notjson", "handlers/demo/app.not_json"))
    r.register(spec("broken", "broken.handler", zip_path=broken))
    yield r
    r.stop()


def test_runs_the_handler_with_its_environment_layer_and_a_real_context(runner: Runner) -> None:
    invocation = runner.invoke("echo", {"hello": "world"})
    assert invocation.function_error is None
    body = invocation.json()
    assert body["event"] == {"hello": "world"}
    assert body["function"] == "echo"
    assert body["requestId"] == invocation.request_id
    assert body["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:echo"
    assert body["memory"] == 256
    assert 0 < body["remaining"] <= 3000
    assert body["layer"] == "from the layer"
    assert body["env"] == {
        "TABLE": "airline-local-flights",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": "echo",
    }
    assert body["cwd"].endswith("/task")


def test_workers_stay_warm_and_only_the_first_call_is_a_cold_start(runner: Runner) -> None:
    first = runner.invoke("echo", {})
    second = runner.invoke("arn:aws:lambda:eu-west-1:123456789012:function:echo:Live", {})
    assert first.cold_start_ms is not None
    assert first.cold_start_ms > 0
    assert second.cold_start_ms is None
    assert first.json()["pid"] == second.json()["pid"]
    assert second.json()["arn"].endswith(":function:echo:Live")


def test_parallel_invocations_use_up_to_the_account_limit(runner: Runner) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: runner.invoke("slow", {"sleep": 0.3}), range(4)))
    assert all(r.function_error is None for r in results)
    assert runner.stats()["slow"]["coldStarts"] == 2  # account_limit=2: the other two waited for a warm one


def test_an_exception_is_answered_in_lambdas_error_shape(runner: Runner) -> None:
    invocation = runner.invoke("fail", {})
    assert invocation.function_error == "Unhandled"
    error = invocation.json()
    assert error["errorType"] == "SeatsGone"
    assert error["errorMessage"] == "no seat left on FL-1"
    assert any("in fail" in line for line in error["stackTrace"])
    assert runner.invoke("echo", {}).function_error is None  # the runner keeps serving


def test_timeout_kills_the_worker_and_answers_lambdas_timeout(runner: Runner) -> None:
    invocation = runner.invoke("slow", {"sleep": 10})
    assert invocation.function_error == "Unhandled"
    error = invocation.json()
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    again = runner.invoke("slow", {"sleep": 0})
    assert again.json() == "done"
    assert again.cold_start_ms is not None  # the timed-out sandbox was replaced


def test_a_crashed_worker_is_an_exit_error_and_is_replaced(runner: Runner) -> None:
    invocation = runner.invoke("crash", {})
    assert invocation.json()["errorType"] == "Runtime.ExitError"
    assert runner.invoke("crash", {}).json()["errorType"] == "Runtime.ExitError"


def test_init_and_marshal_errors(runner: Runner) -> None:
    broken = runner.invoke("broken", {})
    assert broken.function_error == "Unhandled"
    assert broken.json()["errorType"] == "Runtime.ImportModuleError"
    assert runner.invoke("notjson", {}).json()["errorType"] == "Runtime.MarshalError"


def test_re_registering_changed_code_reloads_it(runner: Runner, tmp_path: Path) -> None:
    before = runner.invoke("echo", {}).json()["pid"]
    code = _zip(tmp_path / "v2.zip", {"v2.py": "def handler(event, context):\n    return 'v2'\n"})
    changed = runner.register(FunctionSpec("echo", "v2.handler", code, [], {}, 3.0, 128))
    assert changed is True
    after = runner.invoke("echo", {})
    assert after.json() == "v2"
    assert after.cold_start_ms is not None
    assert json.dumps(before)  # the old worker answered before the update


def test_unknown_functions_and_names(tmp_path: Path) -> None:
    assert function_name_of("arn:aws:lambda:eu-west-1:1:function:fn:Live") == "fn"
    assert function_name_of("fn:3") == "fn"
    runner = Runner(tmp_path, "http://x")
    with pytest.raises(FunctionNotFound):
        runner.invoke("nope", {})


def _slow_spec(tmp_path: Path, name: str, reserved: int | None = None) -> FunctionSpec:
    source = "import time\ndef handler(event, context):\n    time.sleep(event)\n"
    code = _zip(tmp_path / f"{name}.zip", {"s.py": source})
    return FunctionSpec(name, "s.handler", code, [], {}, 5.0, 128, reserved_concurrency=reserved)


def test_reserved_concurrency_caps_a_function_and_beyond_the_queue_it_is_throttled(tmp_path: Path) -> None:
    # Given a function with reserved concurrency 1 and no time to wait for room
    runner = Runner(tmp_path / "work", "http://x", account_limit=4, queue_wait=0.2)
    runner.register(_slow_spec(tmp_path, "reserved", reserved=1))
    try:
        # When three invocations arrive at once
        def call(_: int) -> str:
            try:
                runner.invoke("reserved", 1.0)
            except Throttled as exc:
                return exc.reason
            return "ran"

        with ThreadPoolExecutor(3) as pool:
            outcomes = sorted(pool.map(call, range(3)))
        # Then one runs and two get Lambda's TooManyRequestsException (reserved limit)
        assert outcomes == ["ReservedFunctionConcurrentInvocationLimitExceeded"] * 2 + ["ran"]
        assert runner.stats()["reserved"]["throttles"] == 2
        assert runner.stats()["reserved"]["coldStarts"] == 1
    finally:
        runner.stop()


def test_the_account_limit_bounds_live_workers_and_idle_ones_make_room(tmp_path: Path) -> None:
    runner = Runner(tmp_path / "work", "http://x", account_limit=2, max_live=2, queue_wait=10)
    for name in ("a", "b", "c"):
        runner.register(_slow_spec(tmp_path, name))
    try:
        runner.invoke("a", 0)
        runner.invoke("b", 0)
        # a third function needs room: the least recently used idle worker (a's) is stopped
        runner.invoke("c", 0)
        live = {name: s["liveWorkers"] for name, s in runner.stats().items()}
        assert live == {"a": 0, "b": 1, "c": 1}
        # while both are busy, another function's invocation waits in the queue for room
        with ThreadPoolExecutor(3) as pool:
            busy = [pool.submit(runner.invoke, n, 0.5) for n in ("b", "c")]
            waiting = pool.submit(runner.invoke, "a", 0)
            assert waiting.result(timeout=20).function_error is None
            assert all(f.result(timeout=20).function_error is None for f in busy)
        assert sum(s["liveWorkers"] for s in runner.stats().values()) <= 2
    finally:
        runner.stop()


def test_injected_lambda_faults(tmp_path: Path) -> None:
    runner = Runner(tmp_path / "work", "http://x")
    code = _zip(
        tmp_path / "count.zip",
        {"c.py": "CALLS = []\ndef handler(event, context):\n    CALLS.append(1)\n    return len(CALLS)\n"},
    )
    runner.register(FunctionSpec("counted", "c.handler", code, [], {}, 3.0, 128))
    runner.faults = Faults()
    try:
        # a timeout after the handler ran: the caller sees Sandbox.Timedout, the work was done
        runner.faults.set(parse_spec("service=lambda,function=counted,error=Sandbox.Timedout"))
        timed_out = runner.invoke("counted", {})
        assert timed_out.function_error == "Unhandled"
        assert timed_out.json()["errorType"] == "Sandbox.Timedout"
        # a crash: Runtime.ExitError, the handler did not answer
        runner.faults.set(parse_spec("service=lambda,function=counted,error=crash"))
        assert runner.invoke("counted", {}).json()["errorType"] == "Runtime.ExitError"
        # a throttle: TooManyRequestsException before anything runs
        runner.faults.set(parse_spec("service=lambda,operation=Invoke,error=TooManyRequestsException"))
        with pytest.raises(Throttled):
            runner.invoke("counted", {})
        assert runner.faults.describe()["injected"] == {"lambda:Invoke:TooManyRequestsException": 1}
        runner.faults.set([])
        # the timed-out sandbox was replaced (a new process): its first call counts 1 again
        assert runner.invoke("counted", {}).json() == 1
    finally:
        runner.stop()


def test_a_blank_log_line_is_not_shipped_as_an_empty_message() -> None:
    # CloudWatch Logs refuses a log event of length 0 (PutLogEvents would fail for the whole batch)
    from localcloud.function_logs import FunctionLogs

    logs = FunctionLogs("http://127.0.0.1:9", "eu-west-1")
    logs("fn", "stream", b"")
    logs("fn", "stream", b"said something")
    assert [e["message"] for e in logs._pending[("/aws/lambda/fn", "stream")]] == ["said something"]
