"""What each cold-start lever buys: CPU time of fresh processes, variant by variant, interleaved.

    .venv/bin/python -m benchmarks.levers [--samples 15] [--service booking] [--module handlers.booking.tasks]
                                          [--http-module handlers.booking.api]

CPU time (not wall time) of the import work, so that a loaded machine still gives
comparable figures. The layer's dependencies are installed afresh from requirements.txt
(pip, --no-deps) so that the variants can be built from the same files: sources only,
sources + unchecked-hash bytecode, bytecode only with every package __init__ eager (the
layer before), bytecode only with lazy re-exporting inits (the layer now).
Function code comes from the packaged zip of the service (with and without its bytecode).
Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from benchmarks.cold_start import RUNTIME_PACKAGES, SITE_PACKAGES
from benchmarks.machine import describe
from localcloud.packaging import ROOT, package

BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
FLOOR = "import boto3; boto3.client('dynamodb')"
# Records as they were: @record swapped for the stdlib decorator that generates and compiles each
# class's methods at import (the services import `record` from handlers.shared.records).
GENERATED_RECORDS = (
    "import dataclasses, handlers.shared.records as records; "
    "records.record = dataclasses.dataclass(frozen=True, kw_only=True)"
)
PYDANTIC_PACKAGES = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions.py")


def run(code: str, path: list[Path], cwd: Path, on_lambda: bool = True) -> float:
    program = f"import time\nstarted = time.process_time()\n{code}\nprint((time.process_time() - started) * 1000)"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": str(cwd),
        "POWERTOOLS_SERVICE_NAME": "levers",
    }
    if on_lambda:  # as the runtime sets it: importing `handlers` pauses the collector (handlers/shared/init_gc.py)
        env["AWS_LAMBDA_FUNCTION_NAME"] = "levers"
    result = subprocess.run(
        [BASE_PYTHON, "-s", "-P", "-c", program], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"variant failed: {code}\n{result.stderr[-1500:]}")
    return float(result.stdout.split()[-1])


def build(root: Path, service: str) -> dict[str, Path]:
    """The layer three ways and the function code two ways."""
    sources = root / "layer-sources"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "-t",
            str(sources),
            "-r",
            str(ROOT / "requirements.txt"),
        ],
        check=True,
    )
    for cache in sources.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    both = root / "layer-sources-and-bytecode"
    shutil.copytree(sources, both)
    subprocess.run(
        [BASE_PYTHON, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(both)], check=True
    )
    sourceless = root / "layer-bytecode-only"
    shutil.copytree(sources, sourceless)
    subprocess.run(
        [BASE_PYTHON, str(ROOT / "plugins" / "layer_bytecode.py"), str(sourceless), "/opt/python"], check=True
    )
    out = package(service, "local")
    code_zip = next(p for p in sorted(out.glob("*.zip")) if p.name != "pythonRequirements.zip")
    task = root / "task"
    with zipfile.ZipFile(code_zip) as zipped:
        zipped.extractall(task)
    task_sources = root / "task-sources"
    shutil.copytree(task, task_sources)
    for cache in task_sources.rglob("__pycache__"):
        shutil.rmtree(cache)
    runtime = root / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(SITE_PACKAGES / name)
    # The validator the functions used before checked records, from the virtual environment
    # (the layers no longer ship it).
    pydantic = root / "pydantic"
    pydantic.mkdir()
    for name in PYDANTIC_PACKAGES:
        (pydantic / name).symlink_to(SITE_PACKAGES / name)
    # The layer before lazy package inits: every re-exporting __init__ imports all it names.
    eager = root / "layer-eager-inits"
    shutil.copytree(sources, eager)
    subprocess.run(
        [BASE_PYTHON, str(ROOT / "plugins" / "layer_bytecode.py"), str(eager), "/opt/python", "--eager-inits"],
        check=True,
    )
    return {
        "eager_inits": eager,
        "pydantic": pydantic,
        "sources": sources,
        "both": both,
        "sourceless": sourceless,
        "task": task,
        "task_sources": task_sources,
        "runtime": runtime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--service", default="booking")
    parser.add_argument("--module", default="handlers.booking.tasks")
    parser.add_argument("--http-module", default="handlers.booking.api")
    args = parser.parse_args()
    print(f"# cold-start levers, CPU ms of fresh processes; {describe()}")
    with tempfile.TemporaryDirectory(prefix="levers-") as tmp:
        paths = build(Path(tmp), args.service)
        layer, task, runtime = paths["sourceless"], paths["task"], paths["runtime"]
        obs = "from aws_lambda_powertools import Logger, Metrics, Tracer; Logger(); Metrics()"
        eager = paths["eager_inits"]
        paused = "import handlers"  # first, as the runtime imports the handler module first
        variants: dict[str, tuple[str, list[Path], bool]] = {
            "floor F: import boto3, one client": (FLOOR, [layer, runtime], True),
            "F, collector paused (what the pause alone does to a bare function)": (
                f"import gc; gc.disable(); {FLOOR}",
                [layer, runtime],
                True,
            ),
            "F + Powertools Logger and Metrics, no Tracer": (f"{FLOOR}; {obs}", [layer, runtime], True),
            "F + Powertools, Tracer() patching all": (f"{FLOOR}; {obs}; Tracer()", [layer, runtime], True),
            "F + Powertools, Tracer(patch_modules=botocore)": (
                f"{FLOOR}; {obs}; Tracer(patch_modules=['botocore'])",
                [layer, runtime],
                True,
            ),
            "F + the HTTP resolver, eager package inits (before)": (
                f"{FLOOR}; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver",
                [eager, runtime],
                True,
            ),
            "F + the HTTP resolver, lazy package inits (now)": (
                f"{FLOOR}; from aws_lambda_powertools.event_handler import APIGatewayHttpResolver",
                [layer, runtime],
                True,
            ),
            "F + pydantic BaseModel (the validator two rounds ago)": (
                f"{FLOOR}; from pydantic import BaseModel",
                [layer, paths["pydantic"], runtime],
                True,
            ),
            "F + checked records (handlers/shared/records.py)": (
                f"{FLOOR}; import handlers.shared.records",
                [task, layer, runtime],
                False,
            ),
            f"F + {args.module}, layer sources only": (
                f"{FLOOR}; import {args.module}",
                [paths["task_sources"], paths["sources"], runtime],
                False,
            ),
            f"F + {args.module}, layer sources + bytecode": (
                f"{FLOOR}; import {args.module}",
                [paths["task_sources"], paths["both"], runtime],
                False,
            ),
        }
        for module in (args.module, args.http_module):
            variants |= {
                f"F + {module}, eager inits, collector on (before)": (
                    f"{FLOOR}; import {module}",
                    [task, eager, runtime],
                    False,
                ),
                f"F + {module}, lazy inits, collector on": (f"{FLOOR}; import {module}", [task, layer, runtime], False),
                f"F + {module}, lazy inits, collector paused (now)": (
                    f"{paused}; {FLOOR}; import {module}",
                    [task, layer, runtime],
                    True,
                ),
                f"F + {module}, as now but records as generated dataclasses": (
                    f"{paused}; {FLOOR}; {GENERATED_RECORDS}; import {module}",
                    [task, layer, runtime],
                    True,
                ),
            }
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.samples):
            for name, (code, path, on_lambda) in variants.items():
                results[name].append(run(code, path, task, on_lambda))
        floor = statistics.median(results["floor F: import boto3, one client"])
        print(f"{'variant':78} {'median':>7} {'p25-p75':>13} {'vs F':>6}")
        for name, values in results.items():
            q = statistics.quantiles(values, n=4)
            middle = statistics.median(values)
            print(f"{name:78} {middle:7.1f} {q[0]:6.1f}-{q[2]:6.1f} {middle / floor:5.2f}x")
        print(f"# load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
