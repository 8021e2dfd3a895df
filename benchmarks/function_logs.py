"""What shipping function logs to CloudWatch Logs costs the runner (figures, no assertions).

Two functions of one tiny stack (two print lines per invocation), 8 clients, rounds of 200
invocations, interleaved: one function's log lines shipped to CloudWatch Logs on the edge
(localcloud.function_logs), the other's dropped at the sink. Prints invocations/s of each and the
ratio, with the machine and its load.

    .venv/bin/python -m benchmarks.function_logs
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.machine import describe
from localcloud.cloud import LocalCloud
from localcloud.deploy import TEMPLATE
from localcloud.edge import free_port

CODE = "def handler(event, context):\n    print('line one', event)\n    print('line two')\n    return 1\n"
ROUNDS, PER_ROUND, CLIENTS = 3, 200, 8


def _stack(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "fn.zip", "w") as zipped:
        zipped.writestr("app.py", CODE)
    function = {"Handler": "app.handler", "Code": {"S3Bucket": "unused", "S3Key": "fn.zip"}}
    template = {
        "Resources": {
            f"F{n}": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": f"bench-{n}", **function}}
            for n in ("shipped", "dropped")
        }
    }
    (folder / TEMPLATE).write_text(json.dumps(template))
    return folder


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder, LocalCloud(edge_port=free_port(), schedules=False) as cloud:
        cloud.deploy_stack("bench", _stack(Path(folder)))
        ship = cloud.function_logs
        cloud.runner.log_sink = lambda fn, stream, line: ship(fn, stream, line) if fn == "bench-shipped" else None

        def rate(function: str, count: int = PER_ROUND) -> float:
            started = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(lambda i: cloud.invoke_event(function, {"i": i}), range(count)))
            return count / (time.perf_counter() - started)

        rate("bench-shipped", 50)  # warm both
        rate("bench-dropped", 50)
        rates: dict[str, list[float]] = {"shipped": [], "dropped": []}
        for _ in range(ROUNDS):
            rates["shipped"].append(rate("bench-shipped"))
            rates["dropped"].append(rate("bench-dropped"))
        shipped, dropped = statistics.median(rates["shipped"]), statistics.median(rates["dropped"])
        ship.flush()
        print(describe())
        print(
            f"invocations/s ({CLIENTS} clients, {ROUNDS} interleaved rounds of {PER_ROUND}, median): "
            f"logs shipped to CloudWatch Logs {shipped:.0f}, dropped {dropped:.0f}, ratio {shipped / dropped:.2f}; "
            f"{ship.shipped} log events shipped"
        )


if __name__ == "__main__":
    main()
