"""The local cloud: edge + runner + gateway + event sources, and the deploy of every stack."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud import ACCOUNT, REGION
from localcloud.authorizer import JwksCache
from localcloud.deploy import TEMPLATE, Deployer, StackResult
from localcloud.edge import Edge, InvokeAnswer, free_port, lambda_error
from localcloud.faults import FaultRule
from localcloud.gateway import Gateway
from localcloud.pollers import Scheduler
from localcloud.runner import FunctionNotFound, Invocation, Runner, Throttled

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = "platform"
Progress = Callable[[str], None]


def discover_stacks() -> list[str]:
    """The platform and every service with a serverless.yml."""
    return [PLATFORM, *sorted(p.parent.name for p in (ROOT / "services").glob("*/serverless.yml"))]


def stack_name(stack: str, stage: str) -> str:
    return f"airline-{stack}-{stage}"


def package(stack: str, stage: str) -> Path:
    """The packaged folder (template + zips) of a stack, built by `sls package` when its inputs changed."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support import stacks

    return stacks.package(stack, stage)


def deploy_order(templates: dict[str, dict[str, Any]]) -> list[str]:
    """Platform first, then stacks after the stacks whose exports they import."""
    exporters: dict[str, str] = {}
    for stack, template in templates.items():
        for output in (template.get("Outputs") or {}).values():
            name = (output.get("Export") or {}).get("Name")
            if isinstance(name, str):
                exporters[name] = stack
            elif isinstance(name, dict) and "Fn::Sub" in name and isinstance(name["Fn::Sub"], str):
                exporters[name["Fn::Sub"]] = stack
    needs: dict[str, set[str]] = {}
    for stack, template in templates.items():
        imported = set(_imports(template))
        needs[stack] = {exporters[n] for n in imported if n in exporters and exporters[n] != stack}
        if stack != PLATFORM and PLATFORM in templates:
            needs[stack].add(PLATFORM)
    order: list[str] = []
    while len(order) < len(templates):
        ready = sorted(s for s in templates if s not in order and needs[s] <= set(order))
        if not ready:
            raise RuntimeError(f"circular imports between stacks: {sorted(set(templates) - set(order))}")
        order += ready
    return order


def _imports(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = []
        for key, arg in value.items():
            if key == "Fn::ImportValue" and isinstance(arg, str):
                out.append(arg)
            else:
                out += _imports(arg)
        return out
    if isinstance(value, list):
        return [name for item in value for name in _imports(item)]
    return []


@dataclass
class Deployment:
    stacks: dict[str, StackResult] = field(default_factory=dict)

    def not_emulated(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for result in self.stacks.values():
            total.update(result.not_emulated)
        return total

    def not_emulated_line(self) -> str:
        counts = self.not_emulated()
        if not counts:
            return "not emulated locally: nothing"
        return "not emulated locally: " + ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))

    def export(self, name: str) -> Any:
        for result in self.stacks.values():
            if name in result.exports:
                return result.exports[name]
        raise KeyError(name)


