# Obvious targets. `make test` and `make demo` each set up a fresh clone first.
PY := .venv/bin/python
STAGE ?= dev
PYTHON_SOURCES := handlers tests capacity scripts benchmarks

.PHONY: setup test lint unit package deploy local demo token bench plan clean

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

clean:
	rm -rf .build .cache services/.serverless services/*/.serverless .serverless
