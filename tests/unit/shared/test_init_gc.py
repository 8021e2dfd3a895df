"""The cold start runs with the cyclic garbage collector paused; the first invocation resumes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import gc
from handlers.shared.init_gc import resume_gc_after_first_invocation
import handlers

@resume_gc_after_first_invocation
def handler(event, context):
    return gc.isenabled()

print(gc.isenabled(), handler({}, None), gc.isenabled(), gc.get_freeze_count() > 0, handler({}, None))
"""


def run(env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**base, **env}, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_on_lambda_the_collector_is_paused_until_the_first_invocation_returns() -> None:
    # Paused through init and the first invocation; then what init built is frozen and collection resumes
    assert run({"AWS_LAMBDA_FUNCTION_NAME": "fn"}) == "False False True True True"


def test_elsewhere_nothing_is_paused() -> None:
    # Tests and tools import the handlers without the runtime's environment: the collector runs as usual
    assert run({}) == "True True True False True"
