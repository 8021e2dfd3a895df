#!/usr/bin/env python3
"""Move the loyalty dead-letter queue's messages back to the loyalty events queue.

    python scripts/redrive_loyalty_dlq.py --env dev                 # AWS: a message move task
    AWS_ENDPOINT_URL=http://localhost:5000 python scripts/redrive_loyalty_dlq.py --env local

Redrive only after fixing what made the messages fail (read the consumer's
"Rejected loyalty message <id>: <why>" log lines first): a message that is still
poison simply fails maxReceiveCount times again and comes back to the DLQ.
Redelivery is harmless: the consumer applies each booking once.

Methods: `move-task` asks SQS to move the messages (StartMessageMoveTask, what
`aws sqs start-message-move-task` does); `copy` receives each message, sends
its body and attributes to the source queue, then deletes it from the DLQ
(works on any endpoint, e.g. moto, which has no move tasks); `auto` (default)
tries `move-task` and falls back to `copy` only where the endpoint does not
implement it. boto3 honours AWS_ENDPOINT_URL, so the script works against any endpoint.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

_UNSUPPORTED_CODES = frozenset({"InvalidAction", "NotImplemented", "UnsupportedOperation", "UnknownOperationException"})


@dataclass(frozen=True)
class Redrive:
    method: str
    moved: int | None  # messages copied (copy); None for a move task, which runs asynchronously
    task_handle: str | None = None


def queue_names(env: str) -> tuple[str, str]:
    return f"airline-{env}-loyalty-events", f"airline-{env}-loyalty-events-dlq"


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _move_task(sqs: Any, dlq_url: str, queue_url: str, max_per_second: int | None) -> Redrive:
    request: dict[str, Any] = {"SourceArn": _arn(sqs, dlq_url), "DestinationArn": _arn(sqs, queue_url)}
    if max_per_second:
        request["MaxNumberOfMessagesPerSecond"] = max_per_second
    answer = sqs.start_message_move_task(**request)
    return Redrive(method="move-task", moved=None, task_handle=answer.get("TaskHandle"))


def _copy(sqs: Any, dlq_url: str, queue_url: str, limit: int | None) -> Redrive:
    moved = 0
    while limit is None or moved < limit:
        batch = min(10, limit - moved) if limit is not None else 10
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            send: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            sqs.send_message(**send)  # sent first, then deleted: at worst a duplicate, never a loss
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return Redrive(method="copy", moved=moved)


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    method: str = "auto",
    limit: int | None = None,
    max_per_second: int | None = None,
) -> Redrive:
    if method == "copy":
        return _copy(sqs, dlq_url, queue_url, limit)
    if method == "move-task":
        return _move_task(sqs, dlq_url, queue_url, max_per_second)
    try:
        return _move_task(sqs, dlq_url, queue_url, max_per_second)
    except NotImplementedError:  # moto in-process
        return _copy(sqs, dlq_url, queue_url, limit)
    except Exception as exc:  # only an endpoint without move tasks falls back; anything else is raised
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code in _UNSUPPORTED_CODES:
            return _copy(sqs, dlq_url, queue_url, limit)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, choices=["local", "dev", "prod"])
    parser.add_argument("--method", default="auto", choices=["auto", "move-task", "copy"])
    parser.add_argument("--limit", type=int, default=None, help="copy at most this many messages (copy only)")
    parser.add_argument("--max-per-second", type=int, default=None, help="move rate (move-task only)")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)

    import boto3

    sqs = boto3.client("sqs", region_name=args.region)
    queue_name, dlq_name = queue_names(args.env)
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    waiting = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    print(f"{dlq_name}: about {waiting['Attributes']['ApproximateNumberOfMessages']} messages waiting")
    result = redrive(sqs, dlq_url, queue_url, method=args.method, limit=args.limit, max_per_second=args.max_per_second)
    if result.method == "move-task":
        print(
            f"move task started ({result.task_handle}); follow it with: aws sqs list-message-move-tasks "
            f"--source-arn {_arn(sqs, dlq_url)}"
        )
    else:
        print(f"copied {result.moved} messages from {dlq_name} to {queue_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
