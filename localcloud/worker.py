"""Worker bootstrap: runs one Lambda function in its own process (stand-alone file, no imports of localcloud).

    python worker.py <task dir> <opt dir> <handler module.path.attr>

Protocol: one JSON line per message. On start it answers {"ready", "initMs", "initError"};
then for each request line {"requestId", "event", "deadlineMs", ...} it answers
{"ok": true, "result": <json text>} or {"ok": false, "error": {errorType, errorMessage, stackTrace}}.
The handler's own stdout/stderr go to this process's stderr (the function's log).
"""

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

LOG_MARK = "\x1elocalcloud:invocation-end\n"  # never shown: the runner takes it out of the log


class LambdaContext:
    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request["invokedFunctionArn"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request["requestId"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_of(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}\n' for f in frames],
    }


def main() -> None:
    task_dir, opt_dir, handler_name = sys.argv[1], sys.argv[2], sys.argv[3]
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # print() in a handler goes to the log, never into the protocol
    sys.path[:0] = [
        task_dir,
        os.path.join(opt_dir, "python", "lib", "python3.13", "site-packages"),
        os.path.join(opt_dir, "python"),
    ]
    os.chdir(task_dir)
    started = time.perf_counter()
    handler = None
    init_error = None
    try:
        module_name, attribute = handler_name.rsplit(".", 1)
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, attribute)
    except Exception as exc:  # Lambda reports an init failure on every invoke
        init_error = error_of(exc, "Runtime.ImportModuleError" if isinstance(exc, ImportError) else None)
    init_ms = (time.perf_counter() - started) * 1000
    protocol.write(json.dumps({"ready": True, "initMs": init_ms, "initError": init_error}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request.get("traceHeader", "")  # as Lambda sets it per invocation
        answer: dict[str, Any]
        if handler is None:
            answer = {"ok": False, "error": init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request))
                try:
                    answer = {"ok": True, "result": json.dumps(result)}
                except (TypeError, ValueError) as exc:
                    answer = {"ok": False, "error": error_of(exc, "Runtime.MarshalError")}
            except Exception as exc:
                traceback.print_exc()
                answer = {"ok": False, "error": error_of(exc)}
        sys.stdout.flush()
        sys.stderr.write(LOG_MARK)  # the runner writes END/REPORT once the log has reached it up to here
        sys.stderr.flush()
        protocol.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
