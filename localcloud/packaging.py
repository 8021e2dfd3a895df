"""Package the real stacks with the Serverless Framework, once per content change.

The local cloud deploys these packages and every test that looks at CloudFormation reads
them, so both see what a deploy would upload. Packages are cached in
`.build/<stack>/<stage>/` under a fingerprint of every file that can change them (an
unchanged stack is not packaged again); a lock per stack keeps parallel sessions in one
work tree from packaging the same folder at once. `package_stacks` packages several
stacks at once, bounded (`sls package` is CPU-bound node: 3 at once on 2 cores, see
scripts/bench_localcloud.py). The services' shared layer requirements are pip-installed once
and copied per service (`shared_install.py`), not installed again by every service.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from localcloud import shared_install

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build"
PLATFORM = "platform"
ROUTER_STACK = "router"  # blue/green: the environment's entry (services/router), one per environment
ENVIRONMENTS = ("local", "dev", "prod")
COMPUTE_STAGES = ("local", "dev", "prod", "prod-blue", "prod-green")
PRODUCTION_STAGES = ("prod", "prod-blue", "prod-green")
PARALLEL_PACKAGES = 3  # measured: 2 vs 3 vs 6 at once on 2 cores (scripts/bench_localcloud.py)
_IGNORED_PARTS = {"__pycache__", ".serverless", ".requirements", "node_modules", ".pytest_cache"}


def services() -> tuple[str, ...]:
    """The compute stacks, deployed per stage (not the router: one per environment)."""
    return tuple(
        sorted(p.parent.name for p in (ROOT / "services").glob("*/serverless.yml") if p.parent.name != ROUTER_STACK)
    )


def function_services() -> tuple[str, ...]:
    """The services that ship functions (not `frontend`: static hosting of the web app)."""
    return tuple(s for s in services() if "\nfunctions:" in (stack_dir(s) / "serverless.yml").read_text())


def stacks() -> tuple[str, ...]:
    return (PLATFORM, ROUTER_STACK, *services())


ENVIRONMENT_STACKS = (PLATFORM, ROUTER_STACK)  # deployed once per environment, not per stage


def stages(stack: str) -> tuple[str, ...]:
    return ENVIRONMENTS if stack in ENVIRONMENT_STACKS else COMPUTE_STAGES


def stack_dir(stack: str) -> Path:
    return ROOT if stack == PLATFORM else ROOT / "services" / stack


def _inputs(stack: str) -> Iterator[Path]:
    roots = [ROOT / "serverless.yml", ROOT / "resources", ROOT / "synthetics"]  # the canary's script is inlined
    if stack != PLATFORM:
        roots = [stack_dir(stack), ROOT / "services" / "common", ROOT / "handlers", ROOT / "requirements.txt"]
    roots += [ROOT / "package-lock.json", ROOT / "patches", ROOT / "plugins"]
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in candidates:
            if path.is_file() and not _IGNORED_PARTS.intersection(path.relative_to(ROOT).parts):
                yield path


def fingerprint(stack: str, stage: str) -> str:
    digest = hashlib.sha256(f"{stack}:{stage}".encode())
    for path in _inputs(stack):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def _stack_lock(stack: str) -> Iterator[None]:
    BUILD.mkdir(exist_ok=True)
    with (BUILD / f".{stack}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "NODE_NO_WARNINGS": "1"})
    # the layer requirements are installed once and copied per service (localcloud/shared_install.py)
    env.setdefault("AIRLINE_PYTHON", str(shared_install.wrapper(BUILD / ".python")))
    return env


def package(stack: str, stage: str) -> Path:
    """The folder with the packaged template and artifacts of `stack` for `stage`."""
    out = BUILD / stack / stage
    marker = out / ".fingerprint"
    wanted = fingerprint(stack, stage)
    with _stack_lock(stack):
        if marker.exists() and marker.read_text() == wanted:
            return out
        shutil.rmtree(out, ignore_errors=True)
        sls = ROOT / "node_modules" / ".bin" / "sls"
        result = subprocess.run(
            [str(sls), "package", "--stage", stage, "--package", str(out)],
            cwd=stack_dir(stack),
            env=_offline_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"sls package {stack} --stage {stage} failed:\n{result.stdout}\n{result.stderr}")
        _point_artifacts_at(out)
        marker.write_text(wanted)
    return out


def _point_artifacts_at(out: Path) -> None:
    """The framework records each individually packaged function's artifact under the service's own
    `.serverless/` even with `--package`; `sls deploy --package <out>` then looks there. Point them at
    the copies in `out`, so the package deploys from wherever it is."""
    state_file = out / "serverless-state.json"
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    for function in (state.get("service", {}).get("functions") or {}).values():
        code = function.get("package") or {}
        artifact = code.get("artifact")
        if isinstance(artifact, str) and (out / Path(artifact).name).exists():
            code["artifact"] = str(out / Path(artifact).name)
    state_file.write_text(json.dumps(state, indent=2))


def is_cached(stack: str, stage: str) -> bool:
    """True when the stack's package for the stage is up to date (no `sls package` needed)."""
    marker = BUILD / stack / stage / ".fingerprint"
    return marker.exists() and marker.read_text() == fingerprint(stack, stage)


def package_stacks(
    names: list[str], stage: str, *, jobs: int = PARALLEL_PACKAGES, progress: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Package several stacks for one stage, up to `jobs` at once; unchanged ones come from the cache."""

    def one(stack: str) -> tuple[str, Path]:
        started = time.perf_counter()
        cached = is_cached(stack, stage)
        path = package(stack, stage)
        if progress:
            how = "cached" if cached else f"packaged in {time.perf_counter() - started:.1f}s"
            progress(f"  {stack} ({stage}): {how}")
        return stack, path

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(one, names))


def package_all(jobs: int = 2) -> dict[tuple[str, str], Path]:
    """Package every stack for every stage; one worker per stack keeps folders apart."""

    def one_stack(stack: str) -> list[tuple[tuple[str, str], Path]]:
        return [((stack, stage), package(stack, stage)) for stage in stages(stack)]

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(one_stack, stacks())
    return {key: path for batch in results for key, path in batch}


@cache
def _load(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(path).read_text())
    return loaded


def template(stack: str, stage: str) -> dict[str, Any]:
    path = package(stack, stage) / "cloudformation-template-update-stack.json"
    return _load(str(path))


def resources_of_type(tpl: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in tpl.get("Resources", {}).items() if res.get("Type") == resource_type}
