"""The gateway as API Gateway answers under load: integration timeout, throttled Lambda, fault control."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from localcloud.authorizer import JwksCache
from localcloud.faults import Faults
from localcloud.gateway import Gateway, HttpApi, Route
from localcloud.runner import Invocation, Throttled


class FakeFunctions:
    def __init__(self) -> None:
        self.finished = threading.Event()

    def __call__(self, arn: str, event: dict[str, Any]) -> Invocation:
        if arn.endswith("slow"):
            time.sleep(1.0)
            self.finished.set()
        if arn.endswith("throttled"):
            raise Throttled("throttled", "ConcurrentInvocationLimitExceeded")
        return Invocation(b'{"statusCode": 201, "body": "{}"}')


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, FakeFunctions]]:
    functions = FakeFunctions()
    gw = Gateway(functions, JwksCache("http://127.0.0.1:1"), integration_timeout=0.3)
    api = HttpApi("svc", "api1")
    for name in ("slow", "throttled", "fine"):
        api.routes.append(Route("GET", f"/{name}", f"arn:fn:{name}", None, f"GET /{name}"))
    gw.set_api(api)
    gw.faults = Faults()
    gw.stats = dict
    gw.start()
    yield gw, functions
    gw.stop()


def test_past_the_integration_timeout_the_answer_is_504_and_the_function_runs_on(
    gateway: tuple[Gateway, FakeFunctions],
) -> None:
    gw, functions = gateway
    answer = requests.get(f"{gw.url}/svc/slow", timeout=10)
    assert answer.status_code == 504
    assert answer.json() == {"message": "Service Unavailable"}
    assert functions.finished.wait(5)


def test_a_throttled_lambda_is_a_500_as_proxy_integrations_answer(gateway: tuple[Gateway, FakeFunctions]) -> None:
    gw, _ = gateway
    answer = requests.get(f"{gw.url}/svc/throttled", timeout=10)
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal Server Error"}
    assert requests.get(f"{gw.url}/svc/fine", timeout=10).status_code == 201


def test_beyond_the_in_flight_bound_the_gateway_answers_429(gateway: tuple[Gateway, FakeFunctions]) -> None:
    gw, _ = gateway
    gw.max_in_flight = 0
    answer = requests.get(f"{gw.url}/svc/fine", timeout=10)
    assert answer.status_code == 429
    assert answer.json() == {"message": "Too Many Requests"}


def test_fault_rules_are_set_read_and_cleared_over_the_control_interface(
    gateway: tuple[Gateway, FakeFunctions],
) -> None:
    gw, _ = gateway
    url = f"{gw.url}/_localcloud/faults"
    put = requests.put(url, data="service=sns,operation=Publish,error=InternalError,rate=0.5", timeout=10)
    assert put.status_code == 200
    assert put.json()["rules"][0]["rate"] == 0.5
    json_rules = '[{"service": "lambda", "function": "f", "error": "Sandbox.Timedout", "rate": 0.1}]'
    assert requests.put(url, data=json_rules, timeout=10).json()["rules"][0]["error"] == "Sandbox.Timedout"
    bad = requests.put(url, data="service=sns,error=Sandbox.Timedout", timeout=10)
    assert bad.status_code == 400
    assert "not one sns gives" in bad.json()["message"]
    assert requests.delete(url, timeout=10).json()["rules"] == []
    stats = requests.get(f"{gw.url}/_localcloud/stats", timeout=10).json()
    assert stats["_faults"]["total"] == 0
