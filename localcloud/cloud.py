"""The local cloud: edge + runner + gateway + event sources, and the deploy of every stack."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud import ACCOUNT, REGION, cognito, iam
from localcloud.authorizer import JwksCache
from localcloud.cloudformation import LIVE, CloudFormation
from localcloud.codedeploy import CodeDeploy
from localcloud.cognito import SigningKey
from localcloud.deploy import TEMPLATE, Deployer, StackResult
from localcloud.edge import Edge, InvokeAnswer, free_port, lambda_error
from localcloud.faults import FaultRule
from localcloud.function_logs import FunctionLogs
from localcloud.gateway import Gateway
from localcloud.iam import AccessCheck
from localcloud.lambda_api import LambdaApi
from localcloud.metrics import EmfShipper, lambda_metrics
from localcloud.packaging import PARALLEL_PACKAGES, ROUTER_STACK, package, package_stacks
from localcloud.pollers import Scheduler
from localcloud.runner import FunctionNotFound, Invocation, Runner, Throttled
from localcloud.state import StateFolder, clear_moto
from localcloud.xray import Tracing

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = "platform"
RUNNING_FILE = "running.json"
Progress = Callable[[str], None]


ROUTER = ROUTER_STACK  # the environment's blue/green entry: deployed on demand with the colours (docs/blue-green.md)


def discover_stacks() -> list[str]:
    """The platform and every service with a serverless.yml (not the router: blue/green is on demand)."""
    services = sorted(p.parent.name for p in (ROOT / "services").glob("*/serverless.yml"))
    return [PLATFORM, *(s for s in services if s != ROUTER)]


def stack_name(stack: str, stage: str) -> str:
    return f"airline-{stack}-{stage}"


def stack_key(name: str, stage: str) -> str:
    """The local cloud's short name of a CloudFormation stack (its API prefix on the gateway):
    `airline-catalog-local` -> `catalog` on the `local` cloud; a colour of its environment is
    `<stage>/<stack>` (`airline-catalog-local-blue` -> `local-blue/catalog`); any other name stays."""
    short = name.removeprefix("airline-")
    if short.endswith(f"-{stage}"):
        return short.removesuffix(f"-{stage}")
    service, colour_of_stage, colour = short.partition(f"-{stage}-")
    return f"{stage}-{colour}/{service}" if colour_of_stage and service and colour else short


class DeployFailed(RuntimeError):
    """A stack ended in a failed or rolled-back state: CloudFormation's reason and the failed resource's."""


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
        state_dir: Path | None = None,
        reset: bool = False,
        save_interval: float = 30.0,
    ) -> None:
        self.stage = stage
        self.state = StateFolder(state_dir) if state_dir else None  # None: nothing kept after stop
        if self.state and reset:
            self.state.reset()
        self.save_interval = save_interval
        # `sls invoke local --stage local` and `localcloud env` find a running cloud by this file
        self.marker = state_dir.parent / RUNNING_FILE if state_dir else None
        self.restored = False
        # tokens of this cloud only: the key is kept with its state
        self.signing_key = self.state.signing_key() if self.state else SigningKey.generate()
        self.edge = Edge(edge_port if edge_port else free_port(host), host)
        self._own_workdir = workdir is None
        self.keep_workdir = False
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="localcloud-"))
        self.access = AccessCheck(ACCOUNT)  # IAM: each function's role, evaluated at the edge
        self.runner = Runner(self.workdir, self.edge.url, account_limit=account_concurrency, region=REGION)
        self.edge.faults.set(faults or [])
        self.runner.faults = self.edge.faults
        self.tracing = Tracing(self.edge.url)  # X-Ray daemon stand-in + the segments AWS services write
        self.runner.tracing = self.tracing
        self.metrics = EmfShipper(self.workdir / "logs", self.edge.url)  # EMF in function logs -> CloudWatch
        self.keys = JwksCache(self.edge.url)
        self.gateway = Gateway(
            self.invoke_event, self.keys, host=host, port=gateway_port or 0, region=REGION, account=ACCOUNT
        )
        self.gateway.stats = lambda: {
            **self.runner.stats(),
            "_dynamodb": {"transactionConflicts": self.edge.dynamodb.conflicts},  # answered by the edge's isolation
        }
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
        # CodeDeploy: groups and alias updates from the templates, deployments that shift, its API at the edge
        self.codedeploy = CodeDeploy(self.runner, self.invoke_event, self.edge.url, region=REGION, account=ACCOUNT)
        self.deployer.codedeploy = self.codedeploy
        self.edge.codedeploy = self.codedeploy
        iam.RESOURCE_OF["codedeploy"] = self.codedeploy.resource_of
        # CloudFormation on the edge: every deploy (sls, AWS CLI, `make local`) is one of its operations
        self._deploy_lock = threading.RLock()
        self.cloudformation = CloudFormation(
            self.deployer,
            region=REGION,
            account=ACCOUNT,
            workdir=self.workdir,
            key_of=lambda n: stack_key(n, stage),
            lock=self._deploy_lock,
        )
        self.cloudformation.on_change = self._stacks_changed
        self.cloudformation.on_deployed = self._start_deployments
        self._before_traffic: Callable[[list[str]], None] | None = None
        self.edge.cloudformation = self.cloudformation.handle
        self.lambda_api = LambdaApi(self.runner, self.cloudformation.store_zip, self._read_s3)
        self.edge.lambda_manager = self.lambda_api.handle
        self.function_logs = FunctionLogs(self.edge.url, REGION)  # CloudWatch Logs, as Lambda writes them
        self.runner.log_sink = self.function_logs
        self.deployment = Deployment()
        self.started_at = 0.0
        self._edge_started = False
        self._deployed = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Edge, gateway and schedules up, state restored if kept; on failure everything is undone."""
        self.started_at = time.perf_counter()
        self.edge.invoke_handler = self._invoke_api
        self.edge.access_check = self.access
        try:
            if self.state:
                self.state.acquire()
            cognito.install(self.signing_key)
            self.edge.start()
            self._edge_started = True
            self.tracing.start()
            self.function_logs.start()
            self.runner.observers.append(lambda_metrics(self.edge.url))
            self.metrics.start()
            if self.state and self.state.has_snapshot():
                stacks = self.state.load()
                self.deployer.state, self.deployer.exports = stacks["state"], stacks["exports"]
                self.cloudformation.stacks = stacks.get("cloudformation", {})
                self.restored = True
            elif self.state:
                clear_moto()
            self.gateway.start()
            self.scheduler.start()
        except BaseException:
            self.stop(save=False)
            raise

    def stop(self, *, save: bool = True) -> None:
        """Stop everything. Nothing calls in once the gateway, pollers and schedules stop: the state is
        snapshotted then, the edge's ports and the state folder are freed, and only then are the
        workers stopped and their unpacked code deleted (slow on a busy disk) — so a new start right
        after this one finds its ports and its state free."""
        if self.marker and self._deployed:
            self.marker.unlink(missing_ok=True)
        self.codedeploy.stop()
        self.deployer.stop()
        self.scheduler.stop()
        self.gateway.stop()
        if self.state:
            self.state.stop_saving()
            if save and self._edge_started and self._deployed:
                self.save_state()
        self.metrics.stop()
        self.function_logs.stop()
        self.tracing.stop()
        self.edge.stop()
        self._edge_started = False
        if self.state:
            self.state.release()
        cognito.uninstall()
        self.runner.stop()
        if self._own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def save_state(self) -> None:
        if self.state:
            self.state.save(self._stacks())

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- deploy -------------------------------------------------------------------------------
    def package_all(
        self, stacks: list[str] | None = None, progress: Progress = print, jobs: int = PARALLEL_PACKAGES
    ) -> dict[str, Path]:
        """Every stack's package, up to `jobs` `sls package` at once; unchanged stacks come from the cache."""
        return package_stacks(stacks or discover_stacks(), self.stage, jobs=jobs, progress=progress)

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
        for name, kept in list(self.cloudformation.stacks.items()):  # restored stacks deployed with sls/the CLI
            if kept.key not in packages and kept.status in LIVE and kept.status != "REVIEW_IN_PROGRESS":
                self._check(
                    self.cloudformation.deploy(
                        name,
                        kept.template,
                        body=kept.body,
                        parameters=kept.parameters,
                        tags=kept.tags,
                        capabilities=kept.capabilities,
                        package_dir=kept.package_dir,
                    )
                )
                progress(f"  deployed {kept.key} again (restored stack {name})")
        self._deployed = True
        self.write_marker()
        if self.state:
            self.save_state()
            self.state.save_every(self.save_interval, self._stacks, progress)
        return self.deployment

    def _stacks(self) -> dict[str, Any]:
        with self._deploy_lock:
            return {
                "state": dict(self.deployer.state),
                "exports": dict(self.deployer.exports),
                "cloudformation": dict(self.cloudformation.stacks),
            }

    def deploy_stack(
        self,
        stack: str,
        package_dir: Path | None,
        stage: str | None = None,
        parameters: dict[str, str] | None = None,
        *,
        previous: bool = False,
        before_traffic: Callable[[list[str]], None] | None = None,
    ) -> StackResult:
        """Create or update one packaged stack through CloudFormation on the edge (the path `sls deploy` takes
        too); `DeployFailed` with CloudFormation's reasons when it did not complete. `stage`: this cloud's, or
        another over the same environment (a colour such as local-green, served at the gateway's
        `/<stage>/<service>/`). `previous`: the template and code the stack already runs (UsePreviousTemplate).
        The CodeDeploy deployments its alias updates created start then (`before_traffic` sees their ids)."""
        name = stack_name(stack, stage or self.stage)
        with self._deploy_lock:  # one deploy at a time (the deployer keeps per-deploy state)
            existing = self.cloudformation.stacks.get(name)
            if previous:
                if existing is None:
                    raise LookupError(f"no deployed stack {name!r}")
                template, package_dir = existing.template, existing.package_dir
            else:
                assert package_dir is not None
                template = json.loads((package_dir / TEMPLATE).read_text())
            if existing is not None and existing.status == "ROLLBACK_COMPLETE":  # a failed create: made again
                self.cloudformation.delete(existing.name)
            self._before_traffic = before_traffic
            try:
                done = self.cloudformation.deploy(
                    name,
                    template,
                    parameters=parameters,
                    capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                    package_dir=package_dir,
                )
            finally:
                self._before_traffic = None
        return self._check(done)

    def _start_deployments(self, result: StackResult) -> None:
        """After a stack update (any path: sls, AWS CLI, `make local`): start the CodeDeploy deployments its
        alias updates created, as CloudFormation does under CodeDeployLambdaAliasUpdate."""
        if self._before_traffic is not None:
            self._before_traffic(result.deployments)
        for deployment_id in result.deployments:
            self.codedeploy.start(deployment_id)

    def _check(self, done: Any) -> StackResult:
        if done.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE") or done.result is None:
            failed = [e for e in done.events if e.status.endswith("_FAILED")]
            why = "; ".join(f"{e.logical_id}: {e.reason}" for e in failed[-2:]) or done.reason
            raise DeployFailed(f"stack {done.name}: {done.status}: {why}")
        result: StackResult = done.result
        return result

    def _stacks_changed(self) -> None:
        """After every CloudFormation operation: what the cloud serves follows the stacks."""
        self.deployment.stacks = {
            s.key: s.result for s in self.cloudformation.stacks.values() if s.result is not None and s.status in LIVE
        }
        router = self.deployment.stacks.get(ROUTER)  # the router owns the public entry: its live colour
        self.gateway.set_live(_live_apis(router.outputs, self.gateway.url) if router is not None else {})
        if self._deployed:
            self.write_marker()

    def _read_s3(self, bucket: str, key: str) -> bytes:
        body: bytes = self.deployer.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _version_faults(self, spec: dict[str, Any]) -> Callable[[list[str]], None]:
        """A release rehearsal's bad change: fault rules on the new versions (`rate`; `throughAlias`: only
        what the alias sends them, else every call, the pre-traffic hook's too), before any traffic."""

        def install(deployment_ids: list[str]) -> None:
            rules = list(self.edge.faults.rules())
            for deployment_id in deployment_ids:
                d = self.codedeploy.deployments[deployment_id]
                rules.append(
                    FaultRule(
                        service="lambda",
                        error="crash",
                        rate=float(spec.get("rate", 1.0)),
                        function=d.function,
                        version=d.target_version,
                        qualifier=d.alias if spec.get("throughAlias") else None,
                    )
                )
            self.edge.faults.set(rules)

        return install

    def redeploy(
        self,
        stack: str,
        *,
        stage: str | None = None,
        parameters: dict[str, str] | None = None,
        previous: bool = False,
        packageDir: str | None = None,
        minuteSeconds: float | None = None,
        versionFaults: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Package one known stack again (or take `packageDir`, a package of it) and update it in place; a
        summary of what happened. Stacks of the environment's colour stages and its router may also be
        created this way (blue/green on demand). `previous`: update with what the stack already runs;
        `minuteSeconds`: the CodeDeploy clock of the deployments it starts; `versionFaults`: a rehearsal's
        bad change on the new versions (`_version_faults`)."""
        stage = stage or self.stage
        on_demand = stack == ROUTER or stage.startswith(f"{self.stage}-")
        if stack not in [*discover_stacks(), ROUTER] or (stack not in self.deployment.stacks and not on_demand):
            raise LookupError(f"no deployed stack {stack!r}")
        if stack == ROUTER and stage != self.stage:
            raise LookupError(f"the router is deployed per environment: stage {self.stage!r}, not {stage!r}")
        if minuteSeconds is not None:
            self.codedeploy.minute_seconds = float(minuteSeconds)
        package_dir = None if previous else Path(packageDir) if packageDir else package(stack, stage)
        result = self.deploy_stack(
            stack,
            package_dir,
            stage,
            parameters,
            previous=previous,
            before_traffic=self._version_faults(versionFaults) if versionFaults else None,
        )
        self.write_marker()
        return {
            "stack": stack,
            "stackName": stack_name(stack, stage),
            "outputs": result.outputs,
            "created": dict(result.created),
            "kept": dict(result.kept),
            "notEmulated": dict(result.not_emulated),
            "functions": len(result.functions),
            "reloaded": sorted(result.reloaded),
            "deployments": result.deployments,
        }

    def write_marker(self) -> None:
        """What a client needs to reach this running cloud: endpoints and each function's resolved environment."""
        if self.marker is None:
            return
        running = {
            "pid": os.getpid(),
            "stage": self.stage,
            "region": REGION,
            "edge": self.edge.url,
            "gateway": self.gateway.url,
            "functions": {name: self.runner.spec(name).environment for name in self.runner.names()},
            # each function's role credentials (STS, local only): `sls invoke local` runs as the function would
            "credentials": {name: self.runner.spec(name).credentials for name in self.runner.names()},
        }
        temporary = self.marker.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        temporary.write_text(json.dumps(running, indent=1))
        temporary.replace(self.marker)

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
        headers = {"X-Amz-Executed-Version": invocation.executed_version, "x-amz-request-id": invocation.request_id}
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
        # the public entry of this stage's APIs (a colour's own endpoints are `<stage>/<service>` stacks)
        return {s: r.api for s, r in self.deployment.stacks.items() if r.api and "/" not in s}


def _live_apis(outputs: dict[str, Any], gateway_url: str) -> dict[str, str]:
    """The router's live endpoints as the gateway's public paths: {"booking": "local-green/booking", ...}."""
    live: dict[str, str] = {}
    for name, value in outputs.items():
        if name.endswith("ApiUrl") and isinstance(value, str) and value.startswith(gateway_url + "/"):
            live[name.removesuffix("ApiUrl").lower()] = value.removeprefix(gateway_url + "/")
    return live
