"""Where promotion acts: AWS through CloudFormation (boto3, credentials from the usual chain), or a
running local cloud through its deploy route (`/_localcloud/deploy/<stack>`, which packages from this
checkout) and its edge (CloudFormation, DynamoDB, SSM, Cognito).

Both change the router by a stack deploy with new parameters and refresh a colour's stacks by a
deploy of the template they already run, so CloudFormation re-reads the live colour: the same
steps, and `bluegreen.logic` drives both.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import boto3
import requests

from bluegreen.logic import ROUTER, Stack, stack_name

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
REGION = "eu-west-1"


def key_schemas(dynamodb: Any, tables: list[str]) -> dict[str, str]:
    """Each deployed table's key schema as `hash[,range]` (a table not deployed is left out)."""
    out = {}
    for table in tables:
        try:
            keys = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        except dynamodb.exceptions.ResourceNotFoundException:
            continue
        out[table] = ",".join(k["AttributeName"] for k in sorted(keys, key=lambda k: k["KeyType"] != "HASH"))
    return out


class AwsTarget:
    """An environment on AWS: the router and colour stacks as deployed by `sls deploy`."""

    def __init__(self, env: str, session: Any | None = None) -> None:
        self.env = env
        self.session = session or boto3.Session()
        self.cloudformation = self.session.client("cloudformation")

    def stack(self, name: str) -> Stack | None:
        return described_stack(self.cloudformation, name)

    def _update(self, name: str, parameters: list[dict[str, Any]]) -> None:
        try:
            self.cloudformation.update_stack(
                StackName=name, UsePreviousTemplate=True, Parameters=parameters, Capabilities=CAPABILITIES
            )
        except self.cloudformation.exceptions.ClientError as exc:
            if "No updates are to be performed" in str(exc):
                return
            raise
        self.cloudformation.get_waiter("stack_update_complete").wait(
            StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360}
        )

    def deploy_router(self, parameters: dict[str, str]) -> Stack:
        name = stack_name(ROUTER, self.env)
        current = self.stack(name)
        if current is None:
            raise LookupError(f"{name} is not deployed: cd services/router && sls deploy --stage {self.env}")
        given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
        kept = [{"ParameterKey": k, "UsePreviousValue": True} for k in current.parameters if k not in parameters]
        self._update(name, given + kept)
        updated = self.stack(name)
        assert updated is not None
        return updated

    def refresh(self, stack: Stack) -> None:
        # An SSM-typed parameter's value is its SSM name: given again, CloudFormation resolves its
        # current value (the router's live colour) and applies what changed with it.
        template = self.cloudformation.get_template_summary(StackName=stack.name)["Parameters"]
        parameters = []
        for spec in template:
            key = spec["ParameterKey"]
            if str(spec.get("ParameterType", "")).startswith("AWS::SSM::Parameter::Value<"):
                parameters.append({"ParameterKey": key, "ParameterValue": spec["DefaultValue"]})
            else:
                parameters.append({"ParameterKey": key, "UsePreviousValue": True})
        self._update(stack.name, parameters)

    def key_schemas(self, tables: list[str]) -> dict[str, str]:
        return key_schemas(self.session.client("dynamodb"), tables)

    def caller(self) -> str:
        return str(self.session.client("sts").get_caller_identity()["Arn"])

    def history(self) -> list[str]:
        return promotion_log(self.session.client("ssm"), self.env)

    def served(self) -> dict[str, int]:
        return {}  # on AWS: CloudWatch AWS/Lambda Invocations per function (not read by the command)


class LocalTarget:
    """The environment of a running local cloud (`make local`, or the tests' cloud)."""

    def __init__(self, gateway_url: str, edge_url: str, env: str = "local") -> None:
        self.env = env
        self.gateway_url = gateway_url.rstrip("/")
        self.edge_url = edge_url.rstrip("/")

    @classmethod
    def running(cls, marker: Path) -> LocalTarget:
        """The `make local` described by .localcloud/running.json."""
        if not marker.exists():
            raise LookupError("no local cloud is running: start one with `make local`")
        running = json.loads(marker.read_text())
        return cls(running["gateway"], running["edge"], running["stage"])

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.edge_url,
            region_name=REGION,
            aws_access_key_id="bluegreen",
            aws_secret_access_key="bluegreen",  # noqa: S106 - the local cloud's account
        )

    def stack(self, name: str) -> Stack | None:
        return described_stack(self.client("cloudformation"), name)  # CloudFormation on the edge

    def deploy(
        self, service: str, stage: str, parameters: dict[str, str] | None = None, previous: bool = False
    ) -> Stack:
        """Create or update one stack of a stage over this environment (packaged from this checkout,
        or with `previous` the package it already runs, as CloudFormation's UsePreviousTemplate)."""
        answer = requests.post(
            f"{self.gateway_url}/_localcloud/deploy/{service}",
            params={"stage": stage, **({"previous": "1"} if previous else {})},
            json={"parameters": parameters or {}},
            timeout=900,
        )
        if answer.status_code != 200:
            raise RuntimeError(f"deploy {service} --stage {stage}: {answer.json().get('message')}")
        body = answer.json()
        return Stack(body["stackName"], parameters or {}, body["outputs"])

    def deploy_router(self, parameters: dict[str, str]) -> Stack:
        current = self.stack(stack_name(ROUTER, self.env))
        merged = {**(current.parameters if current else {}), **parameters}
        return self.deploy(ROUTER, self.env, merged)

    def refresh(self, stack: Stack) -> None:
        service, stage = _service_and_stage(stack.name, self.env)
        self.deploy(service, stage, previous=True)  # parameters from their defaults: SSM read again

    def key_schemas(self, tables: list[str]) -> dict[str, str]:
        return key_schemas(self.client("dynamodb"), tables)

    def caller(self) -> str:
        return f"{getpass.getuser()}@local"

    def history(self) -> list[str]:
        return promotion_log(self.client("ssm"), self.env)

    def served(self) -> dict[str, int]:
        stats = requests.get(f"{self.gateway_url}/_localcloud/stats", timeout=30).json()
        return {name: int(s.get("invocations", 0)) for name, s in stats.items() if not name.startswith("_")}


def described_stack(cloudformation: Any, name: str) -> Stack | None:
    """A live stack as CloudFormation describes it (None when it does not exist, failed or is being deleted)."""
    try:
        found = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except cloudformation.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    if found["StackStatus"].endswith("_FAILED") or found["StackStatus"].startswith(("DELETE", "ROLLBACK")):
        return None
    return Stack(
        name,
        {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])},
        {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])},
    )


def promotion_log(ssm: Any, env: str) -> list[str]:
    """The router record's history: one line per switch (version, when, who changed it, what it says)."""
    lines = []
    for page in ssm.get_paginator("get_parameter_history").paginate(Name=f"/airline-{env}/live-colour"):
        for version in page["Parameters"]:
            changed_by = version.get("LastModifiedUser", "").replace("N/A", "")  # the local cloud knows no IAM user
            lines.append(
                f"v{version['Version']} {version['LastModifiedDate']:%Y-%m-%dT%H:%M:%SZ} {version['Value']}: "
                f"{version.get('Description', '')}" + (f" ({changed_by})" if changed_by else "")
            )
    return lines


def _service_and_stage(name: str, env: str) -> tuple[str, str]:
    """airline-booking-local-green -> ("booking", "local-green")."""
    rest = name.removeprefix("airline-")
    service, _, stage = rest.partition(f"-{env}")
    return service, f"{env}{stage}"
