"""Lambda's function management calls on the edge, over the runner's functions.

What `sls deploy function` and `sls deploy`'s change check use: GetFunction,
GetFunctionConfiguration, UpdateFunctionCode (a zip in the request or in S3) and
UpdateFunctionConfiguration (handler, timeout, memory, environment). An update is realized by
the runner at once (the next invocation starts cold on the new code, as Lambda's) and the
configuration reports `State: Active`, `LastUpdateStatus: Successful`. Functions the runner does
not know fall through to moto (its `ResourceNotFoundException`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.cloudformation import zip_sha256
from localcloud.runner import FunctionNotFound, FunctionSpec, Runner

MANAGE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)(?P<part>/configuration|/code)?/?$")


class LambdaApi:
    def __init__(
        self, runner: Runner, store_zip: Callable[[bytes], Path], read_s3: Callable[[str, str], bytes]
    ) -> None:
        self.runner = runner
        self.store_zip = store_zip
        self.read_s3 = read_s3
        self.modified: dict[str, dt.datetime] = {}

    def handle(self, method: str, name: str, part: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
        """The answer to a management call, or None when the function is not the runner's (moto answers)."""
        try:
            spec = self.runner.spec(name)
        except FunctionNotFound:
            return None
        if method == "GET":
            return self._read(spec, part)
        request = json.loads(body or b"{}")
        if part == "/code":
            return self._update_code(spec, request)
        if part == "/configuration":
            return 200, self._update(spec, **_configuration_changes(request))
        return None

    def _read(self, spec: FunctionSpec, part: str) -> tuple[int, dict[str, Any]] | None:
        if part == "/configuration":
            return 200, self.configuration(spec)
        if part:
            return None
        code = {"RepositoryType": "S3", "Location": f"file://{spec.code_zip}"}
        return 200, {"Configuration": self.configuration(spec), "Code": code, "Tags": {}}

    def _update_code(self, spec: FunctionSpec, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "ZipFile" in request:
            code = self.store_zip(base64.b64decode(request["ZipFile"]))
        elif "S3Key" in request:
            code = self.store_zip(self.read_s3(request["S3Bucket"], request["S3Key"]))
        else:
            return 400, {"__type": "InvalidParameterValueException", "message": "ZipFile or S3Key is required"}
        return 200, self._update(spec, code_zip=code)

    def _update(self, spec: FunctionSpec, **changes: Any) -> dict[str, Any]:
        updated = dataclasses.replace(spec, **changes)
        if self.runner.register(updated):
            self.modified[spec.name] = dt.datetime.now(dt.UTC)
        return self.configuration(updated)

    def configuration(self, spec: FunctionSpec) -> dict[str, Any]:
        modified = self.modified.get(spec.name) or dt.datetime.fromtimestamp(spec.code_zip.stat().st_mtime, dt.UTC)
        return {
            "FunctionName": spec.name,
            "FunctionArn": spec.arn,
            "Runtime": "python3.13",
            "Handler": spec.handler,
            "CodeSize": spec.code_zip.stat().st_size,
            "CodeSha256": zip_sha256(spec.code_zip),
            "Timeout": int(spec.timeout),
            "MemorySize": spec.memory,
            "LastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "Version": "$LATEST",
            "Environment": {"Variables": dict(spec.environment)},
            "TracingConfig": {"Mode": "Active"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "Layers": [
                {"Arn": f"arn:aws:lambda:{spec.region}:{spec.account}:layer:{z.stem}:1"} for z in spec.layer_zips
            ],
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{spec.name}"},
        }


def _configuration_changes(request: dict[str, Any]) -> dict[str, Any]:
    """UpdateFunctionConfiguration's fields the runner applies (FunctionSpec field -> value)."""
    changes: dict[str, Any] = {}
    if "Handler" in request:
        changes["handler"] = request["Handler"]
    if "Timeout" in request:
        changes["timeout"] = float(request["Timeout"])
    if "MemorySize" in request:
        changes["memory"] = int(request["MemorySize"])
    if "Environment" in request:
        changes["environment"] = {k: str(v) for k, v in (request["Environment"].get("Variables") or {}).items()}
    return changes
