"""Real event shapes for handler tests: API Gateway v2 (payload 2.0), SQS, Lambda context."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any


def claims_for(sub: str, *, groups: list[str] | None = None, email: str | None = None) -> dict[str, Any]:
    """Claims as the HTTP API JWT authorizer passes them on (lists rendered as "[a b]")."""
    claims: dict[str, Any] = {
        "sub": sub,
        "token_use": "access",
        "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test",
        "client_id": "testclient",
    }
    if groups:
        claims["cognito:groups"] = "[" + " ".join(groups) + "]"
    if email:
        claims["email"] = email
    return claims


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    claims: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    all_headers = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{method} {route or path}",
        "stage": "$default",
        "time": "28/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795867200000,
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": all_headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw_body is not None:
        event["body"] = raw_body
    return event


def sqs_record(body: str, *, message_id: str | None = None, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    message_id = message_id or str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795867200000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795867200000",
        },
        "messageAttributes": attributes or {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:queue",
        "awsRegion": "eu-west-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
