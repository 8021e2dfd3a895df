"""Cold start of every packaged function against its floor, side by side, in one run.

    .venv/bin/python -m benchmarks.cold_start [--samples 7] [--warm 40] [--only NAME ...]

On the embedded local cloud (every stack of the `local` stage, packaged as for a deploy):
for every function, a fresh Python 3.13 process per sample does what the Lambda runtime
does: the function zip unpacked as /var/task and its layers as /opt (both read-only, no
bytecode written), the runtime's boto3 on sys.path after them, the function's environment,
tracing ON (an X-Ray daemon address on a local UDP socket that discards), then the handler
module is imported (init) and invoked once with a typical event (first invocation) that
really calls the local cloud. Its floor, F, is a fresh process with the same sys.path that
imports boto3, creates the clients the function created and makes the same AWS calls (as
recorded from one untimed run of the function; replayed writes that a condition now
refuses make the same round trip). Function and floor samples alternate, each taking each
place in the order in turn.

Prints medians, p25-p75, the ratio of medians (function / F), and layer and code zip
sizes. With `--baseline DIR` (packages of an earlier revision, e.g. a copy of its .build),
each function's baseline build is measured in the same run, interleaved with the function
and its floor, against the same deployed resources: before and after side by side.
Then the warm path: per-invocation time of the handler minus the time spent inside
botocore making its AWS calls (what a bare handler making the same calls would spend),
for the functions whose further events need no setup.
Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import pickle
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.machine import describe
from benchmarks.scenarios import Scenarios
from localcloud.cloud import LocalCloud, discover_stacks
from localcloud.runner import FunctionSpec

BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
SITE_PACKAGES = Path(next(p for p in sys.path if p.endswith("site-packages")))
PROBE = Path(__file__).with_name("probe.py")
# What the Lambda Python runtime itself provides (it ships boto3 and its dependencies).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


class XRayDaemon:
    """A UDP socket that receives and discards segments, where the X-Ray daemon would listen."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.received = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.socket.recv(65536)
                self.received += 1


@dataclass
class Row:
    function: str
    total: list[float] = field(default_factory=list)
    init: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    floor_cpu: list[float] = field(default_factory=list)
    outcomes: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    code_bytes: int = 0
    layer_bytes: int = 0
    baseline_cpu: list[float] = field(default_factory=list)
    baseline_code_bytes: int = 0
    baseline_layer_bytes: int = 0


