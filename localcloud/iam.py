"""IAM enforced at the edge: a function's calls are allowed only by its role's policies, as on AWS.

Every function runs with credentials from STS AssumeRole on its own realized role (deploy.py).
For each signed request the edge asks `AccessCheck.refusal`: the access key (SigV4 `Credential=`)
is looked up among moto's assumed roles; the role's inline and managed policies (from moto's IAM)
are evaluated here, because moto's own access control is process-wide (it would also refuse the
deployer and test clients, which act as the account root here and stay unrestricted) and does not
evaluate conditions.

Evaluation, as IAM does for one identity policy set: an explicit Deny wins, else any Allow, else
implicit deny. `Action`/`NotAction` (case-insensitive, `*`/`?` wildcards), `Resource`/`NotResource`
(wildcards), `Condition` with String*/Arn*/Bool/Null operators (`...IfExists`, `ForAnyValue:`/
`ForAllValues:`). Condition keys evaluated: CONTEXT_KEYS. A key the local cloud does not supply
(e.g. `aws:ResourceTag/...`) is assumed to hold — listed in docs/localcloud.md.

Use of a customer managed KMS key through a service is checked as AWS does it, with the caller's
identity and `kms:ViaService = <service>.<region>.amazonaws.com`: DynamoDB item and query calls
on a table under a CMK need kms:Decrypt; SQS SendMessage needs kms:GenerateDataKey and
kms:Decrypt, ReceiveMessage kms:Decrypt; SNS Publish to an encrypted topic needs
kms:GenerateDataKey and kms:Decrypt. Refusals carry each service's error (JSON protocols
AccessDeniedException; SQS AccessDenied; SNS AuthorizationError; Lambda 403
AccessDeniedException; KMS-through-service: DynamoDB AccessDeniedException "KMS key access
denied error", SQS KmsAccessDenied, SNS KMSAccessDenied).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote

log = logging.getLogger("localcloud.iam")

CONTEXT_KEYS = (
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:RequestedRegion",
    "aws:SecureTransport",
    "kms:CallerAccount",
    "kms:ViaService",
)
NO_PERMISSION_NEEDED = frozenset({"sts:getcalleridentity"})  # AWS requires no permission for these
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "execute-api"}
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
DYNAMODB_DATA = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ConditionCheckItem",
    }
)
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@dataclass(frozen=True)
class Refusal:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Call:
    """One signed request as IAM sees it."""

    service: str  # the signing name, e.g. dynamodb, sqs, sns, lambda, states
    operation: str
    protocol: str  # json | query | rest | unknown
    checks: list[tuple[str, str]] = field(default_factory=list)  # (iam action, resource ARN or "*")
    kms: list[tuple[str, str]] = field(default_factory=list)  # (kms action, key ARN) through this service


# -- policy evaluation --------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    escaped = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{escaped}$", re.IGNORECASE if ignore_case else 0)


def _matches(patterns: list[Any], value: str, *, ignore_case: bool = False) -> bool:
    return any(_pattern(str(p), ignore_case).match(value) for p in patterns)


def _operator_holds(operator: str, wanted: list[Any], actual: list[str]) -> bool:
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    core = base.replace("Not", "")
    wanted_text = [str(w) for w in wanted]

    def one(value: str) -> bool:
        if core in ("StringEquals",):
            return value in wanted_text
        if core == "StringEqualsIgnoreCase":
            return value.lower() in {w.lower() for w in wanted_text}
        if core in ("StringLike", "ArnLike", "ArnEquals"):
            return _matches(wanted_text, value)
        if core == "Bool":
            return value.lower() in {w.lower() for w in wanted_text}
        raise KeyError(operator)

    hit = any(one(v) for v in actual)
    return not hit if negated else hit


def condition_holds(condition: dict[str, Any], context: dict[str, list[str]], unevaluated: Counter[str]) -> bool:
    for raw_operator, clauses in condition.items():
        qualifier, _, operator = raw_operator.rpartition(":")
        for key, wanted in clauses.items():
            if key not in CONTEXT_KEYS and not any(key.lower() == k.lower() for k in CONTEXT_KEYS):
                unevaluated[key] += 1  # not supplied locally: assumed to hold
                continue
            actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if operator == "Null":  # "true": the key is absent; "false": it is present
                if (actual is None) != (str(_as_list(wanted)[0]).lower() == "true"):
                    return False
                continue
            if actual is None:
                if operator.endswith("IfExists") or "Not" in operator:
                    continue
                return False
            try:
                holds = _operator_holds(operator, _as_list(wanted), actual)
            except KeyError:
                unevaluated[raw_operator] += 1
                continue
            if qualifier == "ForAllValues":
                holds = all(_operator_holds(operator, _as_list(wanted), [v]) for v in actual)
            if not holds:
                return False
    return True


def evaluate(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, list[str]],
    unevaluated: Counter[str] | None = None,
) -> str:
    """'Deny' (explicit), 'Allow', or 'ImplicitDeny' for one action on one resource."""
    unevaluated = Counter() if unevaluated is None else unevaluated
    allowed = False
    for statement in statements:
        if "Action" in statement and not _matches(_as_list(statement["Action"]), action, ignore_case=True):
            continue
        if "NotAction" in statement and _matches(_as_list(statement["NotAction"]), action, ignore_case=True):
            continue
        if resource != "*":
            if "Resource" in statement and not _matches(_as_list(statement["Resource"]), resource):
                continue
            if "NotResource" in statement and _matches(_as_list(statement["NotResource"]), resource):
                continue
        elif "NotResource" in statement:
            continue
        if "Condition" in statement and not condition_holds(statement["Condition"], context, unevaluated):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else "ImplicitDeny"


# -- what a request asks for -------------------------------------------------------------------------
def _arn(service: str, region: str, account: str, rest: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{rest}"


def _queue_arn(url_or_name: str, region: str, account: str) -> str:
    name = url_or_name.rstrip("/").rsplit("/", 1)[-1]
    return _arn("sqs", region, account, name)


def describe(environ: dict[str, Any], body: bytes, service: str, region: str, account: str) -> Call:
    """The IAM actions and resources of one request (resource "*" where it is not derived)."""
    path = environ.get("PATH_INFO", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix = IAM_PREFIX.get(service, service)
    if service == "lambda":
        match = INVOKE_PATH.match(path)
        if match and environ.get("REQUEST_METHOD") == "POST":
            name = unquote(match.group("name"))
            qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [None])[0]
            if not name.startswith("arn:"):
                name = _arn("lambda", region, account, f"function:{name}")
            if qualifier and name.count(":") == 6:
                name = f"{name}:{qualifier}"
            return Call(service, "Invoke", "rest", [("lambda:InvokeFunction", name)])
        return Call(service, "", "rest")  # other Lambda REST calls: not evaluated
    if target:
        operation = target.rsplit(".", 1)[-1]
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        call = Call(service, operation, "json")
        _json_checks(call, prefix, params, region, account)
        return call
    content_type = environ.get("CONTENT_TYPE", "")
    if "x-www-form-urlencoded" in content_type or "Action=" in environ.get("QUERY_STRING", ""):
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace") or environ.get("QUERY_STRING", "")).items()}
        operation = form.get("Action", "")
        call = Call(service, operation, "query")
        _query_checks(call, prefix, form, region, account)
        return call
    return Call(service, "", "unknown")  # REST/CBOR protocols other than Lambda Invoke: not evaluated


def _dynamodb_checks(call: Call, p: dict[str, Any], region: str, account: str) -> None:
    op = call.operation
    if op in ("TransactWriteItems", "TransactGetItems"):
        for item in p.get("TransactItems", []):
            for kind, request in item.items():
                table = _table_arn(request.get("TableName", ""), region, account)
                call.checks.append((f"dynamodb:{TRANSACT_ACTIONS.get(kind, kind)}", table))
    elif op in ("BatchWriteItem", "BatchGetItem"):
        for table in p.get("RequestItems", {}):
            call.checks.append((f"dynamodb:{op}", _table_arn(table, region, account)))
    elif "TableName" in p:
        arn = _table_arn(p["TableName"], region, account)
        if p.get("IndexName") and op in ("Query", "Scan"):
            arn = f"{arn}/index/{p['IndexName']}"
        call.checks.append((f"dynamodb:{op}", arn))
    else:
        call.checks.append((f"dynamodb:{op}", "*"))
    if op in DYNAMODB_DATA:
        tables = {arn.split(":table/", 1)[1].split("/")[0] for _, arn in call.checks if ":table/" in arn}
        for table in sorted(tables):
            key = _table_key(table, region, account)
            if key:
                call.kms.append(("kms:Decrypt", key))


# SQS authorizes a batch action as its single action (SQS developer guide, "Amazon SQS API permissions").
_SQS_BATCH_ACTIONS = {"SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"}


def _sqs_action(operation: str) -> str:
    return "sqs:" + (operation.removesuffix("Batch") if operation in _SQS_BATCH_ACTIONS else operation)


def _sqs_json_checks(call: Call, p: dict[str, Any], region: str, account: str) -> None:
    named = p.get("QueueUrl") or p.get("QueueName")
    arn = _queue_arn(str(named), region, account) if named else "*"
    call.checks.append((_sqs_action(call.operation), arn))
    _sqs_kms(call, call.operation, arn, region, account)


def _ssm_checks(call: Call, p: dict[str, Any], region: str, account: str) -> None:
    names = p.get("Names") or ([p["Name"]] if "Name" in p else [])
    for name in names:
        call.checks.append(
            (f"ssm:{call.operation}", _arn("ssm", region, account, "parameter/" + str(name).lstrip("/")))
        )
    if not names:
        call.checks.append((f"ssm:{call.operation}", "*"))


def _events_checks(call: Call, p: dict[str, Any], region: str, account: str) -> None:
    buses = sorted({e.get("EventBusName", "default") for e in p.get("Entries", [])}) if "Entries" in p else []
    for bus in buses:
        call.checks.append(
            (
                f"events:{call.operation}",
                bus if bus.startswith("arn:") else _arn("events", region, account, f"event-bus/{bus}"),
            )
        )
    if not buses:
        call.checks.append((f"events:{call.operation}", "*"))


RESOURCE_OF: dict[str, Callable[[str, dict[str, Any]], str]] = {}  # service -> the resource of a JSON call


def _json_checks(call: Call, prefix: str, p: dict[str, Any], region: str, account: str) -> None:
    by_service = {"dynamodb": _dynamodb_checks, "sqs": _sqs_json_checks, "ssm": _ssm_checks, "events": _events_checks}
    if call.service in by_service:
        by_service[call.service](call, p, region, account)
        return
    resource = "*"
    if call.service == "states":
        resource = p.get("stateMachineArn") or p.get("executionArn") or "*"
    elif call.service in RESOURCE_OF:  # e.g. CodeDeploy: the deployment group a call acts on
        resource = RESOURCE_OF[call.service](call.operation, p)
    elif call.service == "kms" and "KeyId" in p:
        resource = _key_arn(str(p["KeyId"]), region, account) or "*"
    call.checks.append((f"{prefix}:{call.operation}", resource))


def _query_checks(call: Call, prefix: str, form: dict[str, str], region: str, account: str) -> None:
    op = call.operation
    if call.service == "sns":
        arn = form.get("TopicArn") or form.get("TargetArn") or "*"
        call.checks.append((f"sns:{op}", arn))
        if op in ("Publish", "PublishBatch") and arn != "*":
            key = _topic_key(arn, region, account)
            if key:
                call.kms += [("kms:GenerateDataKey", key), ("kms:Decrypt", key)]
        return
    if call.service == "sqs":
        arn = _queue_arn(form["QueueUrl"], region, account) if "QueueUrl" in form else "*"
        call.checks.append((_sqs_action(op), arn))
        _sqs_kms(call, op, arn, region, account)
        return
    call.checks.append((f"{prefix}:{op}", "*"))


def _sqs_kms(call: Call, op: str, arn: str, region: str, account: str) -> None:
    if arn == "*":
        return
    key = _queue_key(arn.rsplit(":", 1)[-1], region, account)
    if not key:
        return
    if op in ("SendMessage", "SendMessageBatch"):
        call.kms += [("kms:GenerateDataKey", key), ("kms:Decrypt", key)]
    elif op == "ReceiveMessage":
        call.kms.append(("kms:Decrypt", key))


# -- moto lookups (in process) ----------------------------------------------------------------------
def _table_arn(name: str, region: str, account: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", region, account, f"table/{name}")


def _key_arn(key_id: str, region: str, account: str) -> str | None:
    """The ARN of a customer managed key named by id, ARN or alias; None for AWS managed/owned keys."""
    from moto.kms.models import kms_backends

    if not key_id or "alias/aws/" in key_id:
        return None
    backend = kms_backends[account][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:  # unknown key: the service call itself will fail as moto decides
        return None
    if getattr(key, "key_manager", "CUSTOMER") != "CUSTOMER":
        return None
    return str(key.arn)


def _table_key(table: str, region: str, account: str) -> str | None:
    from moto.dynamodb.models import dynamodb_backends

    try:
        spec = dynamodb_backends[account][region].get_table(table).sse_specification or {}
    except Exception:
        return None
    if not spec.get("Enabled") or spec.get("SSEType", "KMS") != "KMS":
        return None
    return _key_arn(str(spec.get("KMSMasterKeyId", "")), region, account)


def _queue_key(name: str, region: str, account: str) -> str | None:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account][region].queues.get(name)
    key = getattr(queue, "kms_master_key_id", None) if queue is not None else None
    return _key_arn(str(key), region, account) if key else None


def _topic_key(arn: str, region: str, account: str) -> str | None:
    from moto.sns.models import sns_backends

    topic = sns_backends[account][region].topics.get(arn)
    key = getattr(topic, "kms_master_key_id", None) if topic is not None else None
    return _key_arn(str(key), region, account) if key else None


def assumed_role(access_key: str, account: str) -> tuple[str, str] | None:
    """(role ARN, assumed-role session ARN) behind an access key, or None (the account's own credentials)."""
    from moto.sts.models import sts_backends

    assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    if assumed is None:
        return None
    role_arn = str(assumed.role_arn)
    return role_arn, f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{assumed.session_name}"


def role_statements(role_arn: str, account: str) -> list[dict[str, Any]]:
    """Every statement of the role's inline and attached managed policies, as stored in moto's IAM."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:
        return []  # a role that does not exist allows nothing
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        version = next((v for v in getattr(policy, "versions", []) if getattr(v, "is_default", False)), None)
        documents.append(version.document if version is not None else getattr(policy, "document", "{}"))
    statements: list[dict[str, Any]] = []
    for document in documents:
        parsed = json.loads(unquote(document)) if isinstance(document, str) else document
        statements += _as_list(parsed.get("Statement", []))
    return statements


# -- the check at the edge ----------------------------------------------------------------------------
class AccessCheck:
    """Called by the edge for every request; refuses what the caller's role does not allow."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.refused: Counter[str] = Counter()
        self.unevaluated: Counter[str] = Counter()
        self._lock = threading.Lock()

    def refusal(self, environ: dict[str, Any]) -> Refusal | None:
        credential = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "") or environ.get("QUERY_STRING", ""))
        if credential is None:
            return None  # unsigned (moto-api, JWKS)
        assumed = assumed_role(credential.group("key"), self.account)
        if assumed is None:
            return None  # the account's own credentials (deployer, tests, tools)
        role, principal = assumed
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        region = credential.group("region")
        call = describe(environ, body, credential.group("service"), region, self.account)
        statements = role_statements(role, self.account)
        context = {
            "aws:PrincipalAccount": [self.account],
            "aws:PrincipalArn": [role],
            "aws:RequestedRegion": [region],
            "aws:SecureTransport": ["true"],  # on AWS every SDK call is TLS; the loopback edge stands in for it
        }
        unevaluated: Counter[str] = Counter()
        for action, resource in call.checks:
            if action.lower() in NO_PERMISSION_NEEDED:
                continue
            if evaluate(statements, action, resource, context, unevaluated) != "Allow":
                return self._refuse(call, principal, action, resource, kms=False)
        via = {
            **context,
            "kms:ViaService": [f"{call.service}.{region}.amazonaws.com"],
            "kms:CallerAccount": [self.account],
        }
        for action, key in call.kms:
            if evaluate(statements, action, key, via, unevaluated) != "Allow":
                return self._refuse(call, principal, action, key, kms=True)
        if unevaluated:
            with self._lock:
                self.unevaluated.update(unevaluated)
        return None

    def _refuse(self, call: Call, principal: str, action: str, resource: str, *, kms: bool) -> Refusal:
        with self._lock:
            self.refused[action] += 1
        message = (
            f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action"
        )
        log.warning("IAM refused %s (%s %s)", message, call.service, call.operation)
        if kms:
            return _kms_refusal(call, message)
        if call.service == "lambda":
            return _json(403, "AccessDeniedException", {"Message": message}, content_type="application/json")
        if call.protocol == "json":
            headers = {"x-amzn-query-error": "AccessDenied;Sender"} if call.service == "sqs" else {}
            status = 403 if call.service == "sqs" else 400
            return _json(status, "AccessDeniedException", {"message": message}, extra=headers)
        code = "AuthorizationError" if call.service == "sns" else "AccessDenied"
        return _query_error(403, code, message, call.service)


