"""moto corrected where it fails differently from AWS."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

from localcloud.moto_fixes import patch_stepfunctions_lambda_errors


def test_a_throttled_lambda_task_fails_with_lambdas_error_name_as_on_aws() -> None:
    patch_stepfunctions_lambda_errors()
    throttled = ClientError(
        {"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}, "ResponseMetadata": {}}, "Invoke"
    )
    env: Any = SimpleNamespace(next_state_name="ReserveSeat", event_history_context=SimpleNamespace(source_event_id=1))
    event = StateTaskLambda._from_error(StateTaskLambda.__new__(StateTaskLambda), env, throttled)
    assert event.error_name is not None
    assert event.error_name.error_name == "Lambda.TooManyRequestsException"
    recorded: Any = event.event_details
    details = recorded["lambdaFunctionFailedEventDetails"]
    assert details["error"] == "Lambda.TooManyRequestsException"
    assert details["cause"] == "Rate Exceeded."