class Bench:
    def __init__(self, cloud: LocalCloud, root: Path, daemon: XRayDaemon) -> None:
        self.cloud = cloud
        self.root = root
        self.daemon = daemon
        self.scenarios = Scenarios(cloud)
        self.runtime = root / "runtime"
        self.runtime.mkdir()
        for name in RUNTIME_PACKAGES:
            (self.runtime / name).symlink_to(SITE_PACKAGES / name)
        self.layers: dict[Path, Path] = {}
        self.tracing = True
        self.extra_env: dict[str, str] = {}
        self.baseline: Path | None = None

    def baseline_spec(self, spec: FunctionSpec) -> FunctionSpec:
        """The same function as packaged in the baseline's packages (its zips and its handler)."""
        assert self.baseline is not None
        stack = spec.code_zip.parent.parent.name
        out = self.baseline / stack / "local"
        template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
        handler = next(
            resource["Properties"]["Handler"]
            for resource in template["Resources"].values()
            if resource.get("Type") == "AWS::Lambda::Function"
            and resource["Properties"].get("FunctionName") == spec.name
        )
        return dataclasses.replace(
            spec,
            handler=handler,
            code_zip=out / spec.code_zip.name,
            layer_zips=[out / z.name for z in spec.layer_zips],
        )

    def unpack(self, archive: Path, target: Path) -> Path:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(target)
        for path in [target, *target.rglob("*")]:  # read-only, as /var/task and /opt are
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return target

    def layout(self, spec: FunctionSpec, where: str = "task") -> tuple[Path, list[Path]]:
        task = self.unpack(spec.code_zip, self.root / spec.name / where)
        opts = []
        for layer in spec.layer_zips:
            if layer not in self.layers:
                self.layers[layer] = self.unpack(layer, self.root / f"layer{len(self.layers)}")
            opts.append(self.layers[layer] / "python")
        return task, opts

    def environment(self, spec: FunctionSpec, task: Path, opts: list[Path]) -> dict[str, str]:
        env = {k: os.environ[k] for k in ("PATH", "LANG", "HOME") if k in os.environ}
        env.update(spec.environment)
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(task), *map(str, opts), str(self.runtime)]),
                "PYTHONDONTWRITEBYTECODE": "1",
                "AWS_ENDPOINT_URL": self.cloud.edge.url,
                "AWS_ACCESS_KEY_ID": "localcloud",
                "AWS_SECRET_ACCESS_KEY": "localcloud",
                "AWS_SESSION_TOKEN": "localcloud",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "LAMBDA_TASK_ROOT": str(task),
                "LAMBDA_RUNTIME_DIR": str(self.runtime),
                "_HANDLER": spec.handler,
                "TZ": "UTC",
                # Tracing on, as on Lambda with active tracing: segments go to a local daemon address.
                "AWS_XRAY_DAEMON_ADDRESS": self.daemon.address,
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
        )
        if not self.tracing:
            env["POWERTOOLS_TRACE_DISABLED"] = "true"
        env.update(self.extra_env)
        return env

    def probe(self, spec_input: dict[str, Any], env: dict[str, str], cwd: Path) -> dict[str, Any]:
        path = self.root / "probe-input.pickle"
        path.write_bytes(pickle.dumps(spec_input))
        result = subprocess.run(
            [BASE_PYTHON, "-s", "-P", str(PROBE), str(path)],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("@@probe ")]
        if result.returncode != 0 or not lines:
            tail = "\n".join(result.stderr.strip().splitlines()[-5:])
            raise SystemExit(f"{spec_input['function_name']} ({spec_input['mode']}) failed:\n{tail}")
        answer: dict[str, Any] = json.loads(lines[-1].removeprefix("@@probe "))
        return answer

    def measure(self, name: str, samples: int) -> Row:
        spec = self.cloud.runner.spec(name)
        task, opts = self.layout(spec)
        env = self.environment(spec, task, opts)
        row = Row(
            name, code_bytes=spec.code_zip.stat().st_size, layer_bytes=sum(z.stat().st_size for z in spec.layer_zips)
        )
        base = {"function_name": name, "handler": spec.handler}
        event, done = self.scenarios.event(name, -1)
        record_to = self.root / f"{name}.calls"
        answer = self.probe({**base, "mode": "record", "event": event, "record_to": str(record_to)}, env, task)
        done()
        row.calls = answer["calls"]
        calls = pickle.loads(record_to.read_bytes())  # noqa: S301 (written by our own probe just now)
        modes = ["function", "floor"]
        if self.baseline is not None:
            before = self.baseline_spec(spec)
            before_task, before_opts = self.layout(before, "baseline-task")
            before_env = self.environment(before, before_task, before_opts)
            before_base = {"function_name": name, "handler": before.handler}
            row.baseline_code_bytes = before.code_zip.stat().st_size
            row.baseline_layer_bytes = sum(z.stat().st_size for z in before.layer_zips)
            modes.append("baseline")
        for i in range(samples):
            order = modes[i % len(modes) :] + modes[: i % len(modes)]  # each mode takes each place in turn
            for mode in order:
                if mode == "function":
                    event, done = self.scenarios.event(name, i)
                    answer = self.probe({**base, "mode": "function", "event": event}, env, task)
                    done()
                    row.total.append(answer["init"] + answer["invoke"])
                    row.init.append(answer["init"])
                    row.cpu.append(answer["cpu"])
                    row.outcomes.add(answer["outcome"])
                elif mode == "baseline":
                    event, done = self.scenarios.event(name, i)
                    answer = self.probe({**before_base, "mode": "function", "event": event}, before_env, before_task)
                    done()
                    row.baseline_cpu.append(answer["cpu"])
                else:
                    answer = self.probe({**base, "mode": "floor", "calls": calls}, env, task)
                    row.floor.append(answer["init"] + answer["invoke"])
                    row.floor_cpu.append(answer["cpu"])
                    row.refused = answer["refused"]
        return row

    def warm(self, name: str, count: int) -> dict[str, list[float]]:
        spec = self.cloud.runner.spec(name)
        if (self.root / spec.name / "task").exists():
            task, opts = self.root / spec.name / "task", [self.layers[z] / "python" for z in spec.layer_zips]
        else:
            task, opts = self.layout(spec)
        env = self.environment(spec, task, opts)
        events = [self.scenarios.event(name, 1000 + i)[0] for i in range(count + 1)]
        answer = self.probe(
            {"function_name": name, "handler": spec.handler, "mode": "warm", "events": events}, env, task
        )
        return answer