def _kms_refusal(call: Call, message: str) -> Refusal:
    if call.service == "dynamodb":
        text = (
            "KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: "
            f"{message} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
        )
        return _json(400, "AccessDeniedException", {"message": text})
    if call.service == "sqs" and call.protocol == "json":
        return _json(400, "KmsAccessDenied", {"message": message}, namespace="com.amazonaws.sqs")
    if call.service == "sqs":
        return _query_error(400, "KMS.AccessDeniedException", message, "sqs")
    return _query_error(400, "KMSAccessDenied", message, call.service)


def _json(
    status: int,
    error: str,
    body: dict[str, str],
    *,
    content_type: str = "application/x-amz-json-1.0",
    extra: dict[str, str] | None = None,
    namespace: str = "com.amazon.coral.service",
) -> Refusal:
    payload = json.dumps({"__type": f"{namespace}#{error}", **body}).encode()
    headers = {"Content-Type": content_type, "x-amzn-ErrorType": error, "x-amzn-RequestId": str(uuid.uuid4())}
    headers.update(extra or {})
    return Refusal(status, headers, payload)


_NAMESPACES = {"sns": "http://sns.amazonaws.com/doc/2010-03-31/", "sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def _query_error(status: int, code: str, message: str, service: str) -> Refusal:
    from xml.sax.saxutils import escape

    namespace = _NAMESPACES.get(service, "")
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    body = (
        f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return Refusal(status, {"Content-Type": "text/xml"}, body)
