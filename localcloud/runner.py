"""The Lambda runner: each function from its packaged artifact, in warm worker processes.

Layout as Lambda's: the function zip is unpacked into `<workdir>/<fn>/task` (/var/task),
the layer zips into `<workdir>/<fn>/opt` (/opt, so `python/` is on sys.path). A worker is
`python worker.py` (the venv's Python 3.13) with the function's resolved environment, the
edge as AWS_ENDPOINT_URL, fake credentials and, when the cloud turns X-Ray on (`tracing`),
AWS_XRAY_DAEMON_ADDRESS and a `_X_AMZN_TRACE_ID` per invocation (else
POWERTOOLS_TRACE_DISABLED=true). Workers stay warm; up to `max_workers` per function run in parallel.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.xray import Tracing

from localcloud import layers

WORKER = Path(__file__).with_name("worker.py")
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")


@dataclass
class FunctionSpec:
    name: str
    handler: str
    code_zip: Path
    layer_zips: list[Path] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    memory: int = 128
    region: str = "eu-west-1"
    account: str = "123456789012"
    credentials: dict[str, str] = field(default_factory=dict)  # the role's keys (localcloud.iam); none: root

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    def fingerprint(self) -> tuple[Any, ...]:
        zips = [self.code_zip, *self.layer_zips]
        return (
            self.handler,
            tuple((str(z), z.stat().st_mtime_ns, z.stat().st_size) for z in zips),
            tuple(sorted(self.environment.items())),
            self.timeout,
            self.memory,
        )


@dataclass
class Invocation:
    """The outcome of one invoke, as Lambda answers it."""

    payload: bytes
    function_error: str | None = None  # "Unhandled" when the function failed
    request_id: str = ""
    cold_start_ms: float | None = None
    duration_ms: float = 0.0

    def json(self) -> Any:
        return json.loads(self.payload or b"null")


class FunctionNotFound(LookupError):
    pass


def function_name_of(name_or_arn: str) -> str:
    """`fn`, `fn:alias`, `arn:...:function:fn[:qualifier]` -> `fn`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]


