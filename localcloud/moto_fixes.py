"""Where moto fails differently from AWS in a way our workflows can see, the edge corrects it.

- Step Functions, Lambda task with a function ARN as `Resource` (the form serverless-step-functions
  writes): when the Invoke call itself fails (throttled: 429 TooManyRequestsException; a service
  error), AWS names the task error after Lambda's error code, `Lambda.TooManyRequestsException`,
  `Lambda.ServiceException`, ... so retriers on those names match. moto's interpreter calls it
  `Exception` (its `arn:aws:states:::lambda:invoke` form does it right); this makes the direct form
  do the same as the integration form.
"""

from __future__ import annotations

from typing import Any


def patch_stepfunctions_lambda_errors() -> None:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    if getattr(StateTaskLambda._from_error, "_localcloud", False):
        return
    original = StateTaskLambda._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error = f"Lambda.{ex.response['Error']['Code']}"
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # total=False upstream in spirit
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=str(ex.response["Error"].get("Message", ""))
                )
            ),
        )

    _from_error._localcloud = True  # type: ignore[attr-defined]
    StateTaskLambda._from_error = _from_error  # type: ignore[method-assign]
