"""Import (init) time of every packaged function, as Lambda would load it.

For each service's packaged `dev` artifacts it unpacks the function zip and the
layer zip (layer under python/, as /opt/python), then starts a fresh Python
3.13 process per sample that imports the handler module with the function's
plain environment values. Prints the median and max over the samples. This is
the part of a cold start the project controls (the runtime's own bootstrap is
not included). Usage: .venv/bin/python -m benchmarks.cold_start [--samples 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from localcloud.packaging import package, resources_of_type, services, template

BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
PROBE = """
import importlib, sys, time
start = time.perf_counter()
module = importlib.import_module(sys.argv[1])
getattr(module, sys.argv[2])
print((time.perf_counter() - start) * 1000)
"""


def plain_environment(fn: dict[str, Any]) -> dict[str, str]:
    variables = fn["Properties"].get("Environment", {}).get("Variables", {})
    env = {k: v if isinstance(v, str) else f"resolved-at-deploy-{k.lower()}" for k, v in variables.items()}
    env.update({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_TRACE_DISABLED": "true"})
    return env


def measure(service: str, samples: int) -> list[tuple[str, float, float]]:
    out = package(service, "dev")
    tpl = template(service, "dev")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        opt = Path(tmp) / "opt"
        with zipfile.ZipFile(out / "pythonRequirements.zip") as layer:
            layer.extractall(opt)
        for fn in resources_of_type(tpl, "AWS::Lambda::Function").values():
            props = fn["Properties"]
            task = Path(tmp) / props["FunctionName"]
            with zipfile.ZipFile(out / props["Code"]["S3Key"].split("/")[-1]) as code:
                code.extractall(task)
            module, attribute = props["Handler"].rsplit(".", 1)
            # Code, then the layer, then the venv's site-packages standing in for the
            # runtime's own boto3 (the layer's packages win, as on Lambda).
            path = f"{task}:{opt / 'python'}:{SITE_PACKAGES}"
            # /opt and /var/task are read-only on Lambda: no bytecode is written between samples.
            env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1", **plain_environment(fn)}
            timings = []
            for _ in range(samples):
                result = subprocess.run(
                    [BASE_PYTHON, "-s", "-c", PROBE, module.replace("/", "."), attribute],
                    env=env,
                    cwd=task,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    failure = result.stderr.strip().splitlines()[-1]
                    raise SystemExit(f"{props['FunctionName']} does not import: {failure}")
                timings.append(float(result.stdout.strip()))
            rows.append((props["FunctionName"], statistics.median(timings), max(timings)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    print(
        f"# handler import time, {args.samples} fresh processes each; Python {platform.python_version()}, "
        f"{platform.machine()}, {platform.node()}"
    )
    print(f"{'function':55} {'median ms':>10} {'max ms':>8}")
    for service in services():
        for name, median, worst in measure(service, args.samples):
            print(f"{name:55} {median:10.1f} {worst:8.1f}")


if __name__ == "__main__":
    main()
