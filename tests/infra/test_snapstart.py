"""SnapStart in the packaged templates: production versions behind the release alias, never with
provisioned concurrency (Lambda does not combine them), never on development stages."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.packaging import COMPUTE_STAGES, PRODUCTION_STAGES, function_services, resources_of_type, template

pytestmark = pytest.mark.infra


def aliases_of(tpl: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    return [
        alias["Properties"]
        for alias in resources_of_type(tpl, "AWS::Lambda::Alias").values()
        if alias["Properties"]["FunctionName"] == {"Ref": function_id}
    ]


@pytest.mark.parametrize(("service", "stage"), [(s, st) for s in function_services() for st in COMPUTE_STAGES])
def test_snapstart_covers_production_versions_behind_the_alias_but_never_provisioned_ones(
    service: str, stage: str
) -> None:
    tpl = template(service, stage)
    for function_id, fn in resources_of_type(tpl, "AWS::Lambda::Function").items():
        snap_start = fn["Properties"].get("SnapStart")
        aliases = aliases_of(tpl, function_id)
        provisioned = any("ProvisionedConcurrencyConfig" in alias for alias in aliases)
        if stage in PRODUCTION_STAGES and aliases and not provisioned:
            assert snap_start == {"ApplyOn": "PublishedVersions"}, function_id
            # The alias serves a version published with SnapStart on (renamed, so it is republished).
            for alias in aliases:
                version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
                assert version_id.endswith("SnapStart"), function_id
                assert tpl["Resources"][version_id]["Properties"]["FunctionName"] == {"Ref": function_id}
        else:
            assert snap_start is None, f"{function_id} on {stage} (provisioned: {provisioned})"


def test_the_functions_with_provisioned_concurrency_in_production_have_no_snapstart() -> None:
    tpl = template("booking", "prod")
    create = resources_of_type(tpl, "AWS::Lambda::Function")["CreateBookingLambdaFunction"]
    assert any("ProvisionedConcurrencyConfig" in a for a in aliases_of(tpl, "CreateBookingLambdaFunction"))
    assert "SnapStart" not in create["Properties"]
