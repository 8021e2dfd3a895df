"""The packaged dependency layers and function zips, loaded as Lambda loads them.

Each service's layer holds only what that service imports (services/common/layer-slim.js),
as bytecode without sources (plugins/layer_bytecode.py); each function zip carries
bytecode for its own modules (plugins/add_bytecode.py). These tests prove the pruned,
sourceless layer still serves every handler: a fresh Python with the function code,
the layer and the runtime's boto3 only imports it the way the runtime does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from localcloud.packaging import function_services, package, resources_of_type, template

pytestmark = pytest.mark.infra

SITE_PACKAGES = Path(next(p for p in sys.path if p.endswith("site-packages")))
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
# The zipped layer's budget (issue 14): 3 MB. Without pydantic (checked records validate,
# handlers/shared/records.py) every layer is well under it (docs/benchmarks.md).
LAYER_BUDGET_BYTES = 3_000_000
# Modules some handlers import on first use rather than at init: they must be in the layer too.
LAZY_IMPORTS = {
    "booking": ["aws_lambda_powertools.utilities.idempotency.persistence.dynamodb"],
    "catalog": ["handlers.catalog.seed"],
}
# Modules an eager package __init__ would import and no function uses (plugins/layer_bytecode.py makes them lazy).
UNUSED_BY_ANY_FUNCTION = (
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.event_handler.bedrock_agent",
    "aws_lambda_powertools.event_handler.http_resolver",
    "aws_lambda_powertools.event_handler.vpc_lattice",
    "aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event",
    "aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event",
)
PROBE = """
import importlib, json, sys
module_name, attribute, lazy = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
import gc
handler = getattr(importlib.import_module(module_name), attribute)
assert callable(handler)
paused_during_init = not gc.isenabled()
outermost = handler.__code__.co_qualname
for name in lazy:
    importlib.import_module(name)
loaded = sorted(sys.modules)
files = {name: getattr(module, "__file__", None) or "" for name, module in list(sys.modules.items())}
print(json.dumps({"loaded": loaded, "files": files, "gc_paused": paused_during_init, "outermost": outermost}))
"""


def runtime_dir(tmp: Path) -> Path:
    """What the Lambda Python runtime provides besides the layer: boto3 and its dependencies."""
    runtime = tmp / "runtime"
    runtime.mkdir(exist_ok=True)
    for name in RUNTIME_PACKAGES:
        if not (runtime / name).exists():
            (runtime / name).symlink_to(SITE_PACKAGES / name)
    return runtime


def unpack(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(target)
    return target


def load_like_lambda(task: Path, layer: Path, runtime: Path, handler: str, lazy: list[str]) -> dict[str, Any]:
    module, attribute = handler.rsplit(".", 1)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(task), str(layer / "python"), str(runtime)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "layer-test",
        "POWERTOOLS_SERVICE_NAME": "layer-test",
    }
    python = str(Path(sys.base_prefix) / "bin" / "python3")
    result = subprocess.run(
        [python, "-s", "-P", "-c", PROBE, module.replace("/", "."), attribute, json.dumps(lazy)],
        env=env,
        cwd=task,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"{handler} does not load from its packaged layer:\n{result.stderr[-2000:]}"
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("service", function_services())
def test_every_handler_loads_from_its_own_pruned_sourceless_layer(service: str, tmp_path: Path) -> None:
    # Given the packaged dev stage of the service, unpacked as /var/task and /opt
    out = package(service, "dev")
    layer = unpack(out / "pythonRequirements.zip", tmp_path / "opt")
    runtime = runtime_dir(tmp_path)
    for name, fn in resources_of_type(template(service, "dev"), "AWS::Lambda::Function").items():
        props = fn["Properties"]
        task = unpack(out / props["Code"]["S3Key"].split("/")[-1], tmp_path / name)
        # When the runtime imports the handler (and what it imports on first use)
        result = load_like_lambda(task, layer, runtime, props["Handler"], LAZY_IMPORTS.get(service, []))
        loaded, files = set(result["loaded"]), result["files"]
        # Then library code came from the layer's bytecode, and the function's own from its zip
        assert files["aws_lambda_powertools.tracing.tracer"].endswith(
            "/opt/python/aws_lambda_powertools/tracing/tracer.pyc"
        ), name
        # No validation library: the functions validate with checked records
        assert not [m for m in loaded if m.split(".")[0] in ("pydantic", "pydantic_core")], name
        own = [m for m in loaded if m.startswith("handlers.")]
        assert own, name
        assert all(files[m].startswith(str(task)) for m in own), name
        # Only functions with HTTP routes import the HTTP resolver
        is_http = props["Handler"].rsplit(".", 1)[0].endswith("/api")
        assert ("aws_lambda_powertools.event_handler" in loaded) == is_http, name
        # ... and of it only the API Gateway resolver and the event classes it needs (lazy package inits)
        assert not [m for m in loaded if m.startswith(UNUSED_BY_ANY_FUNCTION)], name
        # The cold start ran with the collector paused, and the first invocation resumes it
        assert result["gc_paused"], name
        assert result["outermost"] == "resume_gc_after_first_invocation.<locals>.invoke", name
        # The tracer patches botocore only: no X-Ray integration of another library is imported
        assert "aws_xray_sdk.ext.botocore.patch" in loaded, name
        assert not [
            m
            for m in loaded
            if m.startswith("aws_xray_sdk.ext.")
            and ".botocore" not in m
            and m not in ("aws_xray_sdk.ext.util", "aws_xray_sdk.ext.boto_utils")
        ], name


@pytest.mark.parametrize("service", function_services())
def test_layer_is_bytecode_only_within_budget_and_function_zips_carry_bytecode(service: str) -> None:
    out = package(service, "dev")
    layer_zip = out / "pythonRequirements.zip"
    with zipfile.ZipFile(layer_zip) as layer:
        names = layer.namelist()
    assert "python/aws_lambda_powertools/logging/logger.pyc" in names
    assert not [n for n in names if n.startswith(("python/pydantic/", "python/pydantic_core/"))]
    assert not [n for n in names if n.endswith(".py")], "the layer ships bytecode without sources"
    assert not [n for n in names if "/__pycache__/" in n]
    assert not [n for n in names if n.startswith("python/aws_xray_sdk/ext/sqlite3/")]
    assert layer_zip.stat().st_size <= LAYER_BUDGET_BYTES, f"{service} layer: {layer_zip.stat().st_size} bytes"
    for fn in resources_of_type(template(service, "dev"), "AWS::Lambda::Function").values():
        with zipfile.ZipFile(out / fn["Properties"]["Code"]["S3Key"].split("/")[-1]) as code:
            sources = [n for n in code.namelist() if n.endswith(".py")]
            compiled = set(code.namelist())
            # unchecked-hash only (flags 1): a timestamp-checked .pyc is stale in a zip and recompiled
            flags = {n: int.from_bytes(code.read(n)[4:8], "little") for n in compiled if n.endswith(".pyc")}
        assert not {n: f for n, f in flags.items() if f != 1}
        for source in sources:
            folder, _, file = source.rpartition("/")
            assert f"{folder}/__pycache__/{file[:-3]}.cpython-313.pyc" in compiled, source
