"""Function logs into CloudWatch Logs on the edge, as Lambda writes them.

Every line a function prints, and the runtime's START / END / REPORT lines, go to log group
`/aws/lambda/<function>`, stream `YYYY/MM/DD/[$LATEST]<id>` (one stream per execution
environment, i.e. per worker process). `sls logs -f NAME [--tail]`, `aws logs tail` and
`FilterLogEvents` read them from the edge. Lines are batched and shipped by one thread every
`interval` seconds (Lambda's own delivery is asynchronous too); the files under
`<workdir>/logs/` are still written.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from typing import Any

import boto3
from botocore.config import Config

from localcloud.periodic import Periodic

BATCH = 5_000  # PutLogEvents takes up to 10,000 events per call


class FunctionLogs:
    def __init__(self, edge_url: str, region: str, interval: float = 0.3) -> None:
        self.edge_url = edge_url
        self.region = region
        self.interval = interval
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._streams: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._shipping = threading.Lock()  # one flush at a time: a caller's flush waits for one in flight
        self._shipper = Periodic("localcloud-logs", interval, self.flush)
        self._client: Any = None
        self.shipped = 0

    def __call__(self, function: str, stream: str, line: bytes) -> None:
        """The runner's log sink: one line of a function's log, in its environment's stream."""
        if not line:
            return  # CloudWatch Logs refuses an empty message (and a function's blank line says nothing)
        event = {"timestamp": int(time.time() * 1000), "message": line.decode("utf-8", "replace")}
        with self._lock:
            self._pending[(f"/aws/lambda/{function}", stream)].append(event)

    def start(self) -> None:
        self._client = boto3.client(
            "logs",
            endpoint_url=self.edge_url,
            region_name=self.region,
            aws_access_key_id="localcloud",
            aws_secret_access_key="localcloud",  # noqa: S106 - the local cloud's own account
            config=Config(retries={"max_attempts": 2}),
        )
        self._shipper.start()

    def stop(self) -> None:
        self._shipper.stop()

    def flush(self) -> int:
        """Ship what is pending (the thread calls it every interval); events shipped."""
        with self._shipping:
            with self._lock:
                pending, self._pending = self._pending, defaultdict(list)
            shipped = 0
            for (group, stream), events in pending.items():
                events.sort(key=lambda e: e["timestamp"])
                for start in range(0, len(events), BATCH):
                    self._put(group, stream, events[start : start + BATCH])
                shipped += len(events)
            self.shipped += shipped
            return shipped

    def _put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self._ensure(group, stream)
        try:
            self._client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except self._client.exceptions.ResourceNotFoundException:  # the group went with its stack: again
            self._streams.discard((group, stream))
            self._ensure(group, stream)
            self._client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def _ensure(self, group: str, stream: str) -> None:
        """The group (Lambda creates it when the stack did not) and the stream, once."""
        if (group, stream) in self._streams:
            return
        logs = self._client
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        self._streams.add((group, stream))
