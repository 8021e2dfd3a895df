"""A small local cloud on top of moto: deploys the packaged stacks and runs them offline.

Modules: `edge` (moto server + Lambda Invoke API on one port), `resolver` (CloudFormation
intrinsics), `deploy` (realizes packaged templates on the edge), `runner` + `worker`
(Lambda functions in warm worker processes), `gateway` + `authorizer` (HTTP APIs with
real JWT checks), `pollers` (SQS event source mappings, schedules), `cloud` (all of it
together), `cli` and `demo` (commands).
"""

REGION = "eu-west-1"
ACCOUNT = "123456789012"
