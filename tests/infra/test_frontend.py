"""The web app's stack per stage (private bucket, CloudFront, headers, cache rules, RUM) and the APIs' CORS."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from localcloud.packaging import COMPUTE_STAGES, PLATFORM, ROOT, resources_of_type, services, template
from tests.infra.iam import as_list, role_statements

pytestmark = pytest.mark.infra

PARAMS = yaml.safe_load((ROOT / "services" / "common" / "params.yml").read_text())
IMMUTABLE_SECONDS = 31536000


def only(tpl: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources_of_type(tpl, kind)
    assert len(found) == 1, f"{kind}: {sorted(found)}"
    return next(iter(found.values()))


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_the_app_bucket_is_private_encrypted_and_read_by_cloudfront_only(stage: str) -> None:
    tpl = template("frontend", stage)
    bucket = tpl["Resources"]["AppBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert "WebsiteConfiguration" not in bucket, "no public website endpoint"
    statements = tpl["Resources"]["AppBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "cloudfront.amazonaws.com"}]
    assert allows[0]["Action"] == "s3:GetObject"
    assert "distribution/${Distribution}" in str(allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s["Condition"]) for s in statements)
    oac = only(tpl, "AWS::CloudFront::OriginAccessControl")["Properties"]["OriginAccessControlConfig"]
    assert (oac["SigningBehavior"], oac["SigningProtocol"]) == ("always", "sigv4")


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_cloudfront_is_https_only_with_security_headers_and_cache_rules(stage: str) -> None:
    tpl = template("frontend", stage)
    config = only(tpl, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert config["Aliases"] == [PARAMS[stage]["appDomain"]]
    origin = config["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    for behaviour in behaviours:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeaders"}
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assets = next(b for b in config["CacheBehaviors"] if b["PathPattern"] == "assets/*")
    immutable = tpl["Resources"][assets["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert immutable["MinTTL"] == immutable["DefaultTTL"] == IMMUTABLE_SECONDS
    revalidate = tpl["Resources"][config["DefaultCacheBehavior"]["CachePolicyId"]["Ref"]]
    assert revalidate["Properties"]["CachePolicyConfig"]["DefaultTTL"] == 0, "index.html and config.json revalidate"
    headers = only(tpl, "AWS::CloudFront::ResponseHeadersPolicy")["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= IMMUTABLE_SECONDS
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert "ContentTypeOptions" in security
    csp = str(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert config["Logging"]["Bucket"] == {"Fn::GetAtt": ["AccessLogsBucket", "RegionalDomainName"]}


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_real_user_monitoring_goes_through_the_platform_identity_pool(stage: str) -> None:
    tpl = template("frontend", stage)
    monitor = only(tpl, "AWS::RUM::AppMonitor")["Properties"]
    assert monitor["Name"] == f"airline-web-{stage}"
    env = PARAMS[stage]["env"]
    config = monitor["AppMonitorConfiguration"]
    assert config["IdentityPoolId"] == {"Fn::ImportValue": f"airline-{env}-IdentityPoolId"}
    assert config["GuestRoleArn"] == {"Fn::ImportValue": f"airline-{env}-RumSenderRoleArn"}


@pytest.mark.parametrize("environment", ["local", "dev", "prod"])
def test_identity_pool_roles_may_only_send_rum_events_to_the_environments_monitors(environment: str) -> None:
    tpl = template(PLATFORM, environment)
    statements = [st for name, st in role_statements(tpl) if name == "RumSenderRole"]
    assert [as_list(st["Action"]) for st in statements] == [["rum:PutRumEvents"]]
    monitors = statements[0]["Resource"]
    stages = [s for s in COMPUTE_STAGES if PARAMS[s]["env"] == environment]
    assert sorted(str(m["Fn::Sub"]).rsplit("/", 1)[1] for m in monitors) == sorted(f"airline-web-{s}" for s in stages)
    trust = tpl["Resources"]["RumSenderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == "unauthenticated"
    assert trust["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] == {"Ref": "IdentityPool"}
    authenticated = tpl["Resources"]["IdentityPoolAuthenticatedRole"]["Properties"]
    assert not authenticated.get("Policies"), "signed-in identities get no AWS permissions"


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_the_http_apis_allow_only_the_stages_web_app(stage: str) -> None:
    expected = PARAMS[stage]["appOrigins"]
    assert "*" not in expected
    if stage == "local":
        assert "http://127.0.0.1:4568" in expected, "the local cloud serves the app there (make local)"
    else:
        assert expected == [f"https://{PARAMS[stage]['appDomain']}"]
    for service in services():
        for api in resources_of_type(template(service, stage), "AWS::ApiGatewayV2::Api").values():
            assert api["Properties"]["CorsConfiguration"]["AllowOrigins"] == expected, service
