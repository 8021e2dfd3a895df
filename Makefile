# Obvious targets. `make test` and `make demo` each set up a fresh clone first.
PY := .venv/bin/python
STAGE ?= dev
PYTHON_SOURCES := handlers tests capacity scripts benchmarks localcloud synthetics plugins bluegreen

.PHONY: setup test check lint unit app app-test screenshots package deploy local env demo redeploy release token bench clean traces metrics colours promote rollback bluegreen-status
EMAIL ?= customer@example.com

setup:
	@bash scripts/setup.sh

lint: setup
	$(PY) -m ruff check $(PYTHON_SOURCES)
	$(PY) -m ruff format --check $(PYTHON_SOURCES)
	$(PY) -m mypy $(PYTHON_SOURCES)

# Every test layer: unit, handler integration (moto), infrastructure (real packaging,
# cfn-lint, checkov), workflow execution, end-to-end over HTTP on the local cloud.
# The web app's unit tests (Vitest, node:test) run first; setup has built it for the browser tests.
# Then the default suite (`make check`: under 10 minutes on 2 cores), then the slow layer: the storms
# under faults, canary releases, blue/green promotion and the Serverless CLI (`pytest -m slow`).
test: check
	$(PY) -m pytest -n 2 --dist loadgroup -m slow

check: lint app-test
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow"

# The web app (frontend/): build it, and its unit tests (API client, stores, publish step).
app: setup
	cd frontend && npm run build

app-test: setup
	cd frontend && npx vue-tsc --noEmit -p tsconfig.json && npx vitest run
	node --test services/frontend/plugins/

# The main screens of the web app, taken by the browser tests, into docs/screenshots/.
screenshots: setup
	AIRLINE_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/browser -q -p no:cacheprovider

unit: setup
	$(PY) -m pytest tests/unit -q

# All stacks for one stage through osls compose (STAGE=prod-green), offline.
package: setup
	bash scripts/package_all.sh $(STAGE)

# Real AWS: the platform of the stage's environment first, then every service.
deploy: setup
	cd services && ../node_modules/.bin/sls deploy --stage $(STAGE)

# The main job: start the local cloud on free ports, deploy every packaged stack,
# seed flights, sign users in with real tokens and walk the booking journey over HTTP.
demo: setup
	$(PY) -m localcloud demo
	@echo "The web app: run 'make local', then open http://127.0.0.1:4568/ (sign up there, or sign in as a user of 'make token')."

# Serve every stack of the `local` stage on 127.0.0.1:4566 (edge) and :4567 (HTTP APIs), and the
# web app on http://127.0.0.1:4568/, until Ctrl-C.
# State (users, ids, signing key, tables, queues, stacks) is kept in .localcloud/state; RESET=1 starts clean;
# EMPTY=1 deploys nothing (then `sls deploy --stage local` per stack, see README).
# FAULTS='service=dynamodb,operation=TransactWriteItems,error=TransactionConflict,rate=0.1' injects faults
# (docs/localcloud.md); CONCURRENCY=12 is the account's live Lambda workers.
FAULTS ?=
CONCURRENCY ?= 12
local: setup
	$(PY) -m localcloud up --state-dir .localcloud/state $(if $(RESET),--reset,) $(if $(EMPTY),--no-deploy,) --account-concurrency $(CONCURRENCY) $(if $(FAULTS),--faults '$(FAULTS)',)

# The exports that point the AWS CLI / boto3 / sls at the running local cloud: eval "$$(make -s env)"
env:
	@$(PY) -m localcloud env

# Blue/green (docs/blue-green.md). ENV=local acts on the running `make local`; dev/prod on AWS with
# your credentials. `make colours` (local only) deploys the router and local-blue + local-green over
# the local data; promote checks the colour (deployed, healthy, compatible), switches the router and
# hands consumers and schedules over; rollback returns to the previous colour in one step.
ENV ?= local
colours: setup
	$(PY) -m bluegreen deploy-colour --env $(ENV) --colour blue green

promote: setup
	$(PY) -m bluegreen promote --env $(ENV) --to $(TO)

rollback: setup
	$(PY) -m bluegreen rollback --env $(ENV)

bluegreen-status: setup
	@$(PY) -m bluegreen status --env $(ENV)

# Re-package one stack (STACK=booking) and update it in place on a running `make local`.
redeploy: setup
	$(PY) -m localcloud deploy $(STACK)

# Rehearse a canary release of one stack on the running `make local` (docs/release.md): re-package STACK,
# deploy it, run each CodeDeploy deployment (pre-traffic hook, weights, alarms, post-traffic hook) on a
# compressed clock (MINUTE seconds per minute, default 2) and show it live, then each timeline.
# TOUCH=createBooking: a new version of that function without a code change; BAD=0.5: the new versions fail
# that share of their alias's calls (a canary the alarms roll back); BAD_HOOK=1: they fail the pre-traffic hook.
MINUTE ?= 2
release: setup
	$(PY) -m localcloud release $(STACK) --minute-seconds $(MINUTE) $(foreach f,$(TOUCH),--touch $(f)) $(if $(BAD),--bad-rate $(BAD),) $(if $(BAD_HOOK),--bad-hook,)

# A token from the running local cloud's user pool (ADMIN=1 for the Admin group).
token: setup
	@$(PY) -m localcloud token --email $(EMAIL) $(if $(ADMIN),--admin,)

# Traces of the running `make local` (X-Ray API on the edge): BOOKING=<id> prints one booking's
# trace end to end with timings; without it, recent traces and the service map (DOT=1: Graphviz).
traces: setup
	@$(PY) -m localcloud.xray $(if $(BOOKING),--booking $(BOOKING),) $(if $(DOT),--dot,)

# Metrics of the running `make local` (CloudWatch API on the edge): the business metrics with their
# sums over the last hour; NAMESPACE=AWS/ for the service metrics; ALARMS=1 evaluates the alarms.
metrics: setup
	@$(PY) -m localcloud.metrics $(if $(NAMESPACE),--namespace $(NAMESPACE),) $(if $(ALARMS),--alarms,)

# Figures (no assertions): local cloud start/invoke/throughput; cold start of every packaged function
# against its boto3 floor, warm-path overhead; what each cold-start lever buys (docs/benchmarks.md).
# BASELINE=<dir>: also measure an earlier build of every function (<dir>/<stack>/local) side by side.
bench: setup
	$(PY) scripts/bench_localcloud.py
	$(PY) -m benchmarks.cold_start $(if $(BASELINE),--baseline $(BASELINE),)
	$(PY) -m benchmarks.levers
	$(PY) -m benchmarks.web_app

clean:
	rm -rf frontend/dist .build .cache services/.serverless services/*/.serverless .serverless
