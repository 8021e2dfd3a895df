"""Every operation of docs/openapi.yml, fuzzed against the local cloud: no 5xx, every answer as documented.

Schemathesis generates requests from the document itself (valid ones, and with
`NEGATIVE` generation invalid ones: wrong types, out-of-range values, broken
formats), sends them through the local cloud's HTTP API gateway with a real
customer token and a real Admin token, and validates each answer against the
document (status code documented, content type, body schema). A 5xx fails at
once. Bounded: a fixed number of examples per operation, identity and mode
(FUZZ_EXAMPLES, default 12), derandomized so a failure reproduces; about a
minute on 2 cores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import RunningCloud

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("localcloud")]

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yml"
SCHEMA = schemathesis.openapi.from_path(str(DOCUMENT))
OPERATIONS = [cast(Any, result).ok() for result in SCHEMA.get_all_operations()]  # every operation parses (Ok)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SERVICE_OF_TAG = {"catalog": "catalog", "booking": "booking", "loyalty": "loyalty"}
# What "matches the document" means here. Not `positive_data_acceptance`: a schema-valid
# request may rightly be refused for what a schema cannot say (a page token this API did
# not issue is 400, a flight that does not exist is 404, an Idempotency-Key reused is 409).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,  # an invalid request must not be accepted (2xx)
]


def base_url(cloud: RunningCloud, operation: Any) -> str:
    (tag,) = operation.tags
    return cloud.api(SERVICE_OF_TAG[tag])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("admin", [False, True], ids=["customer", "admin"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_input_gets_a_5xx_and_every_answer_matches_the_document(
    cloud: RunningCloud, operation: Any, admin: bool, mode: GenerationMode
) -> None:
    token = cloud.user("fuzzer-admin" if admin else "fuzzer", admin=admin).access
    url = base_url(cloud, operation)
    seen: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(base_url=url, headers=headers, timeout=30)
        request = f"{case.method} {case.formatted_path}"
        seen.append(f"{request} -> {response.status_code}")
        assert response.status_code < 500, f"{request}: {response.status_code} {response.text}"
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert seen, "no request was sent"


def test_the_authorizer_401_is_the_documented_one(cloud: RunningCloud) -> None:
    operation = next(op for op in OPERATIONS if op.label == "GET /loyalty")
    case = operation.Case()
    response = case.call(base_url=base_url(cloud, operation), headers={"Authorization": "Bearer forged"}, timeout=30)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    case.validate_response(response, checks=CHECKS)
