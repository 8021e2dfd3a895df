"""Local deploy: realize a packaged CloudFormation template on the edge.

Resources are created through the AWS APIs on the edge (boto3), in reference order,
with their intrinsics resolved. Lambda functions go to the local runner (each with
credentials of its own realized IAM role, from STS AssumeRole), HTTP APIs to
the gateway, event source mappings and schedules to the pollers. Every other type is
counted and reported ("not emulated locally: ..."); it still gets a synthetic physical
id so that references to it resolve. Re-deploying a stack updates it in place: data
resources (tables, queues, topics, pools, keys) are kept, functions reload their code,
state machines are updated, routes replaced.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from localcloud import metrics
from localcloud.authorizer import JwtAuthorizer
from localcloud.codedeploy import CodeDeploy, DeploymentGroup
from localcloud.gateway import Gateway, HttpApi, Route
from localcloud.pollers import Schedule, Scheduler, SqsMapping, SqsPoller, parse_input
from localcloud.resolver import Resolver, creation_order
from localcloud.runner import AliasRoute, FunctionSpec, Runner, function_name_of

TEMPLATE = "cloudformation-template-update-stack.json"
FAKE_CREDENTIALS = {"aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud"}


class NotEmulated(Exception):
    """A variant of an emulated type that is not (e.g. a DynamoDB stream mapping): counted, not created."""


class ResourceFailed(Exception):
    """A resource the deployer could not realize: CloudFormation's CREATE_FAILED/UPDATE_FAILED, named."""

    def __init__(self, logical_id: str, kind: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({kind}): {reason}")
        self.logical_id = logical_id
        self.kind = kind
        self.reason = reason


# (logical id, type, physical id, reason or "") for every resource realized, in creation order:
# CloudFormation's stack events (localcloud.cloudformation)
ResourceEvents = Callable[[str, str, str, str], None]
# a function's or layer's `Code`/`Content` (S3Bucket, S3Key) -> the zip on this machine
Artifacts = Callable[[dict[str, Any]], Path]


@dataclass
class StackResult:
    name: str
    outputs: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    export_names: dict[str, str] = field(default_factory=dict)  # output key -> export name
    created: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    not_emulated: Counter[str] = field(default_factory=Counter)
    functions: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)  # functions whose code or configuration changed
    deployments: list[str] = field(default_factory=list)  # CodeDeploy deployments the update started
    api: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # the template's parameters as resolved


@dataclass
class _Realized:
    ref: Any
    attributes: dict[str, Any]
    type: str
    retain: bool = False  # DeletionPolicy: Retain (kept when the stack is deleted)

    def __setstate__(self, state: dict[str, Any]) -> None:  # snapshots written before `retain` existed
        self.__dict__.update({"retain": False, **state})


