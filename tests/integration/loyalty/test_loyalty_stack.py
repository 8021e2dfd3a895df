"""What loyalty needs from its two stacks: the packaged platform (state, messaging) and airline-loyalty (compute)."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.shared.events import EVENT_TYPES
from localcloud.packaging import COMPUTE_STAGES, ENVIRONMENTS, resources_of_type, template

pytestmark = pytest.mark.infra


def env_of(stage: str) -> str:
    return "prod" if stage.startswith("prod") else stage


def role_grants(tpl: dict[str, Any], function_id: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of the function's own role, X-Ray and its log stream aside."""
    role_id = tpl["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    grants = set()
    for policy in tpl["Resources"][role_id]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                if action.startswith(("xray:", "logs:")):
                    continue
                for resource in resources:
                    grants.add((action, resource["Fn::ImportValue"] if isinstance(resource, dict) else resource))
    return grants


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_the_consumer_reads_its_queue_and_writes_its_tables_and_nothing_else(stage: str) -> None:
    tpl = template("loyalty", stage)
    prefix = f"airline-{env_of(stage)}-"

    grants = role_grants(tpl, "CreditPointsLambdaFunction")

    assert grants == {
        ("sqs:ReceiveMessage", prefix + "LoyaltyEventsQueueArn"),
        ("sqs:DeleteMessage", prefix + "LoyaltyEventsQueueArn"),
        ("sqs:GetQueueAttributes", prefix + "LoyaltyEventsQueueArn"),
        # the platform key: through SQS to receive, through DynamoDB to read and write the tables
        # (tests/infra/test_kms_permissions.py checks the kms:ViaService scoping)
        ("kms:Decrypt", prefix + "PlatformKeyArn"),
        ("kms:Encrypt", prefix + "PlatformKeyArn"),
        ("kms:GenerateDataKey*", prefix + "PlatformKeyArn"),
        ("dynamodb:GetItem", prefix + "LoyaltyLedgerTableArn"),
        ("dynamodb:PutItem", prefix + "LoyaltyLedgerTableArn"),
        ("dynamodb:UpdateItem", prefix + "LoyaltyLedgerTableArn"),
        ("dynamodb:UpdateItem", prefix + "LoyaltyTotalsTableArn"),
    }


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_the_api_only_gets_items_from_the_totals_table(stage: str) -> None:
    tpl = template("loyalty", stage)

    assert role_grants(tpl, "LoyaltyApiLambdaFunction") == {
        ("dynamodb:GetItem", f"airline-{env_of(stage)}-LoyaltyTotalsTableArn"),
        ("kms:Decrypt", f"airline-{env_of(stage)}-PlatformKeyArn"),  # reading the table through DynamoDB
    }


@pytest.mark.parametrize("stage", COMPUTE_STAGES)
def test_the_consumer_reports_partial_batch_failures_and_the_queue_outlasts_it(stage: str) -> None:
    tpl = template("loyalty", stage)
    (mapping,) = resources_of_type(tpl, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    function = tpl["Resources"]["CreditPointsLambdaFunction"]["Properties"]
    queue = template("platform", env_of(stage))["Resources"]["LoyaltyEventsQueue"]["Properties"]

    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["EventSourceArn"] == {"Fn::ImportValue": f"airline-{env_of(stage)}-LoyaltyEventsQueueArn"}
    assert 1 <= props["BatchSize"] <= 10
    assert props["MaximumBatchingWindowInSeconds"] >= 1
    # AWS: visibility timeout at least 6 x the function timeout (plus the batching window)
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"] + props["MaximumBatchingWindowInSeconds"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_queue_takes_only_contract_events_from_the_booking_topic_and_dead_letters_after_a_few_receives(
    environment: str,
) -> None:
    resources = template("platform", environment)["Resources"]
    queue = resources["LoyaltyEventsQueue"]["Properties"]
    dlq = resources["LoyaltyEventsDLQ"]["Properties"]
    (subscription,) = [
        res["Properties"]
        for res in resources_of_type({"Resources": resources}, "AWS::SNS::Subscription").values()
        if res["Properties"]["Endpoint"] == {"Fn::GetAtt": ["LoyaltyEventsQueue", "Arn"]}
    ]
    (policy,) = [
        res["Properties"]["PolicyDocument"]
        for res in resources_of_type({"Resources": resources}, "AWS::SQS::QueuePolicy").values()
        if res["Properties"]["Queues"] == [{"Ref": "LoyaltyEventsQueue"}]
    ]

    assert subscription["TopicArn"] == {"Ref": "BookingEventsTopic"}
    assert subscription["RawMessageDelivery"] is True
    assert subscription["FilterPolicyScope"] == "MessageAttributes"
    assert subscription["FilterPolicy"] == {"eventType": list(EVENT_TYPES)}
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "BookingEventsTopicSends",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["LoyaltyEventsQueue", "Arn"]},
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "BookingEventsTopic"}}},
        }
    ]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["LoyaltyEventsDLQ", "Arn"]}
    assert 3 <= queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    assert queue["KmsMasterKeyId"] == dlq["KmsMasterKeyId"] == {"Ref": "PlatformKey"}
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    alarm = resources["LoyaltyEventsDLQNotEmptyAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["LoyaltyEventsDLQ", "QueueName"]}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_platform_exports_what_loyalty_imports(environment: str) -> None:
    exported = {output["Export"]["Name"] for output in template("platform", environment)["Outputs"].values()}
    for name in ("LoyaltyEventsQueueArn", "LoyaltyLedgerTableArn", "LoyaltyTotalsTableArn", "LoyaltyEventsDLQArn"):
        assert f"airline-{environment}-{name}" in exported
