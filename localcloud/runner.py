"""The Lambda runner: each function from its packaged artifact, in warm worker processes.

Layout as Lambda's: the function zip is unpacked into `<workdir>/<fn>/task` (/var/task),
the layer zips into `<workdir>/<fn>/opt` (/opt, so `python/` is on sys.path). A worker is
`python worker.py` (the venv's Python 3.13) with the function's resolved environment, the
edge as AWS_ENDPOINT_URL, fake credentials and, when the cloud turns X-Ray on (`tracing`),
AWS_XRAY_DAEMON_ADDRESS and a `_X_AMZN_TRACE_ID` per invocation (else
POWERTOOLS_TRACE_DISABLED=true).  Workers stay warm and scale as Lambda's execution environments do: per
function up to its reserved concurrency (`ReservedConcurrentExecutions`), in all up to the
account concurrency limit (`account_limit` invocations running at once). At most `max_live`
worker processes are kept (three times the limit unless said): past it, the least recently used idle
worker of another function is stopped to make room. An invocation that finds no room waits in
a bounded queue for a short while (a laptop is not a region); past that it is throttled:
`Throttled` (TooManyRequestsException).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
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
    from localcloud.faults import Injection
    from localcloud.xray import InvocationTrace, Tracing

from localcloud import layers

WORKER = Path(__file__).with_name("worker.py")
LOG_MARK = b"\x1elocalcloud:invocation-end\n"  # worker.py writes it after an invocation's output
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
    reserved_concurrency: int | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    def fingerprint(self) -> tuple[Any, ...]:
        zips = [self.code_zip, *self.layer_zips]
        return (
            self.handler,
            tuple(_digest(z) for z in zips),  # by content: the same code from another folder is no change
            tuple(sorted(self.environment.items())),
            self.timeout,
            self.memory,
            self.reserved_concurrency,
        )


@dataclass
class Invocation:
    """The outcome of one invoke, as Lambda answers it."""

    payload: bytes
    function_error: str | None = None  # "Unhandled" when the function failed
    request_id: str = ""
    cold_start_ms: float | None = None
    duration_ms: float = 0.0
    executed_version: str = "$LATEST"  # the version that ran (an alias picks one by its weights)

    def json(self) -> Any:
        return json.loads(self.payload or b"null")


class FunctionNotFound(LookupError):
    pass


class Throttled(RuntimeError):
    """Lambda's TooManyRequestsException: no concurrency left for this invocation."""

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"Rate Exceeded. ({reason} for {function})")
        self.function = function
        self.reason = reason  # ReservedFunctionConcurrentInvocationLimitExceeded | ConcurrentInvocationLimitExceeded


def qualifier_of(name_or_arn: str) -> str | None:
    """`fn:Live` / `arn:...:function:fn:7` -> `Live` / `7`; unqualified -> None. Also inside an API Gateway
    integration URI (`...:lambda:path/2015-03-31/functions/<function ARN>/invocations`)."""
    rest = name_or_arn.split(":function:", 1)[1] if ":function:" in name_or_arn else name_or_arn
    rest = rest.split("/", 1)[0]
    return rest.split(":", 1)[1] if ":" in rest else None


@dataclass
class AliasRoute:
    """An alias as Lambda keeps it: a version, and optionally a second one with a share of invocations."""

    version: str
    extra_version: str | None = None
    extra_weight: float = 0.0  # 0..1: the share of invocations the extra version gets

    def pick(self, draw: float) -> str:
        return self.extra_version if self.extra_version is not None and draw < self.extra_weight else self.version


def function_name_of(name_or_arn: str) -> str:
    """`fn`, `fn:alias`, `arn:...:function:fn[:qualifier]` -> `fn`."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]


# (function, log stream, one line of its log without the newline): CloudWatch Logs (localcloud.function_logs)
LogSink = Callable[[str, str, bytes], None]


def log_stream_name() -> str:
    """A stream as Lambda names one per execution environment: `YYYY/MM/DD/[$LATEST]<32 hex>`."""
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{uuid.uuid4().hex}"


class _Worker:
    def __init__(
        self, spec: FunctionSpec, task: Path, opt: Path, env: dict[str, str], *, log: Path, sink: LogSink | None = None
    ) -> None:
        started = time.perf_counter()
        self.stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.log_caught_up = threading.Event()  # the invocation's output has been read from the worker
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(task), str(opt), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=task,
        )
        threading.Thread(target=_copy_log, args=(self.process.stderr, log, spec.name, self, sink), daemon=True).start()
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

    def peak_memory_mb(self) -> int:
        """The process's peak resident memory (VmHWM), as Lambda reports `Max Memory Used`."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        peak = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
        return int(peak) // 1024

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
        self.count = 0  # live workers of this function (busy + idle + starting)
        self.generation = 0
        self.cold_starts: list[float] = []
        self.durations: list[float] = []
        self.throttles = 0
        self.last_used = 0.0
        self.fingerprint: tuple[Any, ...] = ()


