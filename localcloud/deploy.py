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
from localcloud.gateway import Gateway, HttpApi, Route
from localcloud.pollers import Schedule, Scheduler, SqsMapping, SqsPoller, parse_input
from localcloud.resolver import Resolver, creation_order
from localcloud.runner import FunctionSpec, Runner

TEMPLATE = "cloudformation-template-update-stack.json"
FAKE_CREDENTIALS = {"aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud"}


class NotEmulated(Exception):
    """A variant of an emulated type that is not (e.g. a DynamoDB stream mapping): counted, not created."""


@dataclass
class StackResult:
    name: str
    outputs: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    not_emulated: Counter[str] = field(default_factory=Counter)
    functions: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)  # functions whose code or configuration changed
    api: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # the template's parameters as resolved


@dataclass
class _Realized:
    ref: Any
    attributes: dict[str, Any]
    type: str


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

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self._session.client(service, endpoint_url=self.edge_url, config=self._config)
        return self.clients[service]

    # -- stacks -------------------------------------------------------------------------------
    def deploy(
        self, stack: str, package_dir: Path, stack_name: str, parameters: dict[str, str] | None = None
    ) -> StackResult:
        template = json.loads((package_dir / TEMPLATE).read_text())
        resolver = Resolver(
            template,
            stack_name=stack_name,
            region=self.region,
            account=self.account,
            exports=self.exports,
            parameters=self._parameter_values(template, parameters or {}),
        )
        previous = self.state.get(stack, {})
        realized: dict[str, _Realized] = {}
        result = StackResult(stack)
        for name in self._missing_ssm:
            result.not_emulated[f"AWS::SSM::Parameter::Value (missing {name})"] += 1
        self._package_dir = package_dir
        self._stack = stack
        self._api: HttpApi | None = None
        self._reloaded: list[str] = []
        resources = template.get("Resources") or {}
        for logical_id in creation_order(template):
            resource = resources[logical_id]
            if "Condition" in resource and not resolver.condition(resource["Condition"]):
                continue
            done = self._realize(logical_id, resource, previous.get(logical_id), resolver, result)
            realized[logical_id] = done
            resolver.set_resource(logical_id, done.ref, done.attributes)
        if self._api is not None:
            self.gateway.set_api(self._api)
            result.api = self.gateway.endpoint(stack)
        elif stack in self.gateway.apis:
            self.gateway.remove_api(stack)
        for logical_id, old in previous.items():  # gone from the template
            if logical_id not in realized and old.type == "AWS::Lambda::EventSourceMapping":
                poller = self.pollers.pop(f"{stack}/{logical_id}", None)
                if poller:
                    poller.stop()
        self.state[stack] = realized
        result.parameters = dict(resolver.parameters)
        self._outputs(template, resolver, result)
        result.reloaded = list(self._reloaded)
        result.functions = [r.ref for r in realized.values() if r.type == "AWS::Lambda::Function"]
        return result

    def _parameter_values(self, template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
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
        try:
            if handler is None:
                raise NotEmulated("")
            ref, attrs = handler(
                self, logical_id, resolver.resolve(resource.get("Properties") or {}) or {}, before, resolver
            )
        except NotEmulated as exc:
            result.not_emulated[f"{kind} ({exc})" if str(exc) else kind] += 1
            ref, attrs = _synthetic(kind, logical_id, stack_name, self.region, self.account)
            resolver.synthetic[logical_id] = str(ref)
        else:
            (result.kept if before is not None and kind in _KEPT else result.created)[kind] += 1
        return _Realized(ref, attrs, kind)

    def _outputs(self, template: dict[str, Any], resolver: Resolver, result: StackResult) -> None:
        for name, output in (template.get("Outputs") or {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            value = resolver.resolve(output["Value"])
            result.outputs[name] = value
            if "Export" in output:
                export_name = resolver.resolve(output["Export"]["Name"])
                result.exports[export_name] = value
                self.exports[export_name] = value

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


def _table(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    dynamodb = d.client("dynamodb")
    name = p.get("TableName") or f"{r.pseudo['AWS::StackName']}-{lid}"
    if prev is None:
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
        if sse and sse.get("SSEEnabled"):
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
    d.layers[arn] = d._package_dir / Path(p["Content"]["S3Key"]).name
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
        code_zip=d._package_dir / Path(code["S3Key"]).name,
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
    # Locally a version is the function's current code: invoking the qualified ARN runs it.
    arn = f"arn:aws:lambda:{d.region}:{d.account}:function:{p['FunctionName'].split(':function:')[-1]}:1"
    return arn, {"Version": "1"}


def _alias(d: Deployer, lid: str, p: dict[str, Any], prev: _Realized | None, r: Resolver) -> Result:
    # Locally an alias runs the function's current code (no weights, no provisioned concurrency).
    function = str(p["FunctionName"]).split(":function:")[-1].split(":")[0]
    arn = f"arn:aws:lambda:{d.region}:{d.account}:function:{function}:{p['Name']}"
    return arn, {"AliasArn": arn}


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
        poller = SqsPoller(mapping, d.client("sqs"), d.invoker, d.region)
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
