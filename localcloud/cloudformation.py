"""CloudFormation on the edge, realized by the local cloud's deployer.

The edge sends every CloudFormation API call (query protocol, XML answers) here instead of to
moto's CloudFormation, which validates what AWS does not and silently skips what it cannot
create. Stacks are realized by `localcloud.deploy.Deployer`, the one realizer: `sls deploy`
(change sets over a template in the deployment bucket), the AWS CLI and `make local`
(`LocalCloud.deploy_stack`: the packaged template and zips in `.build/`) all go through
`CloudFormation.deploy`, so stack status, events, outputs, exports and the refusal to delete
an export in use are the same whoever deploys.

Served: CreateStack, UpdateStack, DeleteStack, DescribeStacks, DescribeStackEvents,
DescribeStackResource(s), ListStackResources, ListStacks, ListExports, ListImports,
ValidateTemplate, GetTemplate, GetTemplateSummary, CreateChangeSet, DescribeChangeSet,
ExecuteChangeSet, DeleteChangeSet, ListChangeSets, SetStackPolicy. Anything else answers
`InvalidAction`, as AWS does for an unknown operation. Operations run synchronously: the call
that starts one returns when the stack is complete (or rolled back), and the events tell how
it went. Parameters are taken from the template's defaults and the call; nested stacks,
transforms (macros), drift, stack sets and rollback triggers are not served.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

from localcloud.deploy import TEMPLATE, Deployer, ResourceFailed, StackResult
from localcloud.resolver import ResolveError, Resolver, creation_order, references

XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
PSEUDO = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}
TEMPLATE_SECTIONS = {
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
}
RESOURCE_TYPE = re.compile(r"^(AWS|Alexa)::[A-Za-z0-9]+::[A-Za-z0-9]+(::[A-Za-z0-9]+)?$|^Custom::[A-Za-z0-9_@-]+$")
IAM_TYPES = {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
# a stack in one of these states has its resources (ListExports, imports, DescribeStacks by name)
LIVE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "REVIEW_IN_PROGRESS",
}


class CloudFormationError(Exception):
    """An API error as CloudFormation answers it (query protocol)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validation(message: str) -> CloudFormationError:
    return CloudFormationError("ValidationError", message)


@dataclass
class Event:
    logical_id: str
    kind: str
    status: str
    physical_id: str = ""
    reason: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class ChangeSet:
    name: str
    id: str
    kind: str  # CREATE | UPDATE
    template: dict[str, Any]
    body: str
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: list[str]
    changes: list[dict[str, Any]]
    status: str = "CREATE_COMPLETE"
    reason: str = ""
    execution: str = "AVAILABLE"
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class Stack:
    name: str
    id: str
    key: str  # the deployer's name for it (gateway prefix, realized state)
    status: str = "REVIEW_IN_PROGRESS"
    reason: str = ""
    template: dict[str, Any] = field(default_factory=dict)
    body: str = "{}"
    parameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    package_dir: Path | None = None  # code from a package folder (make local); None: from S3
    result: StackResult | None = None
    events: list[Event] = field(default_factory=list)  # oldest first
    resources: dict[str, Event] = field(default_factory=dict)  # logical id -> its latest event
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    updated: dt.datetime | None = None
    deleted: dt.datetime | None = None
    policy: str = ""

    def event(self, logical_id: str, kind: str, status: str, physical_id: str = "", reason: str = "") -> None:
        happened = Event(logical_id, kind, status, physical_id, reason)
        self.events.append(happened)
        if kind != "AWS::CloudFormation::Stack":
            self.resources[logical_id] = happened

    def stack_event(self, status: str, reason: str = "") -> None:
        self.status, self.reason = status, reason
        self.event(self.name, "AWS::CloudFormation::Stack", status, self.id, reason)

    def outputs(self) -> list[dict[str, Any]]:
        if self.result is None:
            return []
        declared = self.template.get("Outputs") or {}
        out = []
        for key, value in self.result.outputs.items():
            entry: dict[str, Any] = {"OutputKey": key, "OutputValue": _text(value)}
            if isinstance(declared.get(key, {}).get("Description"), str):
                entry["Description"] = declared[key]["Description"]
            if key in self.result.export_names:
                entry["ExportName"] = self.result.export_names[key]
            out.append(entry)
        return out

    def exports(self) -> dict[str, Any]:
        return dict(self.result.exports) if self.result is not None and self.status in LIVE else {}


# where a function's code comes from: (stack, Code/Content of the resource) -> zip on this machine
Artifacts = Callable[[dict[str, Any]], Path]


