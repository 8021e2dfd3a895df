"""Fault injection: the errors AWS gives under load or failure, on demand, in each service's wire shape.

A rule names a service (dynamodb, sns, sqs, lambda, states), optionally an operation
(`TransactWriteItems`, `Publish`, `Invoke`, ...), the calling function (for calls a function makes
through the edge) or, for `lambda`, the invoked function, optionally a resource (a substring of the
table name, topic ARN or queue URL), for `lambda` optionally the `version` that runs and the
`qualifier` invoked (`Live`, `2`; empty = unqualified: a bad release scoped to one version and
to the traffic its alias sends), a rate in 0..1 and an error. Calls from functions go through
the edge, so the SDK in the function retries what it would retry on AWS.

Spec (`up --faults SPEC`, `make local FAULTS=SPEC`): rules separated by `;`, each `key=value`
pairs separated by `,`, or a JSON list of rule objects, or `@file.json`:

    service=dynamodb,operation=TransactWriteItems,error=TransactionConflict,rate=0.1
    service=lambda,function=airline-booking-local-confirmBooking,error=Sandbox.Timedout,rate=0.05
    service=sns,error=latency,latency_ms=300

At run time: GET/PUT/DELETE `/_localcloud/faults` on the gateway (PUT takes the same JSON list
or a spec string; it replaces the rules and resets the counts).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("localcloud.faults")

SERVICES = ("dynamodb", "sns", "sqs", "lambda", "states")

# error name -> (HTTP status, AWS error code, message); `services` says where it applies.
ERRORS: dict[str, tuple[int, str, str, tuple[str, ...]]] = {
    "TransactionConflict": (400, "TransactionConflictException", "Transaction is ongoing for the item", ("dynamodb",)),
    "ThrottlingException": (
        400,
        "ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
        (
            "dynamodb",
            "states",
        ),
    ),
    "ProvisionedThroughputExceededException": (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
        ("dynamodb",),
    ),
    "InternalServerError": (500, "InternalServerError", "Internal server error", ("dynamodb",)),
    "InternalError": (
        500,
        "InternalError",
        "Request could not be completed due to an internal error.",
        (
            "sns",
            "sqs",
            "states",
        ),
    ),
    "Throttling": (400, "Throttling", "Rate exceeded", ("sns", "sqs")),
    "TooManyRequestsException": (429, "TooManyRequestsException", "Rate Exceeded.", ("lambda",)),
    "Sandbox.Timedout": (200, "Sandbox.Timedout", "Task timed out", ("lambda",)),
    "crash": (200, "Runtime.ExitError", "Runtime exited with error: signal: killed", ("lambda",)),
    "latency": (0, "", "", SERVICES),
}

JSON_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#", "states": ""}
XML_NAMESPACE = {"sns": "http://sns.amazonaws.com/doc/2010-03-31/", "sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


class FaultSpecError(ValueError):
    """A fault rule or spec that cannot be used; the message says which part."""


@dataclass
class FaultRule:
    service: str
    error: str
    rate: float = 1.0
    operation: str | None = None
    function: str | None = None
    resource: str | None = None
    latency_ms: int = 0
    version: str | None = None  # lambda: the version that runs ("2"; an alias picks it by weight)
    qualifier: str | None = None  # lambda: the qualifier invoked ("Live", "2"); "" = unqualified
    times: int | None = None  # at most this many injections, then the rule is spent (a fault that clears)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        if self.service not in SERVICES:
            raise FaultSpecError(f"service {self.service!r}: one of {', '.join(SERVICES)}")
        if self.error not in ERRORS:
            raise FaultSpecError(f"error {self.error!r}: one of {', '.join(ERRORS)}")
        if self.service not in ERRORS[self.error][3]:
            raise FaultSpecError(f"error {self.error!r} is not one {self.service} gives")
        self.rate = float(self.rate)
        if not 0.0 <= self.rate <= 1.0:
            raise FaultSpecError(f"rate {self.rate}: between 0 and 1")
        self.latency_ms = int(self.latency_ms)
        if self.error == "latency" and self.latency_ms <= 0:
            raise FaultSpecError("error latency needs latency_ms > 0")
        if self.times is not None:
            self.times = int(self.times)
            if self.times < 0:
                raise FaultSpecError(f"times {self.times}: 0 or more")

    def matches(
        self,
        service: str,
        operation: str,
        function: str | None,
        resource: str | None,
        *,
        version: str | None = None,
        qualifier: str | None = None,
    ) -> bool:
        return (
            (self.version is None or self.version == version)
            and (self.qualifier is None or self.qualifier == (qualifier or ""))
            and self.service == service
            and (self.operation is None or self.operation == operation)
            and (self.function is None or (function is not None and self.function == function))
            and (self.resource is None or (resource is not None and self.resource in resource))
        )


@dataclass
class Injection:
    rule: FaultRule
    status: int
    code: str
    message: str

    @property
    def latency_s(self) -> float:
        return self.rule.latency_ms / 1000 if self.rule.error == "latency" else 0.0


def parse_spec(spec: str | list[Any] | dict[str, Any]) -> list[FaultRule]:
    if isinstance(spec, dict):
        spec = [spec]
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("@"):
            text = Path(text[1:]).read_text().strip()
        if text.startswith(("[", "{")):
            return parse_spec(json.loads(text))
        rules: list[dict[str, Any]] = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            fields: dict[str, Any] = {}
            for pair in filter(None, (p.strip() for p in part.split(","))):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise FaultSpecError(f"{pair!r}: expected key=value")
                fields[key.strip()] = value.strip()
            rules.append(fields)
        spec = rules
    out = []
    for fields in spec:
        if not isinstance(fields, dict):
            raise FaultSpecError(f"{fields!r}: a rule is an object")
        known = {"service", "error", "rate", "operation", "function", "resource", "latency_ms", "times", "id"}
        unknown = set(fields) - known - {"version", "qualifier"}
        if unknown:
            raise FaultSpecError(f"unknown fields {sorted(unknown)}")
        if "service" not in fields or "error" not in fields:
            raise FaultSpecError("a rule needs service and error")
        try:
            out.append(FaultRule(**fields))
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(str(exc)) from exc
    return out


class Faults:
    """The rules in force, and every fault injected (counted per rule, logged)."""

    def __init__(self, rules: list[FaultRule] | None = None, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules = list(rules or [])
        self._random = random.Random(seed)
        self.injected: Counter[str] = Counter()  # "<service>:<operation>:<error>" -> count
        self.by_rule: Counter[str] = Counter()

    def set(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules = list(rules)
            self.injected.clear()
            self.by_rule.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(
        self,
        service: str,
        operation: str,
        *,
        function: str | None = None,
        resource: str | None = None,
        version: str | None = None,
        qualifier: str | None = None,
    ) -> Injection | None:
        """The fault to inject on this call, if any (each matching rule draws at its rate)."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                if rule.times is not None and self.by_rule[rule.id] >= rule.times:
                    continue  # spent
                hit = rule.matches(service, operation, function, resource, version=version, qualifier=qualifier)
                if hit and self._random.random() < rule.rate:
                    status, code, message, _ = ERRORS[rule.error]
                    self.injected[f"{service}:{operation}:{rule.error}"] += 1
                    self.by_rule[rule.id] += 1
                    break
            else:
                return None
        log.warning(
            "fault injected: %s %s %s (caller %s, resource %s)", rule.error, service, operation, function, resource
        )
        return Injection(rule, status, code, message)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [{**asdict(r), "injected": self.by_rule[r.id]} for r in self._rules],
                "injected": dict(self.injected),
                "total": sum(self.injected.values()),
            }


def aws_error(service: str, injection: Injection, *, json_protocol: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """The error as the service's protocol puts it on the wire (what botocore parses)."""
    code, message, status = injection.code, injection.message, injection.status
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": JSON_PREFIX.get(service, "") + code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        if service == "sqs":
            headers.append(("x-amzn-query-error", f"{code};{'Receiver' if status >= 500 else 'Sender'}"))
        return status, headers, body
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="{XML_NAMESPACE.get(service, "")}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()
