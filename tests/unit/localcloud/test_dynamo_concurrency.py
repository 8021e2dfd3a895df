"""DynamoDB's isolation at the edge, with real boto3 clients racing on an in-process edge (free port)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.dynamo_concurrency import DynamoConcurrency, ItemLocks
from localcloud.edge import Edge, free_port
from localcloud.faults import parse_spec

pytestmark = pytest.mark.xdist_group("localcloud")

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=64)


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    running = Edge(free_port())
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _client(edge: Edge, service: str = "dynamodb", config: Config = NO_RETRIES) -> Any:
    return boto3.client(
        service,
        endpoint_url=edge.url,
        region_name="eu-west-1",
        aws_access_key_id="unit",
        aws_secret_access_key="unit",  # noqa: S106 - local edge
        config=config,
    )


def _table(edge: Edge, name: str) -> str:
    _client(edge).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return name


def _seats(edge: Edge, table: str) -> int:
    item = _client(edge).get_item(TableName=table, Key={"pk": {"S": "flight"}}, ConsistentRead=True)["Item"]
    return int(item["seats"]["N"])


def test_conditional_decrements_racing_sell_exactly_the_seats(edge: Edge) -> None:
    # Given 30 seats and 60 single-item conditional decrements from 16 threads (DynamoDB serializes them)
    table = _table(edge, "race-single")
    _client(edge).put_item(TableName=table, Item={"pk": {"S": "flight"}, "seats": {"N": "30"}})
    client = _client(edge)

    def take(_: int) -> str:
        try:
            client.update_item(
                TableName=table,
                Key={"pk": {"S": "flight"}},
                UpdateExpression="SET seats = seats - :one",
                ConditionExpression="seats > :zero",
                ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}},
            )
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "sold"

    with ThreadPoolExecutor(16) as pool:
        outcomes = Counter(pool.map(take, range(60)))
    # Then exactly 30 succeed, the others fail their condition, and the counter ends at 0
    assert outcomes == {"sold": 30, "ConditionalCheckFailedException": 30}
    assert _seats(edge, table) == 0


def test_concurrent_transactions_on_one_item_are_cancelled_with_transaction_conflict(edge: Edge) -> None:
    # Given transactions that each decrement the same seat counter and write their own item
    table = _table(edge, "race-txn")
    _client(edge).put_item(TableName=table, Item={"pk": {"S": "flight"}, "seats": {"N": "1000"}})
    client = _client(edge)
    start = threading.Barrier(12)

    def book(i: int) -> str:
        start.wait()
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"booking-{i}"}}}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": "flight"}},
                            "UpdateExpression": "SET seats = seats - :one",
                            "ConditionExpression": "seats > :zero",
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                        }
                    },
                ]
            )
        except client.exceptions.TransactionCanceledException as exc:
            # the reasons as botocore parses them from DynamoDB: one per action, in order
            reasons = ",".join(r["Code"] for r in exc.response["CancellationReasons"])
            return f"{reasons} | {exc.response['Error']['Message']}"
        return "ok"

    outcomes: Counter[str] = Counter()
    for _ in range(5):  # a few rounds: each round 12 transactions start together
        start.reset()
        with ThreadPoolExecutor(12) as pool:
            outcomes.update(pool.map(book, range(12)))
    conflict = (
        "None,TransactionConflict | Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, TransactionConflict]"
    )
    # Then some commit, the others are cancelled with TransactionConflict on the contended item only
    assert set(outcomes) == {"ok", conflict}, outcomes
    # And the committed ones are exactly what the counter lost; cancelled ones left nothing behind
    bookings = _client(edge).scan(TableName=table, Select="COUNT")["Count"] - 1
    assert _seats(edge, table) == 1000 - outcomes["ok"]
    assert bookings <= outcomes["ok"]  # booking-i keys repeat across rounds


def test_single_write_on_an_item_held_by_a_transaction_gets_transaction_conflict_exception() -> None:
    # Given the edge's isolation with a transaction in flight on an item (held, not yet applied)
    concurrency = DynamoConcurrency(key_schema=lambda region, table: ("pk", None))
    key = ("eu-west-1", "t", '{"pk": {"S": "a"}}')
    in_txn = threading.Event()
    release = threading.Event()

    def transaction(_: bytes) -> Any:
        in_txn.set()
        release.wait(10)
        from localcloud.dynamo_concurrency import Answer

        return Answer(200, b"{}")

    body = {"TransactItems": [{"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "x"}}]}
    worker = threading.Thread(target=concurrency.handle, args=("TransactWriteItems", body, "eu-west-1", transaction))
    worker.start()
    assert in_txn.wait(10)
    assert concurrency.items.mode(key) == "txn"
    # When a PutItem on that item arrives
    answer = concurrency.handle(
        "PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}}}, "eu-west-1", lambda _: pytest.fail("ran")
    )
    # Then DynamoDB's error, without running it
    assert answer.status == 400
    assert b"TransactionConflictException" in answer.body
    # And a batch write of that item comes back unprocessed while another item is written
    written: list[bytes] = []

    def batch(raw: bytes) -> Any:
        from localcloud.dynamo_concurrency import Answer

        written.append(raw)
        return Answer(200, b'{"UnprocessedItems": {}}')

    answer = concurrency.handle(
        "BatchWriteItem",
        {
            "RequestItems": {
                "t": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}, {"PutRequest": {"Item": {"pk": {"S": "b"}}}}]
            }
        },
        "eu-west-1",
        batch,
    )
    assert b'"b"' in written[0]
    assert b'"a"' not in written[0]
    assert b'"a"' in answer.body
    release.set()
    worker.join(10)
    assert concurrency.items.mode(key) is None


def test_item_locks_let_readers_share_and_writers_wait() -> None:
    locks = ItemLocks()
    key = ("r", "t", "k")
    with locks.hold([key], "read", refuse_on=frozenset()), locks.hold([key], "read", refuse_on=frozenset()):
        assert locks.mode(key) == "read"
    order: list[str] = []
    with locks.hold([key], "write", refuse_on=frozenset({"txn"})):

        def second() -> None:
            with locks.hold([key], "write", refuse_on=frozenset({"txn"})):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.05)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def test_failed_transaction_does_not_erase_concurrent_writes_to_other_items(edge: Edge) -> None:
    # moto restored whole tables on a cancelled transaction; now only the transaction's own items
    table = _table(edge, "rollback")
    client = _client(edge)
    client.put_item(TableName=table, Item={"pk": {"S": "guard"}, "v": {"N": "1"}})

    def cancelled_txn(i: int) -> None:
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"t-{i}"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "guard"}},
                            "ConditionExpression": "v = :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}},
                        }
                    },
                ]
            )

    def plain_put(i: int) -> None:
        client.put_item(TableName=table, Item={"pk": {"S": f"p-{i}"}})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: cancelled_txn(i) if i % 2 else plain_put(i), range(80)))
    keys = {item["pk"]["S"] for item in client.scan(TableName=table)["Items"]}
    assert {f"p-{i}" for i in range(0, 80, 2)} <= keys
    assert not any(k.startswith("t-") for k in keys)


def test_injected_dynamodb_faults_are_in_the_wire_shape_botocore_parses(edge: Edge) -> None:
    table = _table(edge, "faulted")
    client = _client(edge)
    edge.faults.set(
        parse_spec(
            "service=dynamodb,operation=PutItem,error=ProvisionedThroughputExceededException,resource=faulted;"
            "service=dynamodb,operation=TransactWriteItems,error=TransactionConflict,resource=faulted;"
            "service=dynamodb,operation=GetItem,error=ThrottlingException,resource=faulted"
        )
    )
    try:
        with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
            client.put_item(TableName=table, Item={"pk": {"S": "x"}})
        with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "a"}}}},
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
                ]
            )
        codes = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
        assert codes == ["TransactionConflict", "None"]
        with pytest.raises(ClientError) as throttled:
            client.get_item(TableName=table, Key={"pk": {"S": "x"}})
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
        # the SDK's own retries happen as on AWS: a retrying client makes several attempts, each counted
        retrying = _client(edge, config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))
        before = edge.faults.describe()["injected"]["dynamodb:PutItem:ProvisionedThroughputExceededException"]
        with pytest.raises(ClientError):
            retrying.put_item(TableName=table, Item={"pk": {"S": "x"}})
        after = edge.faults.describe()["injected"]["dynamodb:PutItem:ProvisionedThroughputExceededException"]
        assert after - before == 3
        # another table is untouched
        client.put_item(TableName=_table(edge, "healthy"), Item={"pk": {"S": "x"}})
    finally:
        edge.faults.set([])


def test_injected_sns_and_sqs_faults_reach_the_sdk_as_aws_errors(edge: Edge) -> None:
    sns, sqs = _client(edge, "sns"), _client(edge, "sqs")
    topic = sns.create_topic(Name="faulted-topic")["TopicArn"]
    queue = sqs.create_queue(QueueName="faulted-queue")["QueueUrl"]
    edge.faults.set(
        parse_spec(
            "service=sns,operation=Publish,error=InternalError;service=sqs,operation=SendMessage,error=Throttling"
        )
    )
    try:
        with pytest.raises(ClientError) as published:
            sns.publish(TopicArn=topic, Message="m")
        assert published.value.response["Error"]["Code"] == "InternalError"
        assert published.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        with pytest.raises(ClientError) as sent:
            sqs.send_message(QueueUrl=queue, MessageBody="m")
        assert sent.value.response["Error"]["Code"] == "Throttling"
        assert edge.faults.describe()["total"] == 2
    finally:
        edge.faults.set([])
    sns.publish(TopicArn=topic, Message="m")


def test_a_rule_for_a_function_hits_only_that_functions_calls(edge: Edge) -> None:
    # The runner sets AWS_SDK_UA_APP_ID to the function's name: the SDK sends `app/<name>` to the edge
    table = _table(edge, "by-caller")
    edge.faults.set(parse_spec("service=dynamodb,function=airline-x-local-chosen,error=ThrottlingException"))
    try:
        chosen = _client(edge, config=NO_RETRIES.merge(Config(user_agent_appid="airline-x-local-chosen")))
        other = _client(edge, config=NO_RETRIES.merge(Config(user_agent_appid="airline-x-local-other")))
        with pytest.raises(ClientError) as throttled:
            chosen.put_item(TableName=table, Item={"pk": {"S": "x"}})
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
        other.put_item(TableName=table, Item={"pk": {"S": "x"}})
        assert edge.faults.describe()["rules"][0]["injected"] == 1
    finally:
        edge.faults.set([])