class _Worker:
    def __init__(self, spec: FunctionSpec, task: Path, opt: Path, env: dict[str, str], log: IO[bytes]) -> None:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(task), str(opt), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=task,
        )
        try:
            hello = self._read_line(60.0)
        except EOFError:
            hello = None
        if hello is None:
            self.kill()
            raise RuntimeError(f"worker for {spec.name} did not start (see its log)")
        self.init_error = hello.get("initError")
        self.init_ms = float(hello.get("initMs", 0.0))
        self.cold_start_ms = (time.perf_counter() - started) * 1000

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], max(timeout, 0.0))
        if not ready:
            return None
        line = self.process.stdout.readline()
        if not line:
            raise EOFError("the worker exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        return self._read_line(timeout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()


class _Function:
    def __init__(self, spec: FunctionSpec, root: Path) -> None:
        self.spec = spec
        self.root = root
        self.idle: list[_Worker] = []
        self.count = 0
        self.generation = 0
        self.cond = threading.Condition()
        self.cold_starts: list[float] = []
        self.durations: list[float] = []


class Runner:
    def __init__(self, workdir: Path, edge_url: str, *, max_workers: int = 4, region: str = "eu-west-1") -> None:
        self.workdir = workdir
        self.edge_url = edge_url
        self.max_workers = max_workers
        self.region = region
        self.functions: dict[str, _Function] = {}
        self._lock = threading.Lock()
        self.tracing: Tracing | None = None  # X-Ray on (localcloud.xray) when the cloud sets it
        self.observers: list[Callable[[str, bool, float], None]] = []  # (function, failed, ms): AWS/Lambda metrics
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    # -- registration -------------------------------------------------------------------------
    def register(self, spec: FunctionSpec) -> bool:
        """Register or update a function; True when its code or configuration changed."""
        with self._lock:
            current = self.functions.get(spec.name)
            if current is not None and current.spec.fingerprint() == spec.fingerprint():
                return False
            root = self.workdir / "functions" / spec.name / uuid.uuid4().hex[:8]
            _unpack(spec.code_zip, root / "task")
            layers.materialize(spec.layer_zips, root / "opt", self.workdir / "layers")  # one unpack per layer
            entry = _Function(spec, root)
            self.functions[spec.name] = entry
        if current is not None:
            self._retire(current)
        return True

    def _retire(self, entry: _Function) -> None:
        with entry.cond:
            entry.generation += 1
            idle, entry.idle = entry.idle, []
            entry.count -= len(idle)
        for worker in idle:
            worker.kill()
        shutil.rmtree(entry.root, ignore_errors=True)

    def names(self) -> list[str]:
        return sorted(self.functions)

    def spec(self, name_or_arn: str) -> FunctionSpec:
        return self._entry(name_or_arn).spec

    def _entry(self, name_or_arn: str) -> _Function:
        entry = self.functions.get(function_name_of(name_or_arn))
        if entry is None:
            raise FunctionNotFound(name_or_arn)
        return entry

    # -- invocation -----------------------------------------------------------------------------
    def _environment(self, spec: FunctionSpec, task: Path, opt: Path) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update(spec.environment)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.edge_url,
                "AWS_ACCESS_KEY_ID": "localcloud",
                "AWS_SECRET_ACCESS_KEY": "localcloud",
                "AWS_SESSION_TOKEN": "localcloud",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "LAMBDA_TASK_ROOT": str(task),
                "LAMBDA_RUNTIME_DIR": str(opt),
                "_HANDLER": spec.handler,
                "TZ": "UTC",
            }
        )
        env.update(spec.credentials)  # the function's role (localcloud.iam), as Lambda provides it
        if self.tracing is None:
            env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon
        else:
            env.update(AWS_XRAY_DAEMON_ADDRESS=self.tracing.daemon_address, AWS_XRAY_CONTEXT_MISSING="LOG_ERROR")
        return env

    def _acquire(self, entry: _Function) -> tuple[_Worker, bool]:
        with entry.cond:
            while True:
                if entry.idle:
                    return entry.idle.pop(), False
                if entry.count < self.max_workers:
                    entry.count += 1
                    break
                entry.cond.wait()
        try:
            task, opt = entry.root / "task", entry.root / "opt"
            log = (self.workdir / "logs" / f"{entry.spec.name}.log").open("ab")
            worker = _Worker(entry.spec, task, opt, self._environment(entry.spec, task, opt), log)
            log.close()
        except BaseException:
            with entry.cond:
                entry.count -= 1
                entry.cond.notify()
            raise
        with entry.cond:
            entry.cold_starts.append(worker.cold_start_ms)
        return worker, True

    def _release(self, entry: _Function, worker: _Worker, generation: int, keep: bool) -> None:
        with entry.cond:
            if keep and worker.alive() and generation == entry.generation:
                entry.idle.append(worker)
                entry.cond.notify()
                return
            if generation == entry.generation:
                entry.count -= 1
            entry.cond.notify()
        worker.kill()

    def invoke(self, name_or_arn: str, event: Any, *, invoked_arn: str | None = None) -> Invocation:
        entry = self._entry(name_or_arn)
        spec = entry.spec
        generation = entry.generation
        request_id = str(uuid.uuid4())
        trace = self.tracing.begin_invocation(event) if self.tracing is not None else None
        worker, cold = self._acquire(entry)
        started = time.perf_counter()
        deadline_ms = time.time() * 1000 + spec.timeout * 1000
        request = {
            "requestId": request_id,
            "event": event,
            "deadlineMs": deadline_ms,
            "invokedFunctionArn": _invoked_arn(invoked_arn or name_or_arn, spec),
        }
        if trace is not None:
            request["traceHeader"] = str(trace.header)
        keep = True
        exited = False
        try:
            answer = worker.call(request, spec.timeout)
        except (EOFError, OSError):  # the worker died (BrokenPipeError is an OSError)
            answer, exited = None, True
        duration = (time.perf_counter() - started) * 1000
        if answer is None:
            keep = False
            if not exited:  # still running at the deadline: Lambda kills the sandbox
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"{request_id} Task timed out after {spec.timeout:.2f} seconds",
                }
            else:
                worker.process.wait(timeout=10)
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with code "
                    f"{worker.process.returncode}",
                }
            result = Invocation(json.dumps(error).encode(), "Unhandled", request_id)
        elif answer["ok"]:
            result = Invocation(answer["result"].encode(), None, request_id)
        else:
            result = Invocation(json.dumps(answer["error"]).encode(), "Unhandled", request_id)
            if worker.init_error:
                keep = False
        self._release(entry, worker, generation, keep)
        result.cold_start_ms = worker.cold_start_ms if cold else None
        result.duration_ms = duration
        with entry.cond:
            entry.durations.append(duration)
        if trace is not None and self.tracing is not None:
            error_type = result.json().get("errorType") if result.function_error else None
            self.tracing.end_invocation(
                trace, spec.name, request_id=request_id, error_type=error_type, cold_start_ms=result.cold_start_ms
            )
        for observe in self.observers:
            observe(spec.name, result.function_error is not None, duration)
        return result

    def cold_start(self, name_or_arn: str) -> tuple[float, float]:
        """Start one more worker of a function (no invocation): (cold start ms, of which init ms)."""
        entry = self._entry(name_or_arn)
        with entry.cond:
            entry.count += 1
        task, opt = entry.root / "task", entry.root / "opt"
        with (self.workdir / "logs" / f"{entry.spec.name}.log").open("ab") as log:
            worker = _Worker(entry.spec, task, opt, self._environment(entry.spec, task, opt), log)
        with entry.cond:
            entry.cold_starts.append(worker.cold_start_ms)
        self._release(entry, worker, entry.generation, keep=True)
        return worker.cold_start_ms, worker.init_ms

    # -- figures and shutdown -----------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, entry in sorted(self.functions.items()):
            with entry.cond:
                cold, warm = list(entry.cold_starts), list(entry.durations)
            if cold or warm:
                out[name] = {
                    "coldStarts": len(cold),
                    "coldStartMs": statistics.median(cold) if cold else 0.0,
                    "invocations": len(warm),
                    "medianMs": statistics.median(warm) if warm else 0.0,
                }
        return out

    def stop(self) -> None:
        for entry in list(self.functions.values()):
            self._retire(entry)
        self.functions.clear()


def _invoked_arn(name_or_arn: str, spec: FunctionSpec) -> str:
    """The ARN the caller used (qualified if it was), as Lambda's context reports it."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    qualifier = name_or_arn.split(":", 1)[1] if ":" in name_or_arn else None
    return f"{spec.arn}:{qualifier}" if qualifier else spec.arn


def _unpack(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