def spread(values: list[float]) -> str:
    lo, mid, hi = quartiles(values)
    return f"{mid:6.0f} ({lo:4.0f}-{hi:4.0f})"


def print_cold(rows: list[Row]) -> None:
    print(
        f"{'function':42} {'wall: cold':>17} {'floor F':>17} {'ratio':>6} {'cpu: cold':>17} {'floor F':>17} "
        f"{'ratio':>6} {'init':>6} {'code':>6} {'layer':>6}  outcome"
    )
    print(
        f"{'(ms, median (p25-p75))':42} {'init+1st invoke':>17} {'':>17} {'':>6} {'init+1st invoke':>17} {'':>17} "
        f"{'':>6} {'wall':>6} {'KB':>6} {'MB':>6}"
    )
    for row in rows:
        wall = statistics.median(row.total) / statistics.median(row.floor)
        cpu = statistics.median(row.cpu) / statistics.median(row.floor_cpu)
        print(
            f"{row.function:42} {spread(row.total)} {spread(row.floor)} {wall:5.2f}x {spread(row.cpu)} "
            f"{spread(row.floor_cpu)} {cpu:5.2f}x {statistics.median(row.init):6.0f} {row.code_bytes / 1024:6.1f} "
            f"{row.layer_bytes / 1e6:6.2f}  {','.join(sorted(row.outcomes))}"
        )
    for label, ratios in (
        ("wall", [statistics.median(r.total) / statistics.median(r.floor) for r in rows]),
        ("cpu", [statistics.median(r.cpu) / statistics.median(r.floor_cpu) for r in rows]),
    ):
        middle = statistics.median(ratios)
        print(f"ratio to floor ({label}): {min(ratios):.2f}x - {max(ratios):.2f}x (median {middle:.2f}x)")
    if any(row.baseline_cpu for row in rows):
        print_before_after(rows)
    print("AWS calls per first invocation (what the floor replays):")
    for row in rows:
        refused = f"  (refused on replay: {' '.join(row.refused)})" if row.refused else ""
        print(f"  {row.function:42} {' '.join(row.calls) or '-'}{refused}")


def print_before_after(rows: list[Row]) -> None:
    """Baseline and function builds measured in the same run against the same floor (CPU ms)."""
    print("\n# before (--baseline) and after, same run, same floor; CPU ms of init + first invocation")
    print(
        f"{'function':42} {'before':>17} {'ratio':>6} {'after':>17} {'ratio':>6} {'floor F':>17} "
        f"{'layer MB before/after':>22} {'code KB before/after':>21}"
    )
    befores, afters = [], []
    for row in rows:
        floor = statistics.median(row.floor_cpu)
        before, after = statistics.median(row.baseline_cpu) / floor, statistics.median(row.cpu) / floor
        befores.append(before)
        afters.append(after)
        print(
            f"{row.function:42} {spread(row.baseline_cpu)} {before:5.2f}x {spread(row.cpu)} {after:5.2f}x "
            f"{spread(row.floor_cpu)} {row.baseline_layer_bytes / 1e6:10.2f} / {row.layer_bytes / 1e6:5.2f} "
            f"{row.baseline_code_bytes / 1024:9.1f} / {row.code_bytes / 1024:5.1f}"
        )
    for label, ratios in (("before", befores), ("after", afters)):
        middle = statistics.median(ratios)
        print(f"ratio to floor (cpu), {label}: {min(ratios):.2f}x - {max(ratios):.2f}x (median {middle:.2f}x)")


