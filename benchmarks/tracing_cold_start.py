"""Added cold-start cost of X-Ray tracing on the local cloud, measured side by side.

For a few packaged `local` functions it starts fresh workers through the local runner
(`Runner.cold_start`: process start + handler import, as Lambda's init), alternating
tracing off (POWERTOOLS_TRACE_DISABLED=true, what the runner did before) and on
(AWS_XRAY_DAEMON_ADDRESS set: Powertools' Tracer patches botocore at import), and prints
the medians and the ratio on/off. No invocation is made (the init phase is what tracing
changes at cold start). Usage: .venv/bin/python -m benchmarks.tracing_cold_start [--samples 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchmarks.machine import describe
from localcloud.packaging import package, resources_of_type, template
from localcloud.runner import FunctionSpec, Runner
from localcloud.xray import Tracing

FUNCTIONS = (("catalog", "searchFlights"), ("booking", "createBooking"), ("loyalty", "creditPoints"))


def spec_of(service: str, function: str) -> FunctionSpec:
    out = package(service, "local")
    tpl = template(service, "local")
    resource = next(
        r
        for r in resources_of_type(tpl, "AWS::Lambda::Function").values()
        if r["Properties"]["FunctionName"].endswith(f"-{function}")
    )
    props = resource["Properties"]
    variables = props.get("Environment", {}).get("Variables", {})
    return FunctionSpec(
        name=props["FunctionName"],
        handler=props["Handler"],
        code_zip=out / f"{function}.zip",
        layer_zips=[out / "pythonRequirements.zip"],
        environment={k: v for k, v in variables.items() if isinstance(v, str)},
        timeout=float(props.get("Timeout", 6)),
        memory=int(props.get("MemorySize", 256)),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(f"{'function':40} {'off ms':>8} {'on ms':>8} {'on/off':>7}  (median of {args.samples}, alternating)")
    with tempfile.TemporaryDirectory() as tmp:
        tracing = Tracing("http://127.0.0.1:9")  # daemon socket bound, never started: init sends nothing
        plain = Runner(Path(tmp) / "off", "http://127.0.0.1:9")
        traced = Runner(Path(tmp) / "on", "http://127.0.0.1:9")
        traced.tracing = tracing
        ratios = []
        for service, function in FUNCTIONS:
            spec = spec_of(service, function)
            plain.register(spec)
            traced.register(spec)
            off, on = [], []
            for _ in range(args.samples):
                off.append(plain.cold_start(spec.name)[0])
                on.append(traced.cold_start(spec.name)[0])
                plain.drain(spec.name)  # the next sample is cold again
                traced.drain(spec.name)
            ratio = statistics.median(on) / statistics.median(off)
            ratios.append(ratio)
            print(f"{spec.name:40} {statistics.median(off):8.0f} {statistics.median(on):8.0f} {ratio:7.2f}")
        plain.stop()
        traced.stop()
        tracing.daemon.stop()
    print(f"median ratio tracing on/off: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
