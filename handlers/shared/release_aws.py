"""The release hooks' data layer: CodeDeploy, Lambda and CloudWatch through boto3 (the only boto3 they touch)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from handlers.shared.aws import client
from handlers.shared.release_hooks import Answer, Signals, Target


class CodeDeployDeployments:
    def target(self, deployment_id: str) -> Target:
        info = client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        appspec = json.loads(info["revision"]["appSpecContent"]["content"])
        props = next(iter(appspec["Resources"][0].values()))["Properties"]
        return Target(
            function=str(props["Name"]).split(":function:")[-1].split(":")[0],
            alias=str(props["Alias"]),
            current_version=str(props["CurrentVersion"]),
            target_version=str(props["TargetVersion"]),
        )

    def report(self, deployment_id: str, execution_id: str, status: str) -> None:
        codedeploy = client("codedeploy")
        # reported by an earlier attempt of this hook (Lambda retried its event): done
        with contextlib.suppress(codedeploy.exceptions.LifecycleEventAlreadyCompletedException):
            codedeploy.put_lifecycle_event_hook_execution_status(
                deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
            )


class LambdaFunctions:
    def invoke(self, qualified_name: str, event: Any) -> Answer:
        answer = client("lambda").invoke(FunctionName=qualified_name, Payload=json.dumps(event).encode())
        raw = answer["Payload"].read()
        return Answer(
            function_error=answer.get("FunctionError"),
            payload=json.loads(raw) if raw else None,
            executed_version=str(answer.get("ExecutedVersion", "")),
        )


class CloudWatchMetrics:
    def signals(self, target: Target, minutes: int) -> Signals:
        end = dt.datetime.now(dt.UTC)
        dims = [
            {"Name": "FunctionName", "Value": target.function},
            {"Name": "Resource", "Value": f"{target.function}:{target.alias}"},
            {"Name": "ExecutedVersion", "Value": target.target_version},
        ]

        def stat(name: str, statistic: str) -> list[float]:
            answer = client("cloudwatch").get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=name,
                Dimensions=dims,
                StartTime=end - dt.timedelta(minutes=minutes),
                EndTime=end,
                Period=60,
                Statistics=[statistic],
            )
            return [float(p[statistic]) for p in answer["Datapoints"]]

        durations = stat("Duration", "Maximum")
        return Signals(
            invocations=sum(stat("Invocations", "Sum")),
            errors=sum(stat("Errors", "Sum")),
            max_duration_ms=max(durations) if durations else None,
        )
