# Obvious targets. `make test` and `make demo` each set up a fresh clone first.
PY := .venv/bin/python
STAGE ?= dev
PYTHON_SOURCES := handlers tests capacity scripts benchmarks localcloud plugins

.PHONY: setup test lint unit package deploy local demo redeploy token bench clean
EMAIL ?= customer@example.com

setup:
	@bash scripts/setup.sh

lint: setup
	$(PY) -m ruff check $(PYTHON_SOURCES)
	$(PY) -m ruff format --check $(PYTHON_SOURCES)
	$(PY) -m mypy $(PYTHON_SOURCES)

# Every test layer: unit, handler integration (moto), infrastructure (real packaging,
# cfn-lint, checkov), workflow execution, end-to-end over HTTP on the local cloud.
test: lint
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow"

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

# Serve every stack of the `local` stage on 127.0.0.1:4566 (edge) and :4567 (HTTP APIs) until Ctrl-C.
local: setup
	$(PY) -m localcloud up

# Re-package one stack (STACK=booking) and update it in place on a running `make local`.
redeploy: setup
	$(PY) -m localcloud deploy $(STACK)

# A token from the running local cloud's user pool (ADMIN=1 for the Admin group).
token: setup
	@$(PY) -m localcloud token --email $(EMAIL) $(if $(ADMIN),--admin,)

# Figures (no assertions): local cloud start/invoke/throughput; cold start of every packaged function
# against its boto3 floor, warm-path overhead; what each cold-start lever buys (docs/benchmarks.md).
bench: setup
	$(PY) scripts/bench_localcloud.py
	$(PY) -m benchmarks.cold_start
	$(PY) -m benchmarks.levers

clean:
	rm -rf .build .cache services/.serverless services/*/.serverless .serverless