class CloudFormation:
    """The stacks of one local cloud and the API over them."""

    def __init__(
        self,
        deployer: Deployer,
        *,
        region: str,
        account: str,
        workdir: Path,
        key_of: Callable[[str], str],
        lock: threading.RLock | None = None,
    ) -> None:
        self.deployer = deployer
        self.region = region
        self.account = account
        self.artifacts_dir = workdir / "artifacts"
        self.key_of = key_of
        self.stacks: dict[str, Stack] = {}  # live stacks by name
        self.gone: dict[str, Stack] = {}  # deleted stacks by id (DescribeStacks/Events by id still answer)
        self.on_change: Callable[[], None] = lambda: None  # after every operation (state snapshot, markers)
        self.on_deployed: Callable[[StackResult], None] = lambda result: None  # a create/update completed
        self._lock = lock or threading.RLock()  # the cloud's deploy lock: one deploy at a time, whoever asks

    # -- the operation every path takes -----------------------------------------------------------
    def deploy(
        self,
        name: str,
        template: dict[str, Any],
        *,
        body: str | None = None,
        parameters: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        capabilities: list[str] | None = None,
        package_dir: Path | None = None,
        changes: list[dict[str, Any]] | None = None,
    ) -> Stack:
        """Create or update stack `name` from `template`: realized by the deployer, with events, outputs,
        exports; on a failure rolled back as CloudFormation does (the events say which resource and why)."""
        with self._lock:
            validate(template, capabilities, parameters or {})
            try:  # parameter values (AllowedValues, unknown names) are refused before anything starts
                self.deployer.parameter_values(template, parameters or {})
            except ValueError as exc:
                raise validation(str(exc)) from exc
            stack = self.stacks.get(name)
            if stack is None or stack.status == "REVIEW_IN_PROGRESS":
                stack = stack or self._new_stack(name)
                action = "CREATE"
            else:
                _check_updatable(stack)
                self._check_exports_kept(stack, template, parameters or {})
                action = "UPDATE"
            previous = (stack.template, stack.body, stack.parameters, stack.package_dir, stack.result)
            changed = _changed_ids(changes if changes is not None else diff(stack.template, template))
            stack.template, stack.body = template, body or json.dumps(template)
            stack.parameters, stack.tags = dict(parameters or {}), dict(tags or stack.tags)
            stack.capabilities, stack.package_dir = list(capabilities or []), package_dir
            stack.stack_event(f"{action}_IN_PROGRESS", "User Initiated")
            try:
                stack.result = self._realize(stack, action, changed)
            except ResourceFailed as exc:
                stack.event(exc.logical_id, exc.kind, f"{action}_FAILED", "", exc.reason)
                self._roll_back(stack, action, previous, exc)
            else:
                if action == "UPDATE":
                    stack.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                    for export in set(previous[4].exports if previous[4] else {}) - set(stack.result.exports):
                        self.deployer.exports.pop(export, None)
                    stack.updated = dt.datetime.now(dt.UTC)
                stack.stack_event(f"{action}_COMPLETE")
                self.on_deployed(stack.result)
            self.on_change()
            return stack

    def _new_stack(self, name: str) -> Stack:
        stack = Stack(
            name,
            f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{name}/{uuid.uuid4()}",
            self.key_of(name),
        )
        self.stacks[name] = stack
        return stack

    def _realize(self, stack: Stack, action: str, changed: set[str] | None) -> StackResult:
        status = {"CREATE": "CREATE", "UPDATE": "UPDATE"}[action]

        def on_resource(logical_id: str, kind: str, physical_id: str, reason: str) -> None:
            if changed is not None and logical_id not in changed and logical_id in stack.resources:
                return  # untouched by this update: no event, as CloudFormation
            verb = "CREATE" if logical_id not in stack.resources else status
            stack.event(logical_id, kind, f"{verb}_IN_PROGRESS", physical_id)
            stack.event(logical_id, kind, f"{verb}_COMPLETE", physical_id, reason)

        before = set(self.deployer.state.get(stack.key, {}))
        result = self.deployer.deploy(
            stack.key,
            stack.package_dir or self.artifacts_dir,
            stack.name,
            template=stack.template,
            artifacts=self._artifacts(stack),
            on_resource=on_resource,
            parameters=stack.parameters,
        )
        for logical_id in sorted(before - set(self.deployer.state.get(stack.key, {}))):
            gone = stack.resources.pop(logical_id, None)
            if gone is not None:
                stack.event(logical_id, gone.kind, "DELETE_COMPLETE", gone.physical_id)
        return result

    def _roll_back(
        self,
        stack: Stack,
        action: str,
        previous: tuple[dict[str, Any], str, dict[str, str], Path | None, StackResult | None],
        failure: ResourceFailed,
    ) -> None:
        rollback = "ROLLBACK" if action == "CREATE" else "UPDATE_ROLLBACK"
        stack.stack_event(
            f"{rollback}_IN_PROGRESS",
            f"The following resource(s) failed to {action.lower()}: [{failure.logical_id}]. "
            "Rollback requested by user.",
        )
        try:
            if action == "CREATE":
                self.deployer.remove(
                    stack.key, lambda lid, kind, pid, _r: stack.event(lid, kind, "DELETE_COMPLETE", pid)
                )
            else:
                stack.template, stack.body, stack.parameters, stack.package_dir, _ = previous
                stack.result = self._realize(stack, "UPDATE", None)
        except (ResourceFailed, ResolveError) as exc:
            stack.stack_event(f"{rollback}_FAILED", str(exc))
            return
        stack.stack_event(f"{rollback}_COMPLETE")

    def _artifacts(self, stack: Stack) -> Artifacts:
        if stack.package_dir is not None:
            folder = stack.package_dir
            return lambda code: folder / Path(str(code["S3Key"])).name
        return self.fetch_artifact

    def fetch_artifact(self, code: dict[str, Any]) -> Path:
        """A zip in the edge's S3 (the deployment bucket), stored by content: the same code is the same file,
        so a function whose zip did not change is not reloaded."""
        body = self.deployer.client("s3").get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
        return self.store_zip(body)

    def store_zip(self, body: bytes) -> Path:
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        path = self.artifacts_dir / f"{hashlib.sha256(body).hexdigest()}.zip"
        if not path.exists():
            temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            temporary.write_bytes(body)
            temporary.replace(path)
        return path

    def delete(self, name: str) -> Stack | None:
        with self._lock:
            stack = self.stacks.get(name) or self._by_id(name, live_only=True)
            if stack is None:
                return None  # deleting a stack that does not exist succeeds, as on AWS
            in_use = self.importers(stack)
            stack.stack_event("DELETE_IN_PROGRESS", "User Initiated")
            if in_use:
                export, importer = in_use[0]
                stack.stack_event("DELETE_FAILED", f"Export {export} cannot be deleted as it is in use by {importer}")
                self.on_change()
                return stack
            try:
                self.deployer.remove(
                    stack.key, lambda lid, kind, pid, reason: stack.event(lid, kind, _deleted(reason), pid, reason)
                )
            except ResourceFailed as exc:
                stack.event(exc.logical_id, exc.kind, "DELETE_FAILED", "", exc.reason)
                stack.stack_event("DELETE_FAILED", f"The following resource(s) failed to delete: [{exc.logical_id}]. ")
                self.on_change()
                return stack
            for export in stack.exports():
                self.deployer.exports.pop(export, None)
            stack.stack_event("DELETE_COMPLETE")
            stack.deleted = dt.datetime.now(dt.UTC)
            del self.stacks[stack.name]
            self.gone[stack.id] = stack
            self.on_change()
            return stack

    # -- exports and imports ------------------------------------------------------------------------
    def importers(self, stack: Stack) -> list[tuple[str, str]]:
        """(export, importing stack) for each export of `stack` another live stack imports."""
        exports = set(stack.exports())
        return [
            (name, other.name)
            for other in self.stacks.values()
            if other is not stack and other.status in LIVE
            for name in sorted(imports_of(other.template, self._resolver(other)) & exports)
        ]

    def _check_exports_kept(self, stack: Stack, template: dict[str, Any], parameters: dict[str, str]) -> None:
        """An update may not remove an export another stack imports (CloudFormation's ValidationError)."""
        resolver = Resolver(
            template,
            stack_name=stack.name,
            region=self.region,
            account=self.account,
            exports=self.deployer.exports,
            parameters=parameters,
        )
        wanted = set()
        for output in (template.get("Outputs") or {}).values():
            if "Export" in output:
                try:
                    wanted.add(resolver.resolve(output["Export"]["Name"]))
                except ResolveError:
                    continue  # names from resources: checked when realized
        for export, importer in self.importers(stack):
            if export not in wanted:
                raise validation(f"Cannot delete export {export} as it is in use by {importer}.")

    def _resolver(self, stack: Stack) -> Resolver:
        return Resolver(
            stack.template,
            stack_name=stack.name,
            region=self.region,
            account=self.account,
            exports=self.deployer.exports,
            parameters=stack.parameters,
        )

    def exporter(self, export: str) -> Stack | None:
        return next((s for s in self.stacks.values() if export in s.exports()), None)

    def _by_id(self, name_or_id: str, *, live_only: bool = False) -> Stack | None:
        for stack in self.stacks.values():
            if name_or_id in (stack.name, stack.id):
                return stack
        return None if live_only else self.gone.get(name_or_id)

    def stack(self, name_or_id: str) -> Stack:
        found = self._by_id(name_or_id)
        if found is None:
            raise validation(f"Stack with id {name_or_id} does not exist")
        return found

    # -- the API ------------------------------------------------------------------------------------
    def handle(self, body: bytes) -> tuple[int, bytes]:
        """One query-protocol request -> (HTTP status, XML)."""
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        action = params.get("Action", "")
        request_id = str(uuid.uuid4())
        operation = getattr(self, f"_api_{action}", None) if action.isalnum() else None
        try:
            if operation is None:
                raise CloudFormationError(
                    "InvalidAction", f"Could not find operation {action} for version 2010-05-15 (not served locally)"
                )
            result = operation(params)
        except CloudFormationError as exc:
            return exc.status, _error_xml(exc, request_id)
        except (ResolveError, ValueError) as exc:
            return 400, _error_xml(validation(str(exc)), request_id)
        return 200, _answer_xml(action, result, request_id)

    def _template_of(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        if "TemplateBody" in params:
            body = params["TemplateBody"]
        elif "TemplateURL" in params:
            body = self._read_url(params["TemplateURL"])
        else:
            raise validation("Either Template URL or Template Body must be specified.")
        return parse_template(body), body

    def _read_url(self, url: str) -> str:
        """The template at an S3 URL (path or virtual-host style, any endpoint): read from the edge's S3."""
        parsed = urlparse(url)
        host, path = parsed.netloc.split(":")[0], unquote(parsed.path.lstrip("/"))
        if re.match(r"^[^.]+\.s3[.-]", host):
            bucket, key = host.split(".s3", 1)[0], path
        else:
            bucket, _, key = path.partition("/")
        if not bucket or not key:
            raise validation("TemplateURL must be a supported URL.")
        s3 = self.deployer.client("s3")
        try:
            return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))
        except s3.exceptions.ClientError as exc:
            raise validation(f"S3 error: Access Denied or not found: {url} ({exc})") from exc

    def _api_ValidateTemplate(self, params: dict[str, str]) -> dict[str, Any]:
        template, _ = self._template_of(params)
        validate(template, None, {}, check_capabilities=False)
        declared = template.get("Parameters") or {}
        result: dict[str, Any] = {
            "Parameters": [
                {
                    "ParameterKey": name,
                    "NoEcho": str(bool(spec.get("NoEcho", False))).lower(),
                    **({"DefaultValue": str(spec["Default"])} if "Default" in spec else {}),
                    **({"Description": spec["Description"]} if "Description" in spec else {}),
                }
                for name, spec in declared.items()
            ]
        }
        if isinstance(template.get("Description"), str):
            result["Description"] = template["Description"]
        needed = required_capabilities(template)
        if needed:
            result["Capabilities"] = needed
            result["CapabilitiesReason"] = "The following resource(s) require capabilities: " + str(
                sorted({r["Type"] for r in (template.get("Resources") or {}).values() if r.get("Type") in IAM_TYPES})
            ).replace("'", "")
        return result

    def _api_CreateStack(self, params: dict[str, str]) -> dict[str, Any]:
        name = _required(params, "StackName")
        with self._lock:
            if name in self.stacks and self.stacks[name].status != "REVIEW_IN_PROGRESS":
                raise CloudFormationError("AlreadyExistsException", f"Stack [{name}] already exists")
            template, body = self._template_of(params)
            stack = self.deploy(
                name,
                template,
                body=body,
                parameters=_parameters(params),
                tags=_tags(params),
                capabilities=_list(params, "Capabilities"),
            )
            return {"StackId": stack.id}

    def _api_UpdateStack(self, params: dict[str, str]) -> dict[str, Any]:
        name = _required(params, "StackName")
        with self._lock:
            stack = self._by_id(name, live_only=True)
            if stack is None:
                raise validation(f"Stack [{name}] does not exist")
            _check_updatable(stack)
            if params.get("UsePreviousTemplate") == "true":
                template, body = stack.template, stack.body
            else:
                template, body = self._template_of(params)
            parameters = _parameters(params, stack.parameters)
            if not diff(stack.template, template) and parameters == stack.parameters:
                raise validation("No updates are to be performed.")
            self.deploy(
                stack.name,
                template,
                body=body,
                parameters=parameters,
                tags=_tags(params) or stack.tags,
                capabilities=_list(params, "Capabilities"),
            )
            return {"StackId": stack.id}

    def _api_DeleteStack(self, params: dict[str, str]) -> dict[str, Any]:
        self.delete(_required(params, "StackName"))
        return {}

    def _api_DescribeStacks(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            wanted = params.get("StackName")
            if wanted:
                stack = self.stack(wanted)
                if stack.status == "DELETE_COMPLETE" and not wanted.startswith("arn:"):
                    raise validation(f"Stack with id {wanted} does not exist")
                found = [stack]
            else:
                found = list(self.stacks.values())
            return {"Stacks": [_describe(s) for s in found]}

    def _api_ListStacks(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            filters = set(_list(params, "StackStatusFilter"))
            every = [*self.stacks.values(), *self.gone.values()]
            return {
                "StackSummaries": [
                    {
                        "StackId": s.id,
                        "StackName": s.name,
                        "CreationTime": _time(s.created),
                        "StackStatus": s.status,
                        **({"DeletionTime": _time(s.deleted)} if s.deleted else {}),
                        **({"LastUpdatedTime": _time(s.updated)} if s.updated else {}),
                    }
                    for s in every
                    if not filters or s.status in filters
                ]
            }

    def _api_DescribeStackEvents(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            stack = self.stack(_required(params, "StackName"))
            return {"StackEvents": [_event(stack, e) for e in reversed(stack.events)]}

    def _resource(self, stack: Stack, logical_id: str) -> Event:
        if logical_id not in stack.resources:
            raise validation(f"Resource {logical_id} does not exist for stack {stack.name}")
        return stack.resources[logical_id]

    def _api_DescribeStackResource(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            stack = self.stack(_required(params, "StackName"))
            logical_id = _required(params, "LogicalResourceId")
            resource = self._resource(stack, logical_id)
            detail = _resource(stack, logical_id, resource, "LastUpdatedTimestamp")
            return {"StackResourceDetail": detail}

    def _api_DescribeStackResources(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            if "StackName" in params:
                stack = self.stack(params["StackName"])
            else:
                physical = _required(params, "PhysicalResourceId")
                found = next(
                    (s for s in self.stacks.values() if any(e.physical_id == physical for e in s.resources.values())),
                    None,
                )
                if found is None:
                    raise validation(f"Stack for {physical} does not exist")
                stack = found
            only = params.get("LogicalResourceId")
            return {
                "StackResources": [
                    _resource(stack, lid, resource, "Timestamp")
                    for lid, resource in stack.resources.items()
                    if only in (None, lid)
                ]
            }

    def _api_ListStackResources(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            stack = self.stack(_required(params, "StackName"))
            return {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": lid,
                        "PhysicalResourceId": resource.physical_id,
                        "ResourceType": resource.kind,
                        "LastUpdatedTimestamp": _time(resource.at),
                        "ResourceStatus": resource.status,
                        **({"ResourceStatusReason": resource.reason} if resource.reason else {}),
                    }
                    for lid, resource in stack.resources.items()
                ]
            }

    def _api_ListExports(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            return {
                "Exports": [
                    {"ExportingStackId": s.id, "Name": name, "Value": _text(value)}
                    for s in self.stacks.values()
                    for name, value in s.exports().items()
                ]
            }

    def _api_ListImports(self, params: dict[str, str]) -> dict[str, Any]:
        export = _required(params, "ExportName")
        with self._lock:
            exporter = self.exporter(export)
            users = (
                [] if exporter is None else [importer for name, importer in self.importers(exporter) if name == export]
            )
            if not users:
                raise validation(f"Export '{export}' is not imported by any stack.")
            return {"Imports": users}

    def _api_GetTemplate(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            name = params.get("StackName", "")
            if params.get("ChangeSetName"):
                return {"TemplateBody": self._change_set(name, params["ChangeSetName"]).body}
            return {"TemplateBody": self.stack(name).body, "StagesAvailable": ["Original", "Processed"]}

    def _api_GetTemplateSummary(self, params: dict[str, str]) -> dict[str, Any]:
        if "StackName" in params:
            with self._lock:
                template = self.stack(params["StackName"]).template
        else:
            template, _ = self._template_of(params)
        summary = self._api_ValidateTemplate({"TemplateBody": json.dumps(template)})
        summary["ResourceTypes"] = sorted({r["Type"] for r in template.get("Resources", {}).values()})
        summary["Version"] = str(template.get("AWSTemplateFormatVersion", "2010-09-09"))
        return summary

    def _api_SetStackPolicy(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.stack(_required(params, "StackName")).policy = params.get("StackPolicyBody", "")
            return {}

    # -- change sets (what `sls deploy` uses) ------------------------------------------------------
    def _api_CreateChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        name = _required(params, "StackName")
        change_set_name = _required(params, "ChangeSetName")
        kind = params.get("ChangeSetType", "UPDATE")
        with self._lock:
            stack = self._by_id(name, live_only=True)
            if kind == "CREATE" and stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise validation(
                    f"Stack [{name}] already exists and cannot be created again with the changeSet [{change_set_name}]."
                )
            if kind == "UPDATE":
                if stack is None or stack.status == "REVIEW_IN_PROGRESS":
                    raise validation(f"Stack [{name}] does not exist")
                _check_updatable(stack)
            if params.get("UsePreviousTemplate") == "true" and stack is not None:
                template, body = stack.template, stack.body
            else:
                template, body = self._template_of(params)
            parameters = _parameters(params, stack.parameters if stack else None)
            capabilities = _list(params, "Capabilities")
            validate(template, capabilities, parameters)
            if stack is None:
                stack = self._new_stack(name)
                stack.stack_event("REVIEW_IN_PROGRESS", "User Initiated")
            if change_set_name in stack.change_sets:
                raise CloudFormationError("AlreadyExistsException", f"ChangeSet [{change_set_name}] already exists")
            changes = diff(stack.template if kind == "UPDATE" else {}, template)
            change_set = ChangeSet(
                change_set_name,
                f"arn:aws:cloudformation:{self.region}:{self.account}:changeSet/{change_set_name}/{uuid.uuid4()}",
                kind,
                template,
                body,
                parameters,
                _tags(params) or stack.tags,
                capabilities,
                changes,
            )
            if kind == "UPDATE" and not changes and parameters == stack.parameters:
                change_set.status, change_set.reason, change_set.execution = "FAILED", NO_CHANGES, "UNAVAILABLE"
            else:
                missing = sorted(
                    imports_of(template, self._resolver_for(stack, template, parameters)) - set(self.deployer.exports)
                )
                if missing:
                    change_set.status, change_set.execution = "FAILED", "UNAVAILABLE"
                    change_set.reason = f"No export named {missing[0]} found."
            stack.change_sets[change_set_name] = change_set
            return {"Id": change_set.id, "StackId": stack.id}

    def _resolver_for(self, stack: Stack, template: dict[str, Any], parameters: dict[str, str]) -> Resolver:
        return Resolver(
            template,
            stack_name=stack.name,
            region=self.region,
            account=self.account,
            exports=self.deployer.exports,
            parameters=parameters,
        )

    def _change_set(self, stack_name: str, name: str) -> ChangeSet:
        if name.startswith("arn:"):
            for stack in self.stacks.values():
                for change_set in stack.change_sets.values():
                    if change_set.id == name:
                        return change_set
        else:
            owner = self._by_id(stack_name, live_only=True)
            if owner is not None and name in owner.change_sets:
                return owner.change_sets[name]
        raise CloudFormationError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", 404)

    def _stack_of(self, change_set: ChangeSet) -> Stack:
        return next(s for s in self.stacks.values() if change_set in s.change_sets.values())

    def _api_DescribeChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            change_set = self._change_set(params.get("StackName", ""), _required(params, "ChangeSetName"))
            stack = self._stack_of(change_set)
            return {
                "ChangeSetName": change_set.name,
                "ChangeSetId": change_set.id,
                "StackId": stack.id,
                "StackName": stack.name,
                "CreationTime": _time(change_set.created),
                "ExecutionStatus": change_set.execution,
                "Status": change_set.status,
                **({"StatusReason": change_set.reason} if change_set.reason else {}),
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in change_set.parameters.items()],
                "Tags": [{"Key": k, "Value": v} for k, v in change_set.tags.items()],
                "Capabilities": change_set.capabilities,
                "Changes": change_set.changes,
                "NotificationARNs": [],
            }

    def _api_ListChangeSets(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            stack = self.stack(_required(params, "StackName"))
            return {
                "Summaries": [
                    {
                        "StackId": stack.id,
                        "StackName": stack.name,
                        "ChangeSetId": c.id,
                        "ChangeSetName": c.name,
                        "ExecutionStatus": c.execution,
                        "Status": c.status,
                        "CreationTime": _time(c.created),
                    }
                    for c in stack.change_sets.values()
                ]
            }

    def _api_ExecuteChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            change_set = self._change_set(params.get("StackName", ""), _required(params, "ChangeSetName"))
            if change_set.status != "CREATE_COMPLETE" or change_set.execution != "AVAILABLE":
                raise CloudFormationError(
                    "InvalidChangeSetStatus",
                    f"ChangeSet [{change_set.id}] cannot be executed in its current status of [{change_set.status}]",
                )
            stack = self._stack_of(change_set)
            change_set.execution = "EXECUTE_IN_PROGRESS"
            stack.change_sets.clear()  # executing one change set deletes the stack's others, as on AWS
            self.deploy(
                stack.name,
                change_set.template,
                body=change_set.body,
                parameters=change_set.parameters,
                tags=change_set.tags,
                capabilities=change_set.capabilities,
                changes=change_set.changes,
            )
            change_set.execution = "EXECUTE_COMPLETE"
            return {}

    def _api_DeleteChangeSet(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            name = _required(params, "ChangeSetName")
            stack = self._by_id(params.get("StackName", ""), live_only=True)
            if stack is not None and name in stack.change_sets:
                del stack.change_sets[name]
                if stack.status == "REVIEW_IN_PROGRESS" and not stack.change_sets:
                    del self.stacks[stack.name]  # a stack that only ever had this change set goes with it
            return {}


# -- templates -----------------------------------------------------------------------------------------
def parse_template(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        if body.lstrip().startswith("{"):
            where = f"(line {getattr(exc, 'lineno', 1)}, column {getattr(exc, 'colno', 1)})"
            raise validation(f"Template format error: JSON not well-formed. {where}") from exc
        import yaml

        try:
            parsed = yaml.safe_load(body)
        except yaml.YAMLError as yaml_exc:
            raise validation("Template format error: YAML not well-formed.") from yaml_exc
    if not isinstance(parsed, dict):
        raise validation("Template format error: unsupported structure.")
    return parsed


def validate(
    template: dict[str, Any],
    capabilities: list[str] | None,
    parameters: dict[str, str],
    *,
    check_capabilities: bool = True,
) -> None:
    """The checks CloudFormation makes before it creates anything, with its messages."""
    _check_structure(template)
    resources = template["Resources"]
    declared = template.get("Parameters") or {}
    known = set(resources) | set(declared) | PSEUDO
    for section in ("Resources", "Outputs"):
        unresolved: set[str] = set()
        for entry in (template.get(section) or {}).values():
            names = references(entry.get("Properties") if section == "Resources" else entry)
            depends = entry.get("DependsOn") or [] if section == "Resources" else []
            names |= {depends} if isinstance(depends, str) else set(depends)
            unresolved |= {n for n in names if n not in known}
        if unresolved:
            raise validation(
                f"Template format error: Unresolved resource dependencies [{', '.join(sorted(unresolved))}] "
                f"in the {section} block of the template"
            )
    try:
        creation_order(template)
    except ResolveError as exc:
        cycle = str(exc).split("between ", 1)[-1].strip("[]").replace("'", "")
        raise validation(f"Circular dependency between resources: [{cycle}]") from exc
    missing = sorted(n for n, spec in declared.items() if "Default" not in spec and n not in parameters)
    if missing:
        raise validation(f"Parameters: [{', '.join(missing)}] must have values")
    if check_capabilities:
        needed = required_capabilities(template)
        given = set(capabilities or [])
        if needed and not (set(needed) <= given or "CAPABILITY_NAMED_IAM" in given):
            raise CloudFormationError("InsufficientCapabilitiesException", f"Requires capabilities : [{needed[-1]}]")


def _check_structure(template: dict[str, Any]) -> None:
    unknown = sorted(set(template) - TEMPLATE_SECTIONS)
    if unknown:
        raise validation(f"Template format error: Invalid template property or properties [{', '.join(unknown)}]")
    if template.get("Transform"):
        raise validation("Transform is not served by the local cloud (macros run on AWS only)")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise validation("Template format error: At least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not re.fullmatch(r"[A-Za-z0-9]+", logical_id):
            raise validation(f"Template format error: Resource name {logical_id} is non alphanumeric.")
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise validation(
                f"Template format error: [/Resources/{logical_id}] Every Resources object must contain a Type member."
            )
    bad_types = sorted({r["Type"] for r in resources.values() if not RESOURCE_TYPE.match(r["Type"])})
    if bad_types:
        raise validation(f"Template format error: Unrecognized resource types: [{', '.join(bad_types)}]")


def required_capabilities(template: dict[str, Any]) -> list[str]:
    iam = [r for r in (template.get("Resources") or {}).values() if r.get("Type") in IAM_TYPES]
    if not iam:
        return []
    named = any(
        key in (r.get("Properties") or {})
        for r in iam
        for key in ("RoleName", "UserName", "GroupName", "ManagedPolicyName")
    )
    return ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"] if named else ["CAPABILITY_IAM"]


def imports_of(template: dict[str, Any], resolver: Resolver) -> set[str]:
    """The export names a template imports (Fn::ImportValue, its argument resolved)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, arg in value.items():
                if key == "Fn::ImportValue":
                    try:
                        found.add(str(resolver.resolve(arg)))
                    except ResolveError:
                        continue
                else:
                    walk(arg)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(template.get("Resources") or {})
    walk(template.get("Outputs") or {})
    return found


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """A change set's Changes: resources added, modified (properties or type changed) and removed."""
    old, new = before.get("Resources") or {}, after.get("Resources") or {}
    changes = []
    for logical_id in sorted(set(old) | set(new)):
        if logical_id not in old:
            action = "Add"
        elif logical_id not in new:
            action = "Remove"
        elif old[logical_id] != new[logical_id]:
            action = "Modify"
        else:
            continue
        kind = (new.get(logical_id) or old[logical_id])["Type"]
        change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": kind}
        if action == "Modify":
            change["Replacement"] = "Conditional"
        changes.append({"Type": "Resource", "ResourceChange": change})
    return changes


def _changed_ids(changes: list[dict[str, Any]]) -> set[str]:
    return {c["ResourceChange"]["LogicalResourceId"] for c in changes}


def _check_updatable(stack: Stack) -> None:
    if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
        raise validation(f"Stack:{stack.id} is in {stack.status} state and can not be updated.")
    if stack.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED"):
        raise validation(f"Stack:{stack.id} is in {stack.status} state and can not be updated.")


def _deleted(reason: str) -> str:
    return "DELETE_SKIPPED" if reason == "Retained" else "DELETE_COMPLETE"


# -- the query protocol ---------------------------------------------------------------------------------
def _required(params: dict[str, str], name: str) -> str:
    if not params.get(name):
        member = name[0].lower() + name[1:]
        raise validation(
            f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return params[name]


def _list(params: dict[str, str], name: str) -> list[str]:
    items = []
    index = 1
    while f"{name}.member.{index}" in params:
        items.append(params[f"{name}.member.{index}"])
        index += 1
    return items


def _parameters(params: dict[str, str], previous: dict[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    index = 1
    while f"Parameters.member.{index}.ParameterKey" in params:
        prefix = f"Parameters.member.{index}."
        key = params[prefix + "ParameterKey"]
        if params.get(prefix + "UsePreviousValue") == "true" and previous and key in previous:
            out[key] = previous[key]
        else:
            out[key] = params.get(prefix + "ParameterValue", "")
        index += 1
    return out


def _tags(params: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    index = 1
    while f"Tags.member.{index}.Key" in params:
        out[params[f"Tags.member.{index}.Key"]] = params.get(f"Tags.member.{index}.Value", "")
        index += 1
    return out


def _time(at: dt.datetime | None) -> str:
    return (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(value: Any) -> str:
    return (
        value if isinstance(value, str) else ",".join(map(str, value)) if isinstance(value, list) else json.dumps(value)
    )


def _describe(stack: Stack) -> dict[str, Any]:
    described: dict[str, Any] = {
        "StackId": stack.id,
        "StackName": stack.name,
        "CreationTime": _time(stack.created),
        "StackStatus": stack.status,
        "DisableRollback": "false",
        "NotificationARNs": [],
        "Capabilities": stack.capabilities,
        "Outputs": stack.outputs(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in stack.parameters.items()],
        "Tags": [{"Key": k, "Value": v} for k, v in stack.tags.items()],
        "EnableTerminationProtection": "false",
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }
    if stack.reason:
        described["StackStatusReason"] = stack.reason
    if isinstance(stack.template.get("Description"), str):
        described["Description"] = stack.template["Description"]
    if stack.updated:
        described["LastUpdatedTime"] = _time(stack.updated)
    if stack.deleted:
        described["DeletionTime"] = _time(stack.deleted)
    return described


def _event(stack: Stack, event: Event) -> dict[str, Any]:
    out = {
        "StackId": stack.id,
        "EventId": event.id,
        "StackName": stack.name,
        "LogicalResourceId": event.logical_id,
        "PhysicalResourceId": event.physical_id,
        "ResourceType": event.kind,
        "Timestamp": _time(event.at),
        "ResourceStatus": event.status,
    }
    if event.reason:
        out["ResourceStatusReason"] = event.reason
    return out


def _resource(stack: Stack, logical_id: str, resource: Event, time_key: str) -> dict[str, Any]:
    return {
        "StackName": stack.name,
        "StackId": stack.id,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": resource.physical_id,
        "ResourceType": resource.kind,
        time_key: _time(resource.at),
        "ResourceStatus": resource.status,
        **({"ResourceStatusReason": resource.reason} if resource.reason else {}),
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
    }


def _xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items())
    if isinstance(value, list):
        return "".join(f"<member>{_xml(v)}</member>" for v in value)
    return escape(str(value))


def _answer_xml(action: str, result: dict[str, Any], request_id: str) -> bytes:
    return (
        f'<{action}Response xmlns="{XMLNS}"><{action}Result>{_xml(result)}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ).encode()


def _error_xml(error: CloudFormationError, request_id: str) -> bytes:
    return (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>{error.code}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def zip_sha256(path: Path) -> str:
    """Lambda's CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


__all__ = ["TEMPLATE", "CloudFormation", "CloudFormationError", "Stack", "parse_template", "validate"]
