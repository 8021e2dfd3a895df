"""Create DynamoDB tables from the packaged platform template (never a hand-written copy)."""

from __future__ import annotations

from typing import Any

from localcloud.packaging import resources_of_type, template

_CREATE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "LocalSecondaryIndexes", "GlobalSecondaryIndexes")


def table_definitions(environment: str = "local") -> dict[str, dict[str, Any]]:
    """Logical id -> table properties, as the platform stack of `environment` declares them."""
    tables = resources_of_type(template("platform", environment), "AWS::DynamoDB::Table")
    return {name: res["Properties"] for name, res in tables.items()}


def create_tables(dynamodb: Any, environment: str = "local", only: set[str] | None = None) -> list[str]:
    """Create the platform's tables (or those named in `only`, by logical id or table name)."""
    created = []
    for logical_id, props in table_definitions(environment).items():
        name = props["TableName"]
        if only and logical_id not in only and name not in only:
            continue
        request = {key: props[key] for key in _CREATE_KEYS if key in props}
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        dynamodb.create_table(TableName=name, **request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.append(name)
    return created