class Runner:
    def __init__(
        self,
        workdir: Path,
        edge_url: str,
        *,
        account_limit: int = 12,
        max_live: int | None = None,
        queue_limit: int = 256,
        queue_wait: float = 10.0,
        region: str = "eu-west-1",
    ) -> None:
        self.workdir = workdir
        self.edge_url = edge_url
        self.account_limit = account_limit  # invocations running at once, in all (Lambda's account concurrency)
        self.max_live = max_live or 3 * account_limit  # worker processes kept, busy or idle (warm)
        self.queue_limit = queue_limit  # invocations waiting for room; beyond: throttled at once
        self.queue_wait = queue_wait  # seconds one may wait for room; beyond: throttled
        self.region = region
        self.functions: dict[str, _Function] = {}
        self.faults: Any = None  # localcloud.faults.Faults: lambda faults by invoked function
        self._lock = threading.Lock()
        self.tracing: Tracing | None = None  # X-Ray on (localcloud.xray) when the cloud sets it
        # (function, failed, ms, resource=fn:qualifier|None, executed_version=...): AWS/Lambda metrics
        self.observers: list[Callable[..., None]] = []
        self.versions: dict[str, list[_Function]] = {}  # function -> published versions (index 0 = version 1)
        self.aliases: dict[tuple[str, str], AliasRoute] = {}  # (function, alias) -> its routing
        self._draw = random.Random()
        self.log_sink: LogSink | None = None  # every log line, with its stream (CloudWatch Logs when the cloud sets it)
        self._cond = threading.Condition()  # guards every entry's idle/count and the totals
        self._live = 0
        self._busy = 0
        self._queued = 0
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    # -- registration -------------------------------------------------------------------------
    def register(self, spec: FunctionSpec) -> bool:
        """Register or update a function; True when its code or configuration changed."""
        fingerprint = spec.fingerprint()
        with self._lock:
            current = self.functions.get(spec.name)
            if current is not None and current.fingerprint == fingerprint:
                return False
            root = self.workdir / "functions" / spec.name / uuid.uuid4().hex[:8]
            _unpack(spec.code_zip, root / "task")
            layers.materialize(spec.layer_zips, root / "opt", self.workdir / "layers")  # one unpack per layer
            entry = _Function(spec, root)
            entry.fingerprint = fingerprint  # taken now: the package it came from may be gone later
            self.functions[spec.name] = entry
        if current is not None and not self._published(current):  # a published version keeps its code
            self._retire(current)
        return True

    def _retire(self, entry: _Function) -> None:
        with self._cond:
            entry.generation += 1
        self._stop_idle(entry)
        shutil.rmtree(entry.root, ignore_errors=True)

    def unregister(self, name: str) -> None:
        """Delete a function (its stack was deleted): its workers stop, its code goes; invokes get 404."""
        with self._lock:
            entry = self.functions.pop(name, None)
        if entry is not None:
            self._retire(entry)

    def drain(self, name: str) -> None:
        """Stop the idle (warm) workers of a function: its next invocation starts cold."""
        self._stop_idle(self._entry(name))

    def _stop_idle(self, entry: _Function) -> None:
        with self._cond:
            idle, entry.idle = entry.idle, []
            entry.count -= len(idle)
            self._live -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.kill()

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
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "LAMBDA_TASK_ROOT": str(task),
                "LAMBDA_RUNTIME_DIR": str(opt),
                "_HANDLER": spec.handler,
                "TZ": "UTC",
                # the SDK puts `app/<name>` in its User-Agent: the edge knows which function calls
                # (fault rules by calling function); nothing else reads it
                "AWS_SDK_UA_APP_ID": spec.name[:50],
            }
        )
        env.update(spec.credentials)  # the function's role (localcloud.iam), as Lambda provides it
        if self.tracing is None:
            env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon
        else:
            env.update(AWS_XRAY_DAEMON_ADDRESS=self.tracing.daemon_address, AWS_XRAY_CONTEXT_MISSING="LOG_ERROR")
        return env

    def _log_path(self, entry: _Function) -> Path:
        return self.workdir / "logs" / f"{entry.spec.name}.log"

    def _platform_log(self, spec: FunctionSpec, worker: _Worker, line: str) -> None:
        """Lambda's own lines (START, END, REPORT) in the environment's stream."""
        if self.log_sink is not None:
            self.log_sink(spec.name, worker.stream, line.encode())

    def _report(
        self, spec: FunctionSpec, worker: _Worker, request_id: str, duration: float, *, cold: bool, answered: bool
    ) -> None:
        """END and REPORT, after the handler's own lines (the worker marks the end of its output)."""
        if self.log_sink is None:
            return
        if answered:
            worker.log_caught_up.wait(1.0)
        init = f"Init Duration: {worker.init_ms:.2f} ms\t" if cold else ""
        self._platform_log(spec, worker, f"END RequestId: {request_id}")
        self._platform_log(
            spec,
            worker,
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms"
            f"\tMemory Size: {spec.memory} MB\tMax Memory Used: {worker.peak_memory_mb()} MB\t{init}",
        )

    def _cap(self, entry: _Function) -> int:
        reserved = entry.spec.reserved_concurrency
        return min(reserved, self.account_limit) if reserved is not None else self.account_limit

    def _acquire(self, entry: _Function) -> tuple[_Worker, bool]:
        """A warm worker, or room for a new one; waits in the bounded queue, else `Throttled`."""
        deadline = time.monotonic() + self.queue_wait
        victim: _Worker | None = None
        with self._cond:
            queued = False
            try:
                while True:
                    running = entry.count - len(entry.idle)
                    if running < self._cap(entry) and self._busy < self.account_limit:
                        if entry.idle:
                            entry.last_used = time.monotonic()
                            self._busy += 1
                            return entry.idle.pop(), False
                        if self._live < self.max_live:
                            break
                        victim = self._evict_idle(entry)
                        if victim is not None:
                            break
                    if not queued:
                        if self._queued >= self.queue_limit:
                            raise self._throttle(entry)
                        self._queued += 1
                        queued = True
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._throttle(entry)
                    self._cond.wait(remaining)
            finally:
                if queued:
                    self._queued -= 1
            entry.count += 1
            self._live += 1
            self._busy += 1
            entry.last_used = time.monotonic()
        if victim is not None:
            victim.kill()
        return self._start_worker(entry), True

    def _start_worker(self, entry: _Function) -> _Worker:
        """A new worker of `entry`, already counted by the caller; if it fails to start, the counts are given back."""
        task, opt = entry.root / "task", entry.root / "opt"
        try:
            worker = _Worker(
                entry.spec,
                task,
                opt,
                self._environment(entry.spec, task, opt),
                log=self._log_path(entry),
                sink=self.log_sink,
            )
        except BaseException:
            with self._cond:
                entry.count -= 1
                self._live -= 1
                self._busy -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            entry.cold_starts.append(worker.cold_start_ms)
        return worker

    def _evict_idle(self, needing: _Function) -> _Worker | None:
        """Stop the least recently used idle worker of another function (caller holds the condition)."""
        entries = [*self.functions.values(), *(e for published in self.versions.values() for e in published)]
        candidates = [e for e in entries if e is not needing and e.idle]
        if not candidates:
            return None
        oldest = min(candidates, key=lambda e: e.last_used)
        worker = oldest.idle.pop(0)
        oldest.count -= 1
        self._live -= 1
        return worker

    def _throttle(self, entry: _Function) -> Throttled:
        entry.throttles += 1
        reason = (
            "ReservedFunctionConcurrentInvocationLimitExceeded"
            if entry.spec.reserved_concurrency is not None and entry.count >= self._cap(entry)
            else "ConcurrentInvocationLimitExceeded"
        )
        return Throttled(entry.spec.name, reason)

    def _release(self, entry: _Function, worker: _Worker, generation: int, keep: bool) -> None:
        with self._cond:
            self._busy -= 1
            if keep and worker.alive() and generation == entry.generation:
                entry.idle.append(worker)
                self._cond.notify_all()
                return
            if generation == entry.generation:
                entry.count -= 1
            self._live -= 1
            self._cond.notify_all()
        worker.kill()

    def invoke(self, name_or_arn: str, event: Any, *, invoked_arn: str | None = None) -> Invocation:
        entry, version = self._route(name_or_arn)
        spec = entry.spec
        generation = entry.generation
        request_id = str(uuid.uuid4())
        qualifier = qualifier_of(name_or_arn)
        injection, crashed = self._inject(entry, request_id, version, qualifier)
        if crashed is not None:
            crashed.executed_version = version
            self._observe(spec.name, crashed, None, qualifier)  # a crash is an error in AWS/Lambda too
            return crashed
        trace = self.tracing.begin_invocation(event) if self.tracing is not None else None
        worker, cold = self._acquire(entry)
        worker.log_caught_up.clear()
        self._platform_log(spec, worker, f"START RequestId: {request_id} Version: {version}")
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
        exited = False
        try:
            answer = worker.call(request, spec.timeout)
        except (EOFError, OSError):  # the worker died (BrokenPipeError is an OSError)
            answer, exited = None, True
        duration = (time.perf_counter() - started) * 1000
        result, keep = _outcome(
            answer, exited=exited, injected=injection is not None, worker=worker, spec=spec, request_id=request_id
        )
        self._report(spec, worker, request_id, duration, cold=cold, answered=answer is not None)
        self._release(entry, worker, generation, keep)
        result.cold_start_ms = worker.cold_start_ms if cold else None
        result.duration_ms = duration
        result.executed_version = version
        with self._cond:
            entry.durations.append(duration)
        self._observe(spec.name, result, trace, qualifier)
        return result

    def _inject(
        self, entry: _Function, request_id: str, version: str = "$LATEST", qualifier: str | None = None
    ) -> tuple[Injection | None, Invocation | None]:
        """An injected Lambda fault that strikes before the handler runs: latency is slept here, a throttle
        raised, a crash answered; a timeout is returned to strike after the handler ran."""
        injection = (
            self.faults.pick("lambda", "Invoke", function=entry.spec.name, version=version, qualifier=qualifier)
            if self.faults is not None
            else None
        )
        if injection is None:
            return None, None
        if injection.latency_s:
            time.sleep(injection.latency_s)
            return None, None
        if injection.code == "TooManyRequestsException":
            entry.throttles += 1
            raise Throttled(entry.spec.name, "injected fault")
        if injection.code == "Runtime.ExitError":  # the sandbox dies before the handler answers
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
            }
            return injection, Invocation(json.dumps(error).encode(), "Unhandled", request_id)
        return injection, None

    def _observe(self, name: str, result: Invocation, trace: InvocationTrace | None, qualifier: str | None) -> None:
        """The invocation's segments (X-Ray on) and its AWS/Lambda metrics (per alias and version as Lambda's)."""
        if trace is not None and self.tracing is not None:
            error_type = result.json().get("errorType") if result.function_error else None
            self.tracing.end_invocation(
                trace, name, request_id=result.request_id, error_type=error_type, cold_start_ms=result.cold_start_ms
            )
        resource = f"{name}:{qualifier}" if qualifier and qualifier != "$LATEST" else None
        for observe in self.observers:
            observe(
                name,
                result.function_error is not None,
                result.duration_ms,
                resource=resource,
                executed_version=result.executed_version,
            )

    def cold_start(self, name_or_arn: str) -> tuple[float, float]:
        """Start one more worker of a function (no invocation): (cold start ms, of which init ms)."""
        entry = self._entry(name_or_arn)
        with self._cond:
            entry.count += 1
            self._live += 1
            self._busy += 1
        worker = self._start_worker(entry)
        self._release(entry, worker, entry.generation, keep=True)
        return worker.cold_start_ms, worker.init_ms

    # -- versions and weighted aliases (what CodeDeploy shifts; localcloud/codedeploy.py) ------------
    def publish_version(self, name: str) -> str:
        """PublishVersion: the function's current code and configuration as a new version, or the latest
        version when nothing changed since (as Lambda answers). Versions keep their workers side by side."""
        with self._lock:
            entry = self._entry(name)
            published = self.versions.setdefault(entry.spec.name, [])
            if not published or published[-1] is not entry:
                published.append(entry)
            return str(len(published))

    def update_alias(self, name: str, alias: str, route: AliasRoute) -> None:
        """CreateAlias/UpdateAlias with RoutingConfig: the versions must exist."""
        function = function_name_of(name)
        known = len(self.versions.get(function, []))
        for version in (route.version, route.extra_version):
            if version is not None and not (version.isdigit() and 1 <= int(version) <= known):
                raise FunctionNotFound(f"{function}:{version}")
        with self._lock:
            self.aliases[(function, alias)] = route

    def alias(self, name: str, alias: str) -> AliasRoute | None:
        return self.aliases.get((function_name_of(name), alias))

    def _published(self, entry: _Function) -> bool:
        return any(entry is e for e in self.versions.get(entry.spec.name, []))

    def _route(self, name_or_arn: str) -> tuple[_Function, str]:
        """The code an invocation runs and its version: an alias draws a version by its weights, a number is
        that version, anything else the current code ($LATEST; also an alias the runner does not know)."""
        current = self._entry(name_or_arn)
        qualifier = qualifier_of(name_or_arn)
        if qualifier is None or qualifier == "$LATEST":
            return current, "$LATEST"
        published = self.versions.get(current.spec.name, [])
        route = self.aliases.get((current.spec.name, qualifier))
        version = route.pick(self._draw.random()) if route is not None else qualifier
        if version.isdigit() and 1 <= int(version) <= len(published):
            return published[int(version) - 1], version
        return current, "$LATEST"

    # -- figures and shutdown -----------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, entry in sorted(self.functions.items()):
            with self._cond:
                cold, warm = list(entry.cold_starts), list(entry.durations)
                live, throttles = entry.count, entry.throttles
            if cold or warm or throttles:
                out[name] = {
                    "coldStarts": len(cold),
                    "coldStartMs": statistics.median(cold) if cold else 0.0,
                    "invocations": len(warm),
                    "medianMs": statistics.median(warm) if warm else 0.0,
                    "throttles": throttles,
                    "liveWorkers": live,
                }
        return out

    def stop(self) -> None:
        entries = {id(e): e for e in self.functions.values()}
        entries.update({id(e): e for published in self.versions.values() for e in published})
        for entry in entries.values():
            self._retire(entry)
        self.functions.clear()
        self.versions.clear()
        self.aliases.clear()


