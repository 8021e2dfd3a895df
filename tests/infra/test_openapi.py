"""docs/openapi.yml stays true: its operations are exactly the packaged httpApi routes, all behind the JWT."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcloud.packaging import resources_of_type, template

pytestmark = pytest.mark.infra

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yml"
DOCUMENTED_SERVICES = ("catalog", "booking", "loyalty")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


def documented_operations() -> set[tuple[str, str]]:
    return {
        (method.upper(), path) for path, item in document()["paths"].items() for method in item if method in METHODS
    }


def packaged_routes(stage: str) -> set[tuple[str, str]]:
    routes = set()
    for service in DOCUMENTED_SERVICES:
        for route in resources_of_type(template(service, stage), "AWS::ApiGatewayV2::Route").values():
            method, path = route["Properties"]["RouteKey"].split(" ", 1)
            routes.add((method, path))
    return routes


def test_the_document_is_valid_openapi_3() -> None:
    from openapi_spec_validator import validate

    assert str(document()["openapi"]).startswith("3.0")
    validate(document())


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_documented_operations_equal_the_packaged_http_routes(stage: str) -> None:
    assert documented_operations() == packaged_routes(stage)


def test_every_operation_requires_the_jwt_bearer_scheme() -> None:
    scheme = document()["components"]["securitySchemes"]["cognitoJwt"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert operation.get("security") == [{"cognitoJwt": []}], f"{method.upper()} {path}"
                assert "401" in operation["responses"], f"{method.upper()} {path}"


@pytest.mark.parametrize(
    ("schema", "model"),
    [
        ("NewBooking", "handlers.booking.models:NewBooking"),
        ("Booking", "handlers.booking.models:Booking"),
        ("NewFlight", "handlers.catalog.models:NewFlight"),
        ("FlightUpdate", "handlers.catalog.models:FlightUpdate"),
        ("Flight", "handlers.catalog.models:Flight"),
        ("LoyaltyStatus", "handlers.loyalty.models:LoyaltyStatus"),
    ],
)
def test_documented_bodies_have_the_fields_of_the_models(schema: str, model: str) -> None:
    import dataclasses
    import importlib

    module, name = model.split(":")
    loaded = importlib.import_module(module)
    private: frozenset[str] = getattr(loaded, "PRIVATE_FIELDS", frozenset())  # on the record, never shown
    fields = {f.name: f for f in dataclasses.fields(getattr(loaded, name)) if f.name not in private}
    documented = document()["components"]["schemas"][schema]
    assert set(documented["properties"]) == set(fields)
    required = {
        field
        for field, info in fields.items()
        if info.default is dataclasses.MISSING and info.default_factory is dataclasses.MISSING
    }
    assert set(documented.get("required", [])) <= set(fields)
    assert required <= set(documented.get("required", [])) | set()
