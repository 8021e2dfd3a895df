"""Visibility as code on every environment and stage: alarms, dashboard, canary, tracing, metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from localcloud.packaging import COMPUTE_STAGES, ENVIRONMENTS, PLATFORM, resources_of_type, template
from tests.infra.iam import ACTIONS_WITHOUT_RESOURCE_SCOPE, as_list, role_statements

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
HTTP_SERVICES = ("booking", "catalog", "loyalty")
ENVIRONMENT_OF = {"local": "local", "dev": "dev", "prod": "prod", "prod-blue": "prod", "prod-green": "prod"}


def alarms(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of_type(tpl, "AWS::CloudWatch::Alarm").items()}


def dashboard_body(tpl: dict[str, Any]) -> dict[str, Any]:
    """The dashboard JSON with its Fn::Sub variables filled with placeholders (it must parse)."""
    (dashboard,) = resources_of_type(tpl, "AWS::CloudWatch::Dashboard").values()
    text, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    filled = re.sub(
        r"\$\{([^}!]+)\}",
        lambda m: str(variables.get(m.group(1), "eu-west-1" if m.group(1) == "AWS::Region" else m.group(0))),
        text,
    )
    assert "${" not in filled, "every ${...} of the dashboard is a variable or a pseudo parameter"
    body: dict[str, Any] = json.loads(filled)
    return body


def _names_of_handler_metrics() -> set[str]:
    """Every metric name the handlers emit (add_metric / single_metric), f-strings expanded below."""
    found: set[str] = set()
    for path in (ROOT / "handlers").rglob("*.py"):
        found |= set(re.findall(r"(?:add_metric|single_metric)\(\s*name=\"(\w+)\"", path.read_text()))
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_platform_alarm_notifies_the_alarm_topic(env: str) -> None:
    found = alarms(template(PLATFORM, env))
    assert {
        f"airline-{env}-lambda-errors",
        f"airline-{env}-lambda-throttles",
        f"airline-{env}-booking-failure-rate",
        f"airline-{env}-heartbeat-failing",
        f"airline-{env}-loyalty-events-dlq-not-empty",
    } <= {p["AlarmName"] for p in found.values()}
    for name, props in found.items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props.get("TreatMissingData") in ("notBreaching", "breaching"), name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_booking_failure_rate_reads_the_environments_business_metrics(env: str) -> None:
    (rate,) = [p for p in alarms(template(PLATFORM, env)).values() if p["AlarmName"].endswith("booking-failure-rate")]
    stats = {q["Id"]: q["MetricStat"]["Metric"] for q in rate["Metrics"] if "MetricStat" in q}
    assert {m["Namespace"] for m in stats.values()} == {f"Airline/{env}"}
    assert {m["MetricName"] for m in stats.values()} == {"BookingFailed", "BookingStarted"}
    assert next(q for q in rate["Metrics"] if q.get("ReturnData", True))["Expression"] == "100 * failed / started"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_dashboard_puts_the_business_flow_above_the_technical_signals(env: str) -> None:
    tpl = template(PLATFORM, env)
    (dashboard,) = resources_of_type(tpl, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"airline-{env}"
    widgets = dashboard_body(tpl)["widgets"]
    headings = [(w["y"], w["properties"]["markdown"]) for w in widgets if w["type"] == "text"]
    assert headings[0][1].startswith("## Bookings")
    assert headings[1][1] == "## Technical signals"
    business = json.dumps([w for w in widgets if w["y"] < headings[1][0]])
    technical = json.dumps([w for w in widgets if w["y"] > headings[1][0]])
    for metric in ("BookingConfirmed", "BookingCancelled", "PaymentDeclined", "SeatReserved", "LoyaltyPointsCredited"):
        assert metric in business, metric
    assert "ExecutionTime" in business  # workflow duration
    assert f"Airline/{env}" in business
    for metric in ("Errors", "Throttles", "5xx", "Latency", "ExecutionsTimedOut", "ApproximateNumberOfMessagesVisible"):
        assert metric in technical, metric


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_heartbeat_canary_runs_every_five_minutes_with_its_alarm_and_no_secret_in_the_template(env: str) -> None:
    tpl = template(PLATFORM, env)
    (canary,) = resources_of_type(tpl, "AWS::Synthetics::Canary").values()
    props = canary["Properties"]
    assert props["Schedule"]["Expression"] == "rate(5 minutes)"
    assert props["RuntimeVersion"].startswith("syn-python-selenium-")
    assert props["Code"] == {"Handler": "heartbeat.handler", "Script": (ROOT / "synthetics/heartbeat.py").read_text()}
    variables = props["RunConfig"]["EnvironmentVariables"]
    assert variables["CANARY_SECRET_ARN"] == {"Ref": "CanaryUserSecret"}
    assert not any("password" in key.lower() for key in variables)
    assert props["ArtifactConfig"]["S3Encryption"]["EncryptionMode"] == "SSE_KMS"
    (secret,) = resources_of_type(tpl, "AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "password"
    assert "SecretString" not in secret["Properties"]
    (alarm,) = [p for p in alarms(tpl).values() if p.get("Namespace") == "CloudWatchSynthetics"]
    assert alarm["Dimensions"] == [{"Name": "CanaryName", "Value": {"Ref": "HeartbeatCanary"}}]
    assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        "SuccessPercent",
        "LessThanThreshold",
        "breaching",  # a canary that stops running is as bad as one that fails
    )


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_the_live_entry_the_canary_reads_is_written_by_the_colourless_stage_only(stage: str) -> None:
    env = ENVIRONMENT_OF[stage]
    (canary,) = resources_of_type(template(PLATFORM, env), "AWS::Synthetics::Canary").values()
    wanted = canary["Properties"]["RunConfig"]["EnvironmentVariables"]["LIVE_ENTRY_PARAMETER"]
    parameters = resources_of_type(template("catalog", stage), "AWS::SSM::Parameter")
    if stage != env:  # a colour: promotion, not a deploy, decides whether it is live
        assert not parameters
        return
    (parameter,) = parameters.values()
    assert parameter["Properties"]["Name"] == wanted
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_canary_role_has_only_what_the_heartbeat_uses(env: str) -> None:
    statements = [s for name, s in role_statements(template(PLATFORM, env)) if name == "CanaryRole"]
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert actions == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetBucketLocation",
        "s3:ListAllMyBuckets",
        "cloudwatch:PutMetricData",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ssm:GetParameter",
        "secretsmanager:GetSecretValue",
        "cognito-idp:AdminCreateUser",
        "cognito-idp:AdminSetUserPassword",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    for statement in statements:
        if statement["Resource"] == "*":
            assert set(as_list(statement["Action"])) <= ACTIONS_WITHOUT_RESOURCE_SCOPE, statement


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tracing_carries_through_sns_and_workflows_are_sampled_by_rule(env: str) -> None:
    tpl = template(PLATFORM, env)
    topic = tpl["Resources"]["BookingEventsTopic"]["Properties"]
    assert topic["TracingConfig"] == "Active"
    (rule,) = resources_of_type(tpl, "AWS::XRay::SamplingRule").values()
    sampling = rule["Properties"]["SamplingRule"]
    assert (sampling["ServiceType"], sampling["FixedRate"]) == ("AWS::StepFunctions::StateMachine", 1)
    assert len(sampling["RuleName"]) <= 32


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
@pytest.mark.parametrize("service", HTTP_SERVICES)
def test_every_http_api_has_a_5xx_rate_and_p99_latency_alarm(service: str, stage: str) -> None:
    found = {p["AlarmName"]: p for p in alarms(template(service, stage)).values()}
    rate = found[f"airline-{service}-{stage}-http-5xx-rate"]
    latency = found[f"airline-{service}-{stage}-http-latency-p99"]
    metrics = {q["MetricStat"]["Metric"]["MetricName"] for q in rate["Metrics"] if "MetricStat" in q}
    assert metrics == {"5xx", "Count"}
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")
    env = ENVIRONMENT_OF[stage]
    for props in (rate, latency):
        assert props["AlarmActions"] == [{"Fn::ImportValue": f"airline-{env}-AlarmTopicArn"}]


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_workflow_failures_and_timeouts_alarm(stage: str) -> None:
    names = {p["AlarmName"] for p in alarms(template("booking", stage)).values()}
    assert {f"airline-booking-{stage}-workflow-failed", f"airline-booking-{stage}-workflow-timed-out"} <= names


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
@pytest.mark.parametrize("service", ["autoscaling", "booking", "catalog", "loyalty", "payment"])
def test_metrics_go_to_one_namespace_per_environment(service: str, stage: str) -> None:
    tpl = template(service, stage)
    env = ENVIRONMENT_OF[stage]
    for name, function in resources_of_type(tpl, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == f"Airline/{env}", name
    for props in alarms(tpl).values():
        if str(props.get("Namespace", "")).startswith("Airline"):
            assert props["Namespace"] == f"Airline/{env}"


def test_every_business_metric_has_a_user() -> None:
    """No metric is emitted that no alarm, dashboard or document uses."""
    users = json.dumps(template(PLATFORM, "prod")) + (ROOT / "docs/observability.md").read_text()
    users += "".join(json.dumps(template(s, "prod")) for s in ("catalog", "payment", "booking", "loyalty"))
    emitted = _names_of_handler_metrics()
    assert {"BookingStarted", "BookingConfirmed", "BookingCancelled", "BookingFailed"} <= emitted
    unused = sorted(name for name in emitted if name not in users)
    assert not unused, f"metrics nobody reads: {unused}"


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_every_workflow_has_an_execution_timeout_so_its_timed_out_alarm_can_fire(stage: str) -> None:
    machines = resources_of_type(template("booking", stage), "AWS::StepFunctions::StateMachine")
    assert len(machines) == 2
    for machine in machines.values():
        definition = machine["Properties"]["DefinitionString"]
        text = json.dumps(definition)  # a Fn::Sub / Fn::Join around the ASL JSON
        assert '\\"TimeoutSeconds\\":3600' in text.replace(" ", ""), "execution timeout at the top of the definition"