class Deployer:
    def __init__(
        self,
        edge_url: str,
        runner: Runner,
        gateway: Gateway,
        scheduler: Scheduler,
        invoker: Callable[[str, Any], Any],
        *,
        region: str,
        account: str,
        schedules_enabled: bool = True,
        sqs_enabled: bool = True,
    ) -> None:
        self.edge_url = edge_url
        self.runner = runner
        self.gateway = gateway
        self.scheduler = scheduler
        self.invoker = invoker
        self.region = region
        self.account = account
        self.schedules_enabled = schedules_enabled
        self.sqs_enabled = sqs_enabled
        self.exports: dict[str, Any] = {}
        self.state: dict[str, dict[str, _Realized]] = {}  # stack -> logical id -> realized
        self.pollers: dict[str, SqsPoller] = {}
        self.layers: dict[str, Path] = {}  # layer ARN -> zip
        config = Config(retries={"max_attempts": 2}, max_pool_connections=50)
        session = boto3.Session(region_name=region, **FAKE_CREDENTIALS)
        self._session, self._config = session, config
        self.clients: dict[str, Any] = {}
        self.role_credentials: dict[tuple[str, str], dict[str, str]] = {}  # (function, role ARN) -> keys
        self.codedeploy: CodeDeploy | None = None  # realizes CodeDeploy groups and alias UpdatePolicy
        self._missing_ssm: list[str] = []  # SSM-typed parameters of the deploy in progress not found

    def credentials_for(self, function: str, role_arn: Any) -> dict[str, str]:
        """The function's own credentials: STS AssumeRole on its role, as Lambda does (none without a role)."""
        if not isinstance(role_arn, str) or ":role/" not in role_arn:
            return {}
        key = (function, role_arn)
        if key not in self.role_credentials:
            issued = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=function[:64])["Credentials"]
            self.role_credentials[key] = {
                "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
                "AWS_SESSION_TOKEN": issued["SessionToken"],
            }
        return self.role_credentials[key]

    def function_client(self, function: str, service: str) -> Any:
        """A client with the function's role credentials (what Lambda polls a queue with); else the account's."""
        keys = self.runner.spec(function).credentials
        if not keys:
            return self.client(service)
        return self._session.client(
            service,
            endpoint_url=self.edge_url,
            config=self._config,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys["AWS_SESSION_TOKEN"],
        )

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self._session.client(service, endpoint_url=self.edge_url, config=self._config)
        return self.clients[service]

    # -- stacks -------------------------------------------------------------------------------
    def deploy(
        self,
        stack: str,
        package_dir: Path,
        stack_name: str,
        *,
        template: dict[str, Any] | None = None,
        artifacts: Artifacts | None = None,
        on_resource: ResourceEvents | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> StackResult:
        """Realize `template` (default: the package's) as stack `stack`; code from `artifacts` (default: the
        package folder, by file name). A resource that cannot be realized raises `ResourceFailed`."""
        if template is None:
            template = json.loads((package_dir / TEMPLATE).read_text())
        resolver = Resolver(
            template,
            stack_name=stack_name,
            region=self.region,
            account=self.account,
            exports=self.exports,
            parameters=self.parameter_values(template, parameters or {}),
        )
        previous = self.state.get(stack, {})
        realized: dict[str, _Realized] = {}
        result = StackResult(stack)
        for name in self._missing_ssm:
            result.not_emulated[f"AWS::SSM::Parameter::Value (missing {name})"] += 1
        self._package_dir = package_dir
        self._artifacts = artifacts or (lambda code: package_dir / Path(str(code["S3Key"])).name)
        self._on_resource = on_resource
        self._stack = stack
        self._api: HttpApi | None = None
        self._reloaded: list[str] = []
        self._deployments: list[str] = []
        self._alias_updates: list[tuple[str, str, str, str, str]] = []
        resources = template.get("Resources") or {}
        try:
            for logical_id in creation_order(template):
                resource = resources[logical_id]
                if "Condition" in resource and not resolver.condition(resource["Condition"]):
                    continue
                done = self._realize(logical_id, resource, previous.get(logical_id), resolver, result)
                done.retain = resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
                realized[logical_id] = done
                resolver.set_resource(logical_id, done.ref, done.attributes)
        except BaseException:
            self.state[stack] = {**previous, **realized}  # what exists now: a rollback starts from it
            raise
        for update in self._alias_updates:  # the policy names the group and hooks: all realized by now
            self._deployments.append(self._alias_deployment(template, resolver, *update))
        if self._api is not None:
            self.gateway.set_api(self._api)
            result.api = self.gateway.endpoint(stack)
        elif stack in self.gateway.apis:
            self.gateway.remove_api(stack)
        for logical_id, old in previous.items():  # gone from the template: deleted, as CloudFormation does
            if logical_id not in realized and not old.retain and old.type in _REMOVERS:
                with contextlib.suppress(Exception):  # CloudFormation's cleanup phase does not fail the update
                    _REMOVERS[old.type](self, stack, logical_id, old)
        self.state[stack] = realized
        result.parameters = dict(resolver.parameters)
        self._outputs(template, resolver, result)
        result.reloaded = list(self._reloaded)
        result.deployments = list(self._deployments)
        result.functions = [r.ref for r in realized.values() if r.type == "AWS::Lambda::Function"]
        return result

    def parameter_values(self, template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
        """Parameter values as CloudFormation takes them: given or default, `AllowedValues` enforced, and
        `AWS::SSM::Parameter::Value<...>` types read from SSM at this deploy (a missing one fails it)."""
        values: dict[str, Any] = {}
        self._missing_ssm = []
        for name, spec in (template.get("Parameters") or {}).items():
            value = given.get(name, spec.get("Default"))
            if value is None:
                raise ValueError(f"Parameters: [{name}] must have values")
            allowed = spec.get("AllowedValues")
            if allowed and value not in allowed:
                raise ValueError(f"Parameter '{name}' must be one of AllowedValues")
            if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
                ssm = self.client("ssm")
                try:
                    value = ssm.get_parameter(Name=value)["Parameter"]["Value"]
                except ssm.exceptions.ParameterNotFound:
                    # AWS fails the deploy ("Parameters: [ssm:...] cannot be found."); locally the
                    # frontend's certificate and zone are never kept, so the name stays the value, said.
                    self._missing_ssm.append(str(value))
            values[name] = value
        unknown = set(given) - set(template.get("Parameters") or {})
        if unknown:
            raise ValueError(f"Parameters: {sorted(unknown)} do not exist in the template")
        return values

    def _realize(
        self,
        logical_id: str,
        resource: dict[str, Any],
        before: _Realized | None,
        resolver: Resolver,
        result: StackResult,
    ) -> _Realized:
        kind = resource["Type"]
        handler = _HANDLERS.get(kind)
        stack_name = resolver.pseudo["AWS::StackName"]
        reason = ""
        try:
            if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                raise ResourceFailed(logical_id, kind, "custom resources are not realized by the local cloud")
            if handler is None:
                raise NotEmulated("")
            ref, attrs = handler(
                self, logical_id, resolver.resolve(resource.get("Properties") or {}) or {}, before, resolver
            )
        except NotEmulated as exc:
            what = f"{kind} ({exc})" if str(exc) else kind
            result.not_emulated[what] += 1
            ref, attrs = _synthetic(kind, logical_id, stack_name, self.region, self.account)
            resolver.synthetic[logical_id] = str(ref)
            reason = f"Not emulated locally: {what}; a stand-in id only, nothing runs it"
        except ResourceFailed:
            raise
        except Exception as exc:  # an AWS error from the edge, an unresolvable intrinsic: the resource fails
            raise ResourceFailed(logical_id, kind, f"{type(exc).__name__}: {exc}") from exc
        else:
            (result.kept if before is not None and kind in _KEPT else result.created)[kind] += 1
        if self._on_resource is not None:
            self._on_resource(logical_id, kind, str(ref), reason)
        return _Realized(ref, attrs, kind)

    def _alias_deployment(  # noqa: PLR0917 - one alias update
        self,
        template: dict[str, Any],
        resolver: Resolver,
        lid: str,
        function: str,
        alias: str,
        current: str,
        target: str,
    ) -> str:
        """The CodeDeploy deployment CloudFormation creates for an alias update under CodeDeployLambdaAliasUpdate:
        the AppSpec names the function, alias, both versions and the hooks (started by LocalCloud.deploy_stack)."""
        assert self.codedeploy is not None
        policy = resolver.resolve(template["Resources"][lid]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"])
        events = (("BeforeAllowTraffic", "BeforeAllowTrafficHook"), ("AfterAllowTraffic", "AfterAllowTrafficHook"))
        properties = {"Name": function, "Alias": alias, "CurrentVersion": current, "TargetVersion": target}
        appspec = {
            "version": 0.0,
            "Resources": [{function: {"Type": "AWS::Lambda::Function", "Properties": properties}}],
            "Hooks": [{event: policy[key]} for event, key in events if policy.get(key)],
        }
        return self.codedeploy.create_deployment(
            policy["ApplicationName"], policy["DeploymentGroupName"], appspec, start=False
        )

    def _outputs(self, template: dict[str, Any], resolver: Resolver, result: StackResult) -> None:
        for name, output in (template.get("Outputs") or {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            value = resolver.resolve(output["Value"])
            if self._api is not None and isinstance(value, str):  # the API's AWS URL -> where it is served here
                value = value.replace(
                    f"https://{self._api.api_id}.execute-api.{self.region}.amazonaws.com",
                    self.gateway.endpoint(self._stack),
                )
            result.outputs[name] = value
            if "Export" in output:
                export_name = resolver.resolve(output["Export"]["Name"])
                result.exports[export_name] = value
                result.export_names[name] = export_name
                self.exports[export_name] = value

    def remove(self, stack: str, on_resource: ResourceEvents | None = None) -> None:
        """Delete what a stack realized, newest first, as CloudFormation's DeleteStack does (a resource with
        `DeletionPolicy: Retain` is kept); its exports go. A resource that cannot be deleted raises
        `ResourceFailed` (e.g. a bucket that is not empty)."""
        realized = self.state.get(stack, {})
        for logical_id, done in reversed(list(realized.items())):
            remover = _REMOVERS.get(done.type)
            if remover is not None and not done.retain:
                try:
                    remover(self, stack, logical_id, done)
                except Exception as exc:
                    raise ResourceFailed(logical_id, done.type, f"{type(exc).__name__}: {exc}") from exc
            del realized[logical_id]
            if on_resource is not None:
                on_resource(logical_id, done.type, str(done.ref), "Retained" if done.retain else "")
        self.state.pop(stack, None)
        if stack in self.gateway.apis:
            self.gateway.remove_api(stack)

    def stop(self) -> None:
        for poller in self.pollers.values():
            poller.stop()
        self.pollers.clear()


def _synthetic(kind: str, logical_id: str, stack_name: str, region: str, account: str) -> tuple[Any, dict[str, Any]]:
    physical = f"{stack_name}-{logical_id}"
    service = kind.split("::")[1].lower()
    arn = f"arn:aws:{service}:{region}:{account}:{logical_id.lower()}/{physical}"
    if kind == "AWS::IAM::Role":
        arn = f"arn:aws:iam::{account}:role/{physical[:64]}"
    if kind in _REF_IS_ARN:  # as CloudFormation answers Ref for these types (policies need an ARN there)
        arn = _REF_IS_ARN[kind].format(region=region, account=account, name=physical)
        return arn, {"Arn": arn}
    return physical, {"Arn": arn}


_REF_IS_ARN = {
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::{account}:policy/{name}",
}


# -- handlers: (deployer, logical id, resolved properties, previous, resolver) -> (Ref, attributes)
Result = tuple[Any, dict[str, Any]]


def _role(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    """A real role in the edge's IAM: trust policy, inline policies and managed policies kept in step."""
    iam = d.client("iam")
    name = p.get("RoleName") or f"{r.pseudo['AWS::StackName']}-{lid}"[:64]
    trust = json.dumps(p.get("AssumeRolePolicyDocument") or {})
    try:
        iam.create_role(
            RoleName=name,
            Path=p.get("Path", "/"),
            AssumeRolePolicyDocument=trust,
            **({"Description": p["Description"]} if "Description" in p else {}),
        )
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    wanted = {policy["PolicyName"]: policy["PolicyDocument"] for policy in p.get("Policies") or []}
    for policy_name in set(iam.list_role_policies(RoleName=name)["PolicyNames"]) - set(wanted):
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for policy_name, document in wanted.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    attached = {a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    for arn in attached - set(p.get("ManagedPolicyArns") or []):
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    for arn in set(p.get("ManagedPolicyArns") or []) - attached:
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):  # an AWS managed policy moto lacks
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    role = iam.get_role(RoleName=name)["Role"]
    d.role_credentials = {k: v for k, v in d.role_credentials.items() if k[1] != role["Arn"]}  # policies changed
    return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}


def _kms_key(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if prev is not None:
        return prev.ref, prev.attributes
    kwargs = {"Description": p.get("Description", lid)}
    if "KeyPolicy" in p:
        kwargs["Policy"] = json.dumps(p["KeyPolicy"])
    meta = d.client("kms").create_key(**kwargs)["KeyMetadata"]
    if p.get("EnableKeyRotation"):
        d.client("kms").enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}


def _kms_alias(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if prev is None:
        d.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
    return p["AliasName"], {}


def _user_pool(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if prev is not None:
        return prev.ref, prev.attributes
    kwargs: dict[str, Any] = {"PoolName": p.get("UserPoolName", lid)}
    for key in (
        "Policies",
        "UsernameAttributes",
        "AutoVerifiedAttributes",
        "MfaConfiguration",
        "AccountRecoverySetting",
        "AdminCreateUserConfig",
        "UsernameConfiguration",
    ):
        if key in p:
            kwargs[key] = p[key]
    if "Schema" in p:
        kwargs["Schema"] = p["Schema"]
    pool = d.client("cognito-idp").create_user_pool(**kwargs)["UserPool"]
    provider = f"cognito-idp.{d.region}.amazonaws.com/{pool['Id']}"
    return pool["Id"], {
        "Arn": pool["Arn"],
        "ProviderName": provider,
        "ProviderURL": f"https://{provider}",
        "UserPoolId": pool["Id"],
    }


def _user_pool_client(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if prev is not None:
        return prev.ref, prev.attributes
    kwargs = {
        k: p[k]
        for k in (
            "ExplicitAuthFlows",
            "GenerateSecret",
            "PreventUserExistenceErrors",
            "EnableTokenRevocation",
            "AccessTokenValidity",
            "IdTokenValidity",
            "RefreshTokenValidity",
            "TokenValidityUnits",
        )
        if k in p
    }
    client = d.client("cognito-idp").create_user_pool_client(
        UserPoolId=p["UserPoolId"], ClientName=p.get("ClientName", lid), **kwargs
    )["UserPoolClient"]
    return client["ClientId"], {"ClientSecret": client.get("ClientSecret", ""), "Name": client["ClientName"]}


def _user_pool_group(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if prev is None:
        d.client("cognito-idp").create_group(
            UserPoolId=p["UserPoolId"], GroupName=p["GroupName"], Description=p.get("Description", "")
        )
    return p["GroupName"], {}


def _topic(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    attributes = {
        k: str(p[k]) for k in ("KmsMasterKeyId", "DisplayName", "FifoTopic", "ContentBasedDeduplication") if k in p
    }
    name = p.get("TopicName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    arn = d.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return arn, {"TopicArn": arn, "TopicName": name}


def _subscription(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if prev is not None:
        return prev.ref, prev.attributes
    attributes = {}
    if "FilterPolicy" in p:
        attributes["FilterPolicy"] = json.dumps(p["FilterPolicy"])
    for key in ("FilterPolicyScope", "DeliveryPolicy"):
        if key in p:
            attributes[key] = p[key] if isinstance(p[key], str) else json.dumps(p[key])
    if "RawMessageDelivery" in p:
        attributes["RawMessageDelivery"] = str(p["RawMessageDelivery"]).lower()
    if "RedrivePolicy" in p:
        attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
    arn = d.client("sns").subscribe(
        TopicArn=p["TopicArn"],
        Protocol=p["Protocol"],
        Endpoint=p["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn, {}


def _queue(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    attributes: dict[str, str] = {}
    for key, value in p.items():
        if key in ("QueueName", "Tags"):
            continue
        attributes[key] = (
            json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
    name = p.get("QueueName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    sqs = d.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"] if prev is None else prev.ref
    if prev is not None and attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    arn = f"arn:aws:sqs:{d.region}:{d.account}:{name}"
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _queue_policy(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    for url in p.get("Queues", []):
        d.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])})
    return f"{r.pseudo['AWS::StackName']}-{lid}", {}


def create_table(dynamodb: Any, name: str, p: dict[str, Any], *, encrypted: bool = True) -> None:
    """CreateTable (+ TTL, PITR) for an AWS::DynamoDB::Table's resolved properties."""
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = p.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification"):
        if key in p:
            kwargs[key] = p[key]
    if "StreamSpecification" in kwargs:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **kwargs["StreamSpecification"]}
    sse = p.get("SSESpecification")
    if encrypted and sse and sse.get("SSEEnabled"):
        kwargs["SSESpecification"] = {
            "Enabled": True,
            "SSEType": sse.get("SSEType", "KMS"),
            **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
        }
    dynamodb.create_table(**kwargs)
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    pitr = (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def platform_tables(environment: str = "local") -> dict[str, dict[str, Any]]:
    """Logical id -> properties of the tables the packaged platform stack of `environment` declares."""
    from localcloud.packaging import resources_of_type, template

    tables = resources_of_type(template("platform", environment), "AWS::DynamoDB::Table")
    return {name: res["Properties"] for name, res in tables.items()}


def create_platform_tables(dynamodb: Any, environment: str = "local", only: set[str] | None = None) -> list[str]:
    """The platform's tables (or those named in `only`, by logical id or name) in any DynamoDB client,
    as the deployer creates them but unencrypted (for handler tests on an in-process moto with no key)."""
    created = []
    for logical_id, props in platform_tables(environment).items():
        name = props["TableName"]
        if only and logical_id not in only and name not in only:
            continue
        create_table(dynamodb, name, props, encrypted=False)
        created.append(name)
    return created


def _table(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    dynamodb = d.client("dynamodb")
    name = p.get("TableName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    if prev is None:
        create_table(dynamodb, name, p)
    table = dynamodb.describe_table(TableName=name)["Table"]
    attrs = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attrs["StreamArn"] = table["LatestStreamArn"]
    return name, attrs


def _parameter(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    name = p.get("Name") or f"{r.pseudo['AWS::StackName']}-{lid}"
    d.client("ssm").put_parameter(
        Name=name,
        Value=str(p["Value"]),
        Type=p.get("Type", "String"),
        Overwrite=True,
        **({"Description": p["Description"]} if "Description" in p else {}),
    )
    return name, {"Type": p.get("Type", "String"), "Value": str(p["Value"])}


def _state_machine(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    definition = p.get("DefinitionString")
    if definition is None:
        definition = json.dumps(p["Definition"])
    for key, value in (p.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    name = p.get("StateMachineName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    sfn = d.client("stepfunctions")
    arn = f"arn:aws:states:{d.region}:{d.account}:stateMachine:{name}"
    role = p.get("RoleArn") or f"arn:aws:iam::{d.account}:role/{name}"
    if prev is None:
        try:
            arn = sfn.create_state_machine(
                name=name, definition=definition, roleArn=role, type=p.get("StateMachineType", "STANDARD")
            )["stateMachineArn"]
        except sfn.exceptions.StateMachineAlreadyExists:
            sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
    else:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
    return arn, {"Arn": arn, "Name": name}


def _layer(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    name = p.get("LayerName", lid)
    arn = f"arn:aws:lambda:{d.region}:{d.account}:layer:{name}:1"
    d.layers[arn] = d._artifacts(p["Content"])
    return arn, {}


def _function(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    name = p.get("FunctionName") or f"{r.pseudo['AWS::StackName']}-{lid}"[:64]
    code = p.get("Code") or {}
    if "S3Key" not in code:
        raise NotEmulated("inline code")
    variables = (p.get("Environment") or {}).get("Variables") or {}
    spec = FunctionSpec(
        name=name,
        handler=p["Handler"],
        code_zip=d._artifacts(code),
        layer_zips=[d.layers[arn] for arn in p.get("Layers", []) if arn in d.layers],
        environment={k: str(v) for k, v in variables.items()},
        timeout=float(p.get("Timeout", 3)),
        memory=int(p.get("MemorySize", 128)),
        region=d.region,
        account=d.account,
        credentials=d.credentials_for(name, p.get("Role")),
        reserved_concurrency=int(p["ReservedConcurrentExecutions"]) if "ReservedConcurrentExecutions" in p else None,
    )
    if d.runner.register(spec) and prev is not None:
        d._reloaded.append(name)
    return name, {"Arn": spec.arn}


def _version(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    # PublishVersion: the function's current code as a version the runner keeps warm beside the others
    # (unchanged code and configuration: the latest version again, as Lambda answers).
    function = function_name_of(str(p["FunctionName"]))
    version = d.runner.publish_version(function)
    arn = f"arn:aws:lambda:{d.region}:{d.account}:function:{function}:{version}"
    return arn, {"Version": version}


def _alias(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    # An alias routes to its version. With a CodeDeployLambdaAliasUpdate policy, a new version on update
    # is a CodeDeploy deployment (hooks, traffic shifting, alarms; localcloud/codedeploy.py), as
    # CloudFormation does; the stack update does not wait for it here (it does on AWS).
    function = function_name_of(str(p["FunctionName"]))
    name, version = str(p["Name"]), str(p["FunctionVersion"])
    arn = f"arn:aws:lambda:{d.region}:{d.account}:function:{function}:{name}"
    current = d.runner.alias(function, name)
    policy = ((r.template.get("Resources") or {}).get(lid, {}).get("UpdatePolicy") or {}).get(
        "CodeDeployLambdaAliasUpdate"
    )
    if current is None or current.version == version or policy is None or d.codedeploy is None:
        d.runner.update_alias(function, name, AliasRoute(version))
        return arn, {"AliasArn": arn}
    d._alias_updates.append((lid, function, name, current.version, version))  # a deployment, once all exist
    return arn, {"AliasArn": arn}


def _codedeploy_application(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if d.codedeploy is None:
        raise NotEmulated("no CodeDeploy")
    name = p.get("ApplicationName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    d.codedeploy.put_application(name)
    return name, {}


def _deployment_group(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if d.codedeploy is None:
        raise NotEmulated("no CodeDeploy")
    name = p.get("DeploymentGroupName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    alarms = p.get("AlarmConfiguration") or {}
    group = DeploymentGroup(
        application=p["ApplicationName"],
        name=name,
        config_name=p.get("DeploymentConfigName", "CodeDeployDefault.LambdaAllAtOnce"),
        alarms=[a["Name"] for a in alarms.get("Alarms") or []] if alarms.get("Enabled", True) else [],
        rollback_events=list((p.get("AutoRollbackConfiguration") or {}).get("Events") or []),
        service_role=str(p.get("ServiceRoleArn", "")),
    )
    d.codedeploy.put_group(group)
    return name, {}


def _event_source_mapping(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    source = p["EventSourceArn"]
    if ":sqs:" not in source:
        raise NotEmulated("non-SQS source")
    mapping = SqsMapping(
        function=p["FunctionName"],
        queue_arn=source,
        batch_size=int(p.get("BatchSize", 10)),
        window_seconds=float(p.get("MaximumBatchingWindowInSeconds", 0)),
        report_failures="ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
        enabled=bool(p.get("Enabled", True)),
    )
    key = f"{d._stack}/{lid}"
    old = d.pollers.pop(key, None)
    if old:
        old.stop()
    if mapping.enabled and d.sqs_enabled:
        poller = SqsPoller(
            mapping, d.function_client(mapping.function, "sqs"), d.invoker, d.region, lookup=d.client("sqs")
        )
        d.pollers[key] = poller
        poller.start()
    return f"local-{key}", {}


def _rule(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    name = p.get("Name") or f"{r.pseudo['AWS::StackName']}-{lid}"
    expression = p.get("ScheduleExpression")
    if not expression:
        raise NotEmulated("event pattern")
    if p.get("State", "ENABLED") == "ENABLED" and d.schedules_enabled:
        for target in p.get("Targets", []):
            if ":lambda:" in target["Arn"]:
                d.scheduler.add(
                    Schedule(
                        target["Arn"], expression, parse_input(target.get("Input")), f"{name}/{target.get('Id', '')}"
                    )
                )
    return name, {"Arn": f"arn:aws:events:{d.region}:{d.account}:rule/{name}"}


def _api(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    api_id = f"{d._stack}-{lid}".lower()
    d._api = HttpApi(d._stack, api_id, cors=p.get("CorsConfiguration"))
    return api_id, {"ApiEndpoint": d.gateway.endpoint(d._stack), "ApiId": api_id}


def _authorizer(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if p.get("AuthorizerType") != "JWT":
        raise NotEmulated("non-JWT authorizer")
    config = p["JwtConfiguration"]
    source = (p.get("IdentitySource") or ["$request.header.Authorization"])[0]
    authorizer = JwtAuthorizer(config["Issuer"], tuple(config.get("Audience") or []), source)
    return lid, {"_authorizer": authorizer}


def _integration(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    if p.get("IntegrationType") != "AWS_PROXY":
        raise NotEmulated("non-Lambda integration")
    return lid, {"_uri": p["IntegrationUri"]}


def _route(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    assert d._api is not None, "a route before its API"
    integration = p["Target"].split("/", 1)[1]
    uri = r.get_att(integration, "_uri")
    authorizer = r.get_att(p["AuthorizerId"], "_authorizer") if p.get("AuthorizationType") == "JWT" else None
    key = p["RouteKey"]
    if key == "$default":
        route = Route("ANY", None, uri, authorizer, key)
    else:
        method, path = key.split(" ", 1)
        route = Route(method.upper(), path, uri, authorizer, key)
    d._api.routes.append(route)
    return lid, {}


def _stage(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    return p.get("StageName", "$default"), {}


def _bucket(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    name = p.get("BucketName") or f"{r.pseudo['AWS::StackName']}-{lid}".lower()[:63]
    if prev is None:
        try:
            d.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": d.region})
        except d.client("s3").exceptions.BucketAlreadyOwnedByYou:
            pass
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}


def _log_group(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    name = p.get("LogGroupName") or f"/local/{r.pseudo['AWS::StackName']}/{lid}"
    if prev is None:
        logs = d.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
    return name, {"Arn": f"arn:aws:logs:{d.region}:{d.account}:log-group:{name}:*"}


_HANDLERS: dict[str, Callable[[Deployer, str, dict[str, Any], _Realized | None, Resolver], Result]] = {
    "AWS::IAM::Role": _role,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
    "AWS::Cognito::UserPoolGroup": _user_pool_group,
    "AWS::SNS::Topic": _topic,
    "AWS::CloudWatch::Alarm": metrics.realize_alarm,  # stored on the edge; localcloud.metrics evaluates it
    "AWS::SNS::Subscription": _subscription,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::DynamoDB::Table": _table,
    "AWS::SSM::Parameter": _parameter,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::Version": _version,
    "AWS::Lambda::Alias": _alias,
    "AWS::CodeDeploy::Application": _codedeploy_application,
    "AWS::CodeDeploy::DeploymentGroup": _deployment_group,
    "AWS::Lambda::EventSourceMapping": _event_source_mapping,
    "AWS::Events::Rule": _rule,
    "AWS::ApiGatewayV2::Api": _api,
    "AWS::ApiGatewayV2::Authorizer": _authorizer,
    "AWS::ApiGatewayV2::Integration": _integration,
    "AWS::ApiGatewayV2::Route": _route,
    "AWS::ApiGatewayV2::Stage": _stage,
    "AWS::S3::Bucket": _bucket,
    "AWS::Logs::LogGroup": _log_group,
}
_KEPT = {
    "AWS::KMS::Key",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Subscription",
    "AWS::S3::Bucket",
}


# -- removal: (deployer, stack, logical id, realized) ------------------------------------------
def _remove_function(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.runner.unregister(str(done.ref))


def _remove_mapping(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    poller = d.pollers.pop(f"{stack}/{lid}", None)
    if poller:
        poller.stop()


def _remove_table(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.client("dynamodb").delete_table(TableName=done.ref)


def _remove_queue(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.client("sqs").delete_queue(QueueUrl=done.ref)


def _remove_topic(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.client("sns").delete_topic(TopicArn=done.ref)


def _remove_subscription(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    with contextlib.suppress(d.client("sns").exceptions.NotFoundException):
        d.client("sns").unsubscribe(SubscriptionArn=done.ref)


def _remove_parameter(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    with contextlib.suppress(d.client("ssm").exceptions.ParameterNotFound):
        d.client("ssm").delete_parameter(Name=done.ref)


def _remove_state_machine(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.client("stepfunctions").delete_state_machine(stateMachineArn=done.ref)


def _remove_bucket(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.client("s3").delete_bucket(Bucket=done.ref)  # BucketNotEmpty, as on AWS, when objects are left


def _remove_log_group(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    logs = d.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=done.ref)


def _remove_role(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    iam = d.client("iam")
    for name in iam.list_role_policies(RoleName=done.ref)["PolicyNames"]:
        iam.delete_role_policy(RoleName=done.ref, PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=done.ref)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=done.ref, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=done.ref)
    d.role_credentials = {k: v for k, v in d.role_credentials.items() if k[1] != done.attributes.get("Arn")}


def _remove_alarm(d: Deployer, stack: str, lid: str, done: _Realized) -> None:
    d.client("cloudwatch").delete_alarms(AlarmNames=[done.ref])


_REMOVERS: dict[str, Callable[[Deployer, str, str, _Realized], None]] = {
    "AWS::Lambda::Function": _remove_function,
    "AWS::Lambda::EventSourceMapping": _remove_mapping,
    "AWS::DynamoDB::Table": _remove_table,
    "AWS::SQS::Queue": _remove_queue,
    "AWS::SNS::Topic": _remove_topic,
    "AWS::SNS::Subscription": _remove_subscription,
    "AWS::SSM::Parameter": _remove_parameter,
    "AWS::StepFunctions::StateMachine": _remove_state_machine,
    "AWS::S3::Bucket": _remove_bucket,
    "AWS::Logs::LogGroup": _remove_log_group,
    "AWS::IAM::Role": _remove_role,
    "AWS::CloudWatch::Alarm": _remove_alarm,
}
