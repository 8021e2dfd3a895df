"""One Logger, Tracer and Metrics per process, shared by every entry point of a function.

Service name, namespace and log level come from the function's environment
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL).
The Tracer patches botocore only: it is the one library our code calls out through,
and `patch_all` would import and patch every library the X-Ray SDK knows (sqlite3,
httplib, ...) at each cold start (see docs/benchmarks.md).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
