"""The loyalty messaging path on moto, built from the packaged platform template's own definitions.

Topic, queues (with their redrive policy and visibility timeout), queue policy and
the filtered subscription come from `template("platform", "local")`, so a change of
filter policy, maxReceiveCount or delivery mode in resources/loyalty.yml is what the
flow tests exercise. A moto KMS key stands for the platform key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from localcloud.packaging import template
from tests.integration.loyalty.booking_events import record_from_sqs
from tests.support.events import FakeLambdaContext, sqs_event

REGION = "eu-west-1"
ACCOUNT = "123456789012"
_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "KmsMasterKeyId", "DelaySeconds")


@dataclass
class Messaging:
    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int
    subscription_attributes: dict[str, str] = field(default_factory=dict)


class _Resolver:
    """Just enough of CloudFormation's intrinsics for the resources used here."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        self.attributes: dict[tuple[str, str], str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.refs[arg]
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attributes[(name, attribute)]
            if key == "Fn::Sub":
                text = arg
                for name, resolved in self.refs.items():
                    text = text.replace("${" + name + "}", resolved)
                return text
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def _subscriptions_to(resources: dict[str, Any], queue_id: str) -> list[dict[str, Any]]:
    return [
        res["Properties"]
        for res in resources.values()
        if res["Type"] == "AWS::SNS::Subscription"
        and res["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]


def build(queue_id: str = "LoyaltyEventsQueue", environment: str = "local") -> Messaging:
    resources = template("platform", environment)["Resources"]
    queue = resources[queue_id]["Properties"]
    dlq_id = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    resolve = _Resolver()
    kms, sns, sqs = (boto3.client(name, region_name=REGION) for name in ("kms", "sns", "sqs"))
    resolve.refs["PlatformKey"] = kms.create_key(Description="stands for PlatformKey")["KeyMetadata"]["Arn"]

    (subscription,) = _subscriptions_to(resources, queue_id)
    topic_id = subscription["TopicArn"]["Ref"]
    topic = resources[topic_id]["Properties"]
    topic_arn = sns.create_topic(
        Name=topic["TopicName"], Attributes={"KmsMasterKeyId": resolve(topic["KmsMasterKeyId"])}
    )["TopicArn"]
    resolve.refs[topic_id] = topic_arn

    urls = {}
    for logical_id in (dlq_id, queue_id):  # the dead-letter queue must exist before its source
        props = resolve(resources[logical_id]["Properties"])
        attributes = {key: str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
            if policy in props:
                attributes[policy] = json.dumps(props[policy])
        url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        urls[logical_id] = url
        resolve.refs[logical_id] = url
        resolve.attributes[(logical_id, "Arn")] = arn
        resolve.attributes[(logical_id, "QueueName")] = props["QueueName"]

    for res in resources.values():
        if res["Type"] == "AWS::SQS::QueuePolicy" and res["Properties"]["Queues"] == [{"Ref": queue_id}]:
            policy = resolve(res["Properties"]["PolicyDocument"])
            sqs.set_queue_attributes(QueueUrl=urls[queue_id], Attributes={"Policy": json.dumps(policy)})

    props = resolve(subscription)
    attributes = {
        key: json.dumps(props[key])
        if isinstance(props[key], dict)
        else str(props[key]).lower()
        if isinstance(props[key], bool)
        else str(props[key])
        for key in ("RawMessageDelivery", "FilterPolicyScope", "FilterPolicy")
        if key in props
    }
    sns.subscribe(TopicArn=topic_arn, Protocol=props["Protocol"], Endpoint=props["Endpoint"], Attributes=attributes)

    return Messaging(
        sns=sns,
        sqs=sqs,
        topic_arn=topic_arn,
        queue_url=urls[queue_id],
        queue_arn=resolve.attributes[(queue_id, "Arn")],
        dlq_url=urls[dlq_id],
        dlq_arn=resolve.attributes[(dlq_id, "Arn")],
        max_receive_count=int(queue["RedrivePolicy"]["maxReceiveCount"]),
        subscription_attributes=attributes,
    )


@dataclass
class Drained:
    batches: int = 0
    processed: list[str] = field(default_factory=list)  # message ids deleted after success
    receives: dict[str, int] = field(default_factory=dict)  # message id -> times handed to the function


def drain(messaging: Messaging, handler: Any, max_batches: int = 100) -> Drained:
    """Poll the queue like the Lambda SQS poller until it is empty.

    Successful records are deleted; failed ones are left for redelivery. The poller
    would wait out the visibility timeout before seeing them again; here their
    visibility is reset to 0, which is that wait, sped up. On each receive past
    maxReceiveCount, SQS (moto too) moves the message to the dead-letter queue.
    """
    drained = Drained()
    sqs = messaging.sqs
    while drained.batches < max_batches:
        messages = sqs.receive_message(
            QueueUrl=messaging.queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return drained
        drained.batches += 1
        response = handler(sqs_event(*(record_from_sqs(m, messaging.queue_arn) for m in messages)), FakeLambdaContext())
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        for message in messages:
            drained.receives[message["MessageId"]] = drained.receives.get(message["MessageId"], 0) + 1
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=messaging.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=messaging.queue_url, ReceiptHandle=message["ReceiptHandle"])
                drained.processed.append(message["MessageId"])
    raise AssertionError(f"the queue did not drain in {max_batches} batches")


def dead_letters(messaging: Messaging) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        messages = messaging.sqs.receive_message(
            QueueUrl=messaging.dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])
        if not messages:
            return found
        found += messages


def publish(messaging: Messaging, body: str, attributes: dict[str, dict[str, str]] | None = None) -> str:
    request: dict[str, Any] = {"TopicArn": messaging.topic_arn, "Message": body}
    if attributes:
        request["MessageAttributes"] = attributes
    return str(messaging.sns.publish(**request)["MessageId"])