def print_warm(bench: Bench, names: list[str], count: int, tracing: str = "on") -> None:
    print(f"\n# warm path: {count} invocations in one process after the first, tracing {tracing}")
    print("# overhead = the handler's time minus the time spent inside botocore making its AWS calls")
    print(
        f"{'function':42} {'handler':>8} {'calls':>7} {'overhead wall ms':>24} {'handler':>8} {'calls':>7} "
        f"{'overhead cpu ms':>24}"
    )
    for name in names:
        if name.rsplit("-", 1)[-1] not in Scenarios.WARM:
            continue
        got = bench.warm(name, count)
        wall = quartiles([h - c for h, c in zip(got["handler"], got["calls"], strict=True)])
        cpu = quartiles([h - c for h, c in zip(got["handler_cpu"], got["calls_cpu"], strict=True)])
        print(
            f"{name:42} {statistics.median(got['handler']):8.2f} {statistics.median(got['calls']):7.2f} "
            f"{wall[1]:10.2f} ({wall[0]:5.2f} - {wall[2]:5.2f}) {statistics.median(got['handler_cpu']):8.2f} "
            f"{statistics.median(got['calls_cpu']):7.2f} {cpu[1]:10.2f} ({cpu[0]:5.2f} - {cpu[2]:5.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--warm", type=int, default=40, help="warm invocations per function (0: skip)")
    parser.add_argument("--only", nargs="*", default=[], help="function names (substring match)")
    parser.add_argument("--skip-cold", action="store_true", help="only the warm path")
    parser.add_argument("--env", nargs="*", default=[], help="KEY=VALUE added to every function's environment")
    parser.add_argument("--tracing", choices=("on", "off"), default="on", help="off: POWERTOOLS_TRACE_DISABLED")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also measure these packages (<dir>/<stack>/local, e.g. a copy of an earlier .build), side by side",
    )
    parser.add_argument(
        "--packages",
        type=Path,
        help="use these packages (<dir>/<stack>/local, e.g. a copy of .build) instead of packaging",
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(f"# cold start vs floor, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {describe()}")
    daemon = XRayDaemon()
    with (
        tempfile.TemporaryDirectory(prefix="coldbench-") as tmp,
        LocalCloud(edge_port=None, schedules=False, sqs=False) as cloud,
    ):
        if args.packages:
            packages = {stack: args.packages / stack / "local" for stack in discover_stacks()}
            print(f"# packages from {args.packages}")
        else:
            packages = cloud.package_all(progress=lambda _: None)
        cloud.deploy_all(packages, progress=lambda _: None)
        bench = Bench(cloud, Path(tmp), daemon)
        bench.scenarios.setup()
        names = [n for n in cloud.runner.names() if not args.only or any(o in n for o in args.only)]
        samples = "warm path only" if args.skip_cold else f"{args.samples} samples each"
        print(f"# {len(names)} functions, {samples}; load average now {os.getloadavg()[0]:.2f}")
        try:
            bench.tracing = args.tracing == "on"
            bench.extra_env = dict(item.split("=", 1) for item in args.env)
            bench.baseline = args.baseline
            if args.baseline:
                print(f"# baseline packages from {args.baseline}")
            if bench.extra_env:
                print(f"# extra environment: {bench.extra_env}")
            if not args.skip_cold:
                print_cold([bench.measure(name, args.samples) for name in names])
            if args.warm:
                print_warm(bench, names, args.warm, args.tracing)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"# load average at end {load}; X-Ray segments received by the stand-in daemon: {daemon.received}")
        finally:
            for path in Path(tmp).rglob("*"):  # read-only trees must be writable again to be removed
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | stat.S_IWUSR)


if __name__ == "__main__":
    main()