class LocalCloud:
    def __init__(
        self,
        *,
        stage: str = "local",
        edge_port: int | None = 4566,
        gateway_port: int | None = 0,
        host: str = "127.0.0.1",
        schedules: bool = True,
        sqs: bool = True,
        account_concurrency: int = 12,
        faults: list[FaultRule] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.stage = stage
        self.edge = Edge(edge_port if edge_port else free_port(host), host)
        self._own_workdir = workdir is None
        self.keep_workdir = False
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="localcloud-"))
        self.runner = Runner(self.workdir, self.edge.url, account_limit=account_concurrency, region=REGION)
        self.edge.faults.set(faults or [])
        self.runner.faults = self.edge.faults
        self.keys = JwksCache(self.edge.url)
        self.gateway = Gateway(
            self.invoke_event, self.keys, host=host, port=gateway_port or 0, region=REGION, account=ACCOUNT
        )
        self.gateway.stats = self.runner.stats
        self.gateway.faults = self.edge.faults
        self.gateway.redeploy = self.redeploy
        self.scheduler = Scheduler(self.invoke_event, REGION, ACCOUNT)
        self.deployer = Deployer(
            self.edge.url,
            self.runner,
            self.gateway,
            self.scheduler,
            self.invoke_event,
            region=REGION,
            account=ACCOUNT,
            schedules_enabled=schedules,
            sqs_enabled=sqs,
        )
        self.deployment = Deployment()
        self._deploy_lock = threading.Lock()
        self.started_at = 0.0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.started_at = time.perf_counter()
        self.edge.invoke_handler = self._invoke_api
        self.edge.start()
        self.gateway.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.deployer.stop()
        self.scheduler.stop()
        self.gateway.stop()
        self.runner.stop()
        self.edge.stop()
        if self._own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- deploy -------------------------------------------------------------------------------
    def package_all(self, stacks: list[str] | None = None, progress: Progress = print) -> dict[str, Path]:
        out = {}
        for stack in stacks or discover_stacks():
            started = time.perf_counter()
            progress(f"  packaging {stack} ({self.stage}) ...")
            out[stack] = package(stack, self.stage)
            progress(f"  packaged {stack} in {time.perf_counter() - started:.1f}s")
        return out

    def deploy_all(self, packages: dict[str, Path], progress: Progress = print) -> Deployment:
        templates = {s: json.loads((p / TEMPLATE).read_text()) for s, p in packages.items()}
        for stack in deploy_order(templates):
            started = time.perf_counter()
            result = self.deploy_stack(stack, packages[stack])
            created = sum(result.created.values()) + sum(result.kept.values())
            progress(
                f"  deployed {stack}: {created} resources, {len(result.functions)} functions"
                f"{', API ' + result.api if result.api else ''} ({time.perf_counter() - started:.1f}s)"
            )
        return self.deployment

    def deploy_stack(self, stack: str, package_dir: Path) -> StackResult:
        with self._deploy_lock:  # one deploy at a time (the deployer keeps per-deploy state)
            result = self.deployer.deploy(stack, package_dir, stack_name(stack, self.stage))
        self.deployment.stacks[stack] = result
        return result

    def redeploy(self, stack: str) -> dict[str, Any]:
        """Package one known stack again and update it in place; a summary of what happened."""
        if stack not in self.deployment.stacks or stack not in discover_stacks():
            raise LookupError(f"no deployed stack {stack!r}")
        result = self.deploy_stack(stack, package(stack, self.stage))
        return {
            "stack": stack,
            "created": dict(result.created),
            "kept": dict(result.kept),
            "notEmulated": dict(result.not_emulated),
            "functions": len(result.functions),
            "reloaded": sorted(result.reloaded),
        }

    # -- invoking -----------------------------------------------------------------------------
    def invoke_event(self, name_or_arn: str, event: Any) -> Invocation:
        return self.runner.invoke(name_or_arn, event, invoked_arn=name_or_arn)

    def _invoke_api(self, name_or_arn: str, payload: bytes, kind: str) -> InvokeAnswer:
        """The Lambda Invoke API on the edge (RequestResponse, Event, DryRun)."""
        try:
            self.runner.spec(name_or_arn)
        except FunctionNotFound:
            return lambda_error(404, "ResourceNotFoundException", f"Function not found: {name_or_arn}")
        try:
            event = json.loads(payload) if payload else {}
        except ValueError:
            return lambda_error(400, "InvalidRequestContentException", "Could not parse request body into json")
        if kind == "DryRun":
            return InvokeAnswer(204, b"")
        if kind == "Event":
            threading.Thread(target=self.invoke_event, args=(name_or_arn, event), daemon=True).start()
            return InvokeAnswer(202, b"")
        try:
            invocation = self.invoke_event(name_or_arn, event)
        except Throttled as exc:
            answer = lambda_error(429, "TooManyRequestsException", str(exc))
            answer.body = json.dumps({"Type": "User", "message": "Rate Exceeded.", "Reason": exc.reason}).encode()
            return answer
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amz-request-id": invocation.request_id}
        if invocation.function_error:
            headers["X-Amz-Function-Error"] = invocation.function_error
        return InvokeAnswer(200, invocation.payload, headers)

    # -- what a user needs ----------------------------------------------------------------------
    def user_pool(self) -> tuple[str, str]:
        env = self.stage if self.stage in ("local", "dev", "prod") else "prod"
        return self.deployment.export(f"airline-{env}-UserPoolId"), self.deployment.export(
            f"airline-{env}-UserPoolClientId"
        )

    def endpoints(self) -> dict[str, str]:
        return {s: r.api for s, r in self.deployment.stacks.items() if r.api}
