"""Where a redrive resumes, a fault rule that strikes a set number of times, the pip wrapper's key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.faults import Faults, FaultSpecError, parse_spec
from localcloud.shared_install import install_key
from localcloud.stepfunctions import unsuccessful_state


def entered(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name, "input": json.dumps(document)}}


def exited(name: str) -> dict[str, Any]:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": "{}"}}


def test_a_redrive_resumes_at_the_last_state_entered_and_never_exited_with_its_input() -> None:
    history = [
        {"type": "ExecutionStarted"},
        entered("ReserveSeat", {"bookingId": "b"}),
        exited("ReserveSeat"),
        entered("AuthorizePayment", {"bookingId": "b", "seat": 1}),
        exited("AuthorizePayment"),
        entered("ReleaseSeat", {"bookingId": "b", "failure": {"reason": "PAYMENT_DECLINED"}}),
        {"type": "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails": {"error": "Runtime.ExitError"}},
        {"type": "ExecutionFailed"},
    ]

    assert unsuccessful_state(history) == ("ReleaseSeat", {"bookingId": "b", "failure": {"reason": "PAYMENT_DECLINED"}})


def test_an_execution_that_exited_every_state_has_nothing_to_redrive_from() -> None:
    assert unsuccessful_state([entered("Booked", {}), exited("Booked")]) is None


def test_a_rule_with_times_strikes_that_many_times_then_is_spent() -> None:
    faults = Faults(parse_spec("service=dynamodb,operation=PutItem,error=ThrottlingException,times=2"), seed=1)

    picked = [faults.pick("dynamodb", "PutItem") for _ in range(5)]

    assert [p is not None for p in picked] == [True, True, False, False, False]
    assert faults.describe()["rules"][0]["injected"] == 2


def test_a_negative_times_is_refused() -> None:
    with pytest.raises(FaultSpecError):
        parse_spec([{"service": "sns", "error": "InternalError", "times": -1}])


def test_the_shared_install_key_follows_requirements_and_pip_arguments_not_the_target(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.14.3\n")
    base = ["-m", "pip", "install", "-t", "/a", "-r", str(requirements), "--no-deps"]

    same = install_key("/usr/bin/python3", [*base[:4], "/b", *base[5:]], requirements)
    assert install_key("/usr/bin/python3", base, requirements) == same
    assert install_key("/usr/bin/python3", [*base, "--upgrade"], requirements) != same
    requirements.write_text("pydantic==2.14.4\n")
    assert install_key("/usr/bin/python3", base, requirements) != same
