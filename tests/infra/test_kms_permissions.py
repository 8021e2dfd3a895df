"""Every function role can use the platform key for the encrypted data it touches, and only through that service.

Derived, not listed: the platform template says which tables, queues and topics
are encrypted with the platform key and under which export their ARN travels; a
role's statements say which of those exports it reads or writes. AWS then
requires, per service, `kms:Decrypt` (readers) plus `kms:Encrypt` and
`kms:GenerateDataKey*` (writers) on the key, and here they must be scoped with
`kms:ViaService` to that service. moto does not enforce any of it.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from typing import Any

import pytest

from localcloud.packaging import COMPUTE_STAGES, PLATFORM, resources_of_type, services, template
from tests.infra.iam import as_list, role_statements

pytestmark = pytest.mark.infra

_ENCRYPTED_KINDS = {
    "AWS::DynamoDB::Table": ("dynamodb", lambda p: p.get("SSESpecification", {}).get("KMSMasterKeyId")),
    "AWS::SQS::Queue": ("sqs", lambda p: p.get("KmsMasterKeyId")),
    "AWS::SNS::Topic": ("sns", lambda p: p.get("KmsMasterKeyId")),
}
_WRITES = {
    "dynamodb": ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"),
    "sqs": ("SendMessage", "SendMessageBatch"),
    "sns": ("Publish",),
}
_READS = {
    "dynamodb": ("GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"),
    "sqs": ("ReceiveMessage",),
    "sns": (),
}
KEY_EXPORT_SUFFIX = "-PlatformKeyArn"
ENV_OF = {"local": "local", "dev": "dev", "prod": "prod", "prod-blue": "prod", "prod-green": "prod"}


def encrypted_exports(environment: str) -> dict[str, str]:
    """Export name -> AWS service, for every resource the platform encrypts with its key."""
    platform = template(PLATFORM, environment)
    encrypted: dict[str, str] = {}
    for kind, (service, key_of) in _ENCRYPTED_KINDS.items():
        for name, resource in resources_of_type(platform, kind).items():
            if key_of(resource.get("Properties", {})) == {"Ref": "PlatformKey"}:
                encrypted[name] = service
    exports = {}
    for output in platform.get("Outputs", {}).values():
        value = output["Value"]
        target = value.get("Fn::GetAtt", [None])[0] if "Fn::GetAtt" in value else value.get("Ref")
        if target in encrypted and "Export" in output:
            exports[output["Export"]["Name"]] = encrypted[target]
    return exports


def imported(value: Any) -> list[str]:
    """Every export a resource expression imports (also inside Fn::Join, e.g. an index ARN)."""
    if isinstance(value, dict):
        if "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            return [value["Fn::ImportValue"]]
        return [name for inner in value.values() for name in imported(inner)]
    if isinstance(value, list):
        return [name for inner in value for name in imported(inner)]
    return []


def allows(actions: list[str], wanted: str) -> bool:
    return any(fnmatch.fnmatch(wanted, action) for action in actions)


def key_use_by_role(tpl: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """Role -> ViaService prefix (e.g. "dynamodb") -> kms actions allowed on the platform key."""
    granted: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for role, statement in role_statements(tpl):
        actions = [a for a in as_list(statement.get("Action", [])) if a.startswith("kms:")]
        if statement.get("Effect") != "Allow" or not actions:
            continue
        keys = imported(statement.get("Resource"))
        assert keys, f"{role}: kms on something that is not the platform key"
        assert all(k.endswith(KEY_EXPORT_SUFFIX) for k in keys), f"{role}: kms on {keys}"
        via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        assert via, f"{role}: platform key use without kms:ViaService"
        service = str(via).split(".", 1)[0]
        for wanted in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext"):
            if allows(actions, wanted):
                granted[role][service].add(wanted)
    return granted


def data_use_by_role(tpl: dict[str, Any], exports: dict[str, str]) -> dict[str, dict[str, str]]:
    """Role -> AWS service -> "write" or "read", over the encrypted resources its statements name."""
    used: dict[str, dict[str, str]] = defaultdict(dict)
    for role, statement in role_statements(tpl):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        for export in imported(statement.get("Resource")):
            service = exports.get(export)
            if service is None:
                continue
            if any(allows(actions, f"{service}:{op}") for op in _WRITES[service]):
                used[role][service] = "write"
            elif any(allows(actions, f"{service}:{op}") for op in _READS[service]):
                used[role].setdefault(service, "read")
    return used


@pytest.mark.parametrize(("service", "stage"), [(s, st) for s in services() for st in COMPUTE_STAGES])
def test_every_role_may_use_the_platform_key_for_what_it_touches_and_only_through_that_service(
    service: str, stage: str
) -> None:
    tpl = template(service, stage)
    exports = encrypted_exports(ENV_OF[stage])
    assert exports, "the platform encrypts nothing with its key?"
    granted = key_use_by_role(tpl)
    missing = []
    for role, uses in data_use_by_role(tpl, exports).items():
        for aws_service, kind in uses.items():
            needed = {"kms:Decrypt"} | ({"kms:Encrypt", "kms:GenerateDataKey"} if kind == "write" else set())
            if aws_service == "sns":
                needed = {"kms:Decrypt", "kms:GenerateDataKey"}  # a publisher: SNS encrypts with a data key
            lacking = needed - granted.get(role, {}).get(aws_service, set())
            if lacking:
                missing.append(f"{role} {kind}s {aws_service}: lacks {sorted(lacking)}")
    assert not missing, f"{service}/{stage}:\n" + "\n".join(missing)


@pytest.mark.parametrize("stage", ["local", "prod-blue"])
def test_the_derivation_sees_the_roles_the_issue_named(stage: str) -> None:
    # searchFlights, manageFlights, loyaltyApi and creditPoints lacked the key: make sure
    # the derivation above really looks at them (a test that finds nothing proves nothing).
    seen = {}
    for service in ("catalog", "loyalty"):
        tpl = template(service, stage)
        for role, uses in data_use_by_role(tpl, encrypted_exports(ENV_OF[stage])).items():
            seen[role] = uses
    assert seen["SearchFlightsIamRoleLambdaExecution"] == {"dynamodb": "read"}
    assert seen["ManageFlightsIamRoleLambdaExecution"] == {"dynamodb": "write"}
    assert seen["LoyaltyApiIamRoleLambdaExecution"] == {"dynamodb": "read"}
    assert seen["CreditPointsIamRoleLambdaExecution"] == {"dynamodb": "write", "sqs": "read"}
