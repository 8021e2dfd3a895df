"""One local cloud for the e2e session: `python -m localcloud up` in a subprocess on free ports.

A subprocess, because moto's backends are process-global and other tests reset them.
Every e2e test is in the `localcloud` xdist group, so `-n 2 --dist loadgroup` starts one.
Besides the real stacks it deploys `sqsprobe`, a tiny packaged stack of our own (queue with
redrive, a function reporting batch item failures, a table counting deliveries).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from localcloud.edge import free_port
from localcloud.users import Tokens, find_pool, sign_in

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"

PROBE_CODE = """
import os

import boto3

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    failures = []
    for record in event["Records"]:
        dynamodb.update_item(
            TableName=os.environ["TABLE"],
            Key={"body": {"S": record["body"]}},
            UpdateExpression="ADD deliveries :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        if record["body"].startswith("poison"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""

PROBE_TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Deliveries": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": {"Fn::Sub": "${AWS::StackName}-deliveries"},
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "body", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "body", "KeyType": "HASH"}],
            },
        },
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "sqsprobe-dlq"}},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "sqsprobe-queue",
                "VisibilityTimeout": 1,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 2},
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {},
                "Policies": [
                    {
                        "PolicyName": "deliveries",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "dynamodb:UpdateItem",
                                    "Resource": {"Fn::GetAtt": ["Deliveries", "Arn"]},
                                },
                                {  # what Lambda's poller calls with the function's role, as on AWS
                                    "Effect": "Allow",
                                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                                    "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                },
                            ],
                        },
                    }
                ],
            },
        },
        "Probe": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "sqsprobe-consumer",
                "Handler": "probe.handler",
                "Runtime": "python3.13",
                "Timeout": 10,
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"S3Bucket": "unused", "S3Key": "probe.zip"},
                "Environment": {"Variables": {"TABLE": {"Ref": "Deliveries"}}},
            },
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                "FunctionName": {"Fn::GetAtt": ["Probe", "Arn"]},
                "BatchSize": 10,
                "MaximumBatchingWindowInSeconds": 1,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
    },
    "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
}


@dataclass
class RunningCloud:
    edge_url: str
    gateway_url: str
    state_dir: Path
    output: list[str] = field(default_factory=list)
    _tokens: dict[tuple[str, bool], Tokens] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.edge_url,
            region_name=REGION,
            aws_access_key_id="e2e",
            aws_secret_access_key="e2e",  # noqa: S106 - moto
        )

    def api(self, service: str) -> str:
        return f"{self.gateway_url}/{service}"

    def pool(self) -> tuple[str, str]:
        return find_pool(self.edge_url)

    def user(self, name: str, *, admin: bool = False) -> Tokens:
        if (name, admin) not in self._tokens:
            pool_id, client_id = self.pool()
            self._tokens[(name, admin)] = sign_in(
                self.edge_url, pool_id, client_id, f"{name}@e2e.example.com", admin=admin
            )
        return self._tokens[(name, admin)]

    def add_flight(
        self,
        flight_number: str,
        *,
        seats: int,
        price: int = 10000,
        currency: str = "GBP",
        to: str = "JFK",
        days_ahead: int = 30,
        admin: str = "flight-admin",
    ) -> str:
        """A flight created as an Admin creates it (POST /flights), so its item is the catalog's own; its id."""
        token = self.user(admin, admin=True).access
        departure = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=days_ahead)
        created = requests.post(
            f"{self.api('catalog')}/flights",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
            json={
                "flightNumber": flight_number,
                "departureAirportCode": "LHR",
                "arrivalAirportCode": to,
                "departureTime": departure.isoformat(),
                "arrivalTime": (departure + dt.timedelta(hours=2)).isoformat(),
                "ticketPrice": {"amount": price, "currency": currency},
                "seatCapacity": seats,
            },
        )
        assert created.status_code in (200, 201), created.text
        return str(created.json()["flightId"])

    def invocations(self, function: str) -> int:
        stats = requests.get(f"{self.gateway_url}/_localcloud/stats", timeout=10).json()
        return int(stats.get(function, {}).get("invocations", 0))


def book_until_final(booking_api: str, access_token: str, flight_id: str, card: str = "tok_visa") -> dict[str, Any]:
    """POST /bookings at `booking_api`, then read the booking until it is CONFIRMED or CANCELLED (90 s)."""
    headers = {"Authorization": f"Bearer {access_token}", "Idempotency-Key": str(uuid.uuid4())}
    created = requests.post(
        f"{booking_api}/bookings", json={"flightId": flight_id, "paymentToken": card}, headers=headers, timeout=30
    )
    assert created.status_code in (200, 201, 202), created.text
    booking_id = created.json()["bookingId"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        read = requests.get(
            f"{booking_api}/bookings/{booking_id}", headers={"Authorization": headers["Authorization"]}, timeout=30
        )
        if read.status_code == 200 and read.json()["status"] in ("CONFIRMED", "CANCELLED"):
            booking: dict[str, Any] = read.json()
            return booking
        time.sleep(0.25)
    pytest.fail(f"booking {booking_id} did not settle")


def _probe_stack(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cloudformation-template-update-stack.json").write_text(json.dumps(PROBE_TEMPLATE))
    with zipfile.ZipFile(folder / "probe.zip", "w") as zipped:
        zipped.writestr("probe.py", PROBE_CODE)
    return folder


def running_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """The session's cloud; tests/conftest.py makes it the `cloud` fixture of tests/e2e and tests/browser."""
    probe = _probe_stack(tmp_path_factory.mktemp("sqsprobe"))
    state = tmp_path_factory.mktemp("localcloud") / "state"  # its own state: the signing key is read from it
    edge_port, gateway_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localcloud",
            "up",
            "--port",
            str(edge_port),
            "--gateway-port",
            str(gateway_port),
            "--no-schedules",
            "--app-port",
            "0",
            "--extra-stack",
            f"sqsprobe={probe}",
            "--state-dir",
            str(state),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningCloud(f"http://127.0.0.1:{edge_port}", f"http://127.0.0.1:{gateway_port}", state)
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.output.append(line.rstrip())
            if line.startswith("ready in"):
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + 600
    while not ready.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the local cloud did not start:\n" + "\n".join(running.output[-40:]))
    try:
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cloud_signing_key(cloud: RunningCloud) -> tuple[str, Any]:
    """(kid, private key) this local cloud's user pools sign tokens with (kept in its state folder)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from localcloud.cognito import SigningKey

    key = SigningKey.from_pem((cloud.state_dir / "signing-key.pem").read_bytes())
    return key.kid, load_pem_private_key(key.private_pem, password=None)