def _copy_log(stderr: IO[bytes] | None, path: Path, function: str, worker: _Worker, sink: LogSink | None) -> None:
    """A worker's output, line by line, to the function's log file and to the log sink (its stream)."""
    assert stderr is not None
    stream = worker.stream
    with path.open("ab") as log:
        for read in iter(stderr.readline, b""):
            line = read.removesuffix(LOG_MARK)
            if line != read:
                worker.log_caught_up.set()
                if not line:
                    continue
            log.write(line)
            log.flush()
            if sink is not None:
                sink(function, stream, line.rstrip(b"\n"))
    stderr.close()


def _outcome(
    answer: dict[str, Any] | None, *, exited: bool, injected: bool, worker: _Worker, spec: FunctionSpec, request_id: str
) -> tuple[Invocation, bool]:
    """What the worker's answer means to the caller, as Lambda reports it; and whether the worker is kept."""
    keep = True
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
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with code {worker.process.returncode}",
            }
        result = Invocation(json.dumps(error).encode(), "Unhandled", request_id)
    elif injected:  # Sandbox.Timedout injected: the handler ran, its answer is lost
        keep = False
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"{request_id} Task timed out after {spec.timeout:.2f} seconds",
        }
        result = Invocation(json.dumps(error).encode(), "Unhandled", request_id)
    elif answer["ok"]:
        result = Invocation(answer["result"].encode(), None, request_id)
    else:
        result = Invocation(json.dumps(answer["error"]).encode(), "Unhandled", request_id)
        if worker.init_error:
            keep = False
    return result, keep


def _invoked_arn(name_or_arn: str, spec: FunctionSpec) -> str:
    """The ARN the caller used (qualified if it was), as Lambda's context reports it."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    qualifier = name_or_arn.split(":", 1)[1] if ":" in name_or_arn else None
    return f"{spec.arn}:{qualifier}" if qualifier else spec.arn


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _digest(archive: Path) -> str:
    """The SHA-256 of a zip (Lambda's CodeSha256), cached by path, size and modification time."""
    stat = archive.stat()
    key = (str(archive), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(archive.read_bytes()).hexdigest()
    return _DIGESTS[key]


def _unpack(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
