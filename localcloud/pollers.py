"""Event sources: SQS event source mappings and schedules (rate/cron).

Platform calls are made with the credentials AWS would use: an SQS mapping receives and deletes
with the function's execution role (the edge checks its policies); a schedule's invocation is the
rule's target, which AWS authorizes through the function's resource policy (not emulated).

An SQS mapping polls its queue (batch size, batching window), invokes the function
with an SQS event, and deletes only the messages that succeeded: with
ReportBatchItemFailures the `batchItemFailures` stay; when the invocation fails the
whole batch stays. Kept messages become visible again after the queue's visibility
timeout, and moto's redrive moves them to the DLQ after maxReceiveCount.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.runner import Invocation

Invoker = Callable[[str, Any], Invocation]


@dataclass
class SqsMapping:
    function: str
    queue_arn: str
    batch_size: int = 10
    window_seconds: float = 0.0
    report_failures: bool = False
    enabled: bool = True


class SqsPoller:
    def __init__(self, mapping: SqsMapping, sqs: Any, invoker: Invoker, region: str, *, lookup: Any = None) -> None:
        """`sqs` polls with the credentials of the function's role, as Lambda's poller does (it needs
        sqs:ReceiveMessage, DeleteMessage, GetQueueAttributes and the queue key's kms:Decrypt); the queue's
        URL is found with `lookup` (the platform's own client: a mapping knows its queue by ARN)."""
        self.mapping = mapping
        self.sqs = sqs
        self.invoker = invoker
        self.region = region
        account, name = mapping.queue_arn.split(":")[4:6]
        self.queue_url = (lookup or sqs).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-{mapping.function}", daemon=True)
        self.batches = 0
        self.errors: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _receive(self, limit: int, wait: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(limit, 10),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep polling; the error is reported by `localcloud up`
                self.errors.append(repr(exc))
                self._stop.wait(1.0)

    def poll_once(self) -> int:
        """One batch (up to batch size, gathered for at most the batching window); messages handled."""
        mapping = self.mapping
        messages = self._receive(mapping.batch_size, 1)
        if not messages:
            return 0
        deadline = time.monotonic() + mapping.window_seconds
        while len(messages) < mapping.batch_size and time.monotonic() < deadline and not self._stop.is_set():
            more = self._receive(mapping.batch_size - len(messages), 0)
            if not more:
                self._stop.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            messages += more
        event = {"Records": [self._record(m) for m in messages]}
        invocation = self.invoker(mapping.function, event)
        self.batches += 1
        failed: set[str] = set()
        if invocation.function_error:
            failed = {m["MessageId"] for m in messages}
        elif mapping.report_failures:
            try:
                result = invocation.json() or {}
                items = result.get("batchItemFailures") or []
                failed = {str(item["itemIdentifier"]) for item in items}
            except (ValueError, AttributeError, KeyError, TypeError):
                failed = {m["MessageId"] for m in messages}  # an unreadable answer fails the batch, as AWS does
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {}
        for name, value in (message.get("MessageAttributes") or {}).items():
            attributes[name] = {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": self.region,
        }


# -- schedules ----------------------------------------------------------------------------------
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def _cron_field(text: str, low: int, high: int) -> set[int] | None:
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        part, step = item, 1
        if "/" in item:
            part, step_text = item.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (int(v) for v in part.split("-"))
        else:
            start = int(part)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


@dataclass
class Schedule:
    function: str
    expression: str
    input: Any = None
    rule_name: str = ""

    def next_after(self, now: dt.datetime) -> dt.datetime:
        rate = _RATE.match(self.expression)
        if rate:
            seconds = int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")]
            return now + dt.timedelta(seconds=seconds)
        cron = re.match(r"^cron\((.+)\)$", self.expression)
        if not cron:
            raise ValueError(f"unsupported schedule expression {self.expression!r}")
        minute, hour, day, month, weekday, *_ = cron.group(1).split()
        if any(c in f"{day}{weekday}" for c in "LW#"):
            raise ValueError(f"unsupported cron field in {self.expression!r}")
        sets = (
            _cron_field(minute, 0, 59),
            _cron_field(hour, 0, 23),
            _cron_field(day, 1, 31),
            _cron_field(month, 1, 12),
            _cron_field(weekday, 1, 7),
        )
        candidate = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(60 * 24 * 366):
            aws_weekday = candidate.isoweekday() % 7 + 1  # AWS: 1 = Sunday
            checks = (candidate.minute, candidate.hour, candidate.day, candidate.month, aws_weekday)
            if all(s is None or v in s for s, v in zip(sets, checks, strict=True)):
                return candidate
            candidate += dt.timedelta(minutes=1)
        raise ValueError(f"{self.expression!r} never fires")


class Scheduler:
    def __init__(self, invoker: Invoker, region: str, account: str) -> None:
        self.invoker = invoker
        self.region = region
        self.account = account
        self.schedules: list[Schedule] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[tuple[str, str]] = []

    def add(self, schedule: Schedule) -> None:
        schedule.next_after(dt.datetime.now(dt.UTC))  # fail at deploy on a bad expression
        self.schedules = [s for s in self.schedules if s.rule_name != schedule.rule_name] + [schedule]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        due: dict[str, dt.datetime] = {}
        while not self._stop.wait(1.0):
            now = dt.datetime.now(dt.UTC)
            for schedule in list(self.schedules):
                key = schedule.rule_name
                if key not in due:
                    due[key] = schedule.next_after(now)
                elif now >= due[key]:
                    due[key] = schedule.next_after(now)
                    event = schedule.input if schedule.input is not None else self._event(schedule, now)
                    threading.Thread(target=self._fire, args=(schedule, event), daemon=True).start()

    def _fire(self, schedule: Schedule, event: Any) -> None:
        invocation = self.invoker(schedule.function, event)
        self.fired.append((schedule.function, "error" if invocation.function_error else "ok"))

    def _event(self, schedule: Schedule, now: dt.datetime) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{self.account}:rule/{schedule.rule_name}"],
            "detail": {},
        }


def parse_input(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw
