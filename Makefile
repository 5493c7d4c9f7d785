# The exchange's developer commands. Every target builds .venv itself when it is missing or stale,
# so `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CDK CLI, pinned: npm's `latest` (3.0.0) cannot read aws-cdk-lib 2.275's cloud assembly.
CDK := npx --yes aws-cdk@2.1148.1
# jsii prints a banner on every synth while the machine has Node 20 (end of life for jsii).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# Lambda runs Python 3.13, so the venv is built with 3.13 where it exists (then 3.12, then python3).
PYTHON_CANDIDATES := python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) \
                     python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt requirements-local.txt constraints.txt pyproject.toml \
          layers/exchange/requirements.txt engine_service/requirements.txt
	@python=""; for candidate in $(PYTHON_CANDIDATES); do \
	  if $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then python=$$candidate; break; fi; \
	done; \
	if [ -z "$$python" ]; then echo "error: Python 3.12 or newer is needed (Lambda runs 3.13)" >&2; exit 1; fi; \
	if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$python ($$($$python --version))"; $$python -m venv $(VENV); fi
	$(PY) -m pip install -qq --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install -qq --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## Create .venv and install the pinned requirements

.PHONY: test
test: lint imports typecheck pytest ## Lint, check import contracts, type-check and run every test

.PHONY: lint
lint: $(STAMP) ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# lint-imports puts the working directory (the repository root) on sys.path, so lambdas, local,
# engine_service and stacks import without PYTHONPATH; exchange is installed editable. No cache dir.
.PHONY: imports
imports: $(STAMP) ## Import contracts: layers, purity, boundaries, cycles ([tool.importlinter])
	$(VENV)/bin/lint-imports --no-cache --no-logo

.PHONY: typecheck
typecheck: $(STAMP) ## mypy (strict, pydantic plugin)
	$(PY) -m mypy

# The tests run the engine on both cores, so they build the compiled one first (a no-op when it is
# up to date); under CI=true a test that needs it fails rather than skips.
.PHONY: pytest
pytest: build-engine ## All tests
	$(PY) -m pytest

.PHONY: unit integration infra e2e
unit: build-engine ## Unit tests only (no network)
	$(PY) -m pytest tests/unit layers/exchange/python/exchange
integration: build-engine ## Integration tests against the local PostgreSQL, Redis and RabbitMQ
	$(PY) -m pytest tests/integration
e2e: build-engine ## End-to-end tests: start `python -m local`, trade over HTTP and WebSocket
	$(PY) -m pytest tests/e2e
infra: $(STAMP) ## Synthesize the CDK app and assert on the templates
	$(PY) -m pytest tests/infrastructure

.PHONY: fmt
fmt: $(STAMP) ## Format and auto-fix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Local mode runs the compiled engine core when it builds, else the pure-Python one (same results,
# slower): a machine without a C compiler still gets a running exchange, and local mode says which.
.PHONY: run
run: $(STAMP) ## The whole exchange on this machine (gateway, moto, engine, pollers); Ctrl-C stops it
	@$(PY) engine_service/core/build.py || echo "make run: the compiled engine core did not build" \
	  "(see above; it needs a C compiler and Python's headers): running the pure-Python core" >&2
	$(PY) -m local

.PHONY: backtest
backtest: $(STAMP) ## Backtest the market maker on the archive (SOURCE=dir or s3://...; default: make run's)
	$(PY) -m local.backtest --source $(or $(SOURCE),.cache/local/archive) $(if $(SYMBOL),--symbol $(SYMBOL))

.PHONY: demo-engine
demo-engine: $(STAMP) ## The matching engine alone on a seeded demo stream
	$(PY) -m engine_service.demo

# checkov pins an old boto3, so it lives in its own venv, built from its own full pin list.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt | $(STAMP)
	@if [ ! -x $(CHECKOV_VENV)/bin/python ]; then $(PY) -m venv $(CHECKOV_VENV); fi
	$(CHECKOV_VENV)/bin/python -m pip install -qq --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

.PHONY: synth
synth: $(STAMP) $(CHECKOV_STAMP) ## cdk synth both regions (cdk-nag), then cfn-lint and checkov on cdk.out
	@start=$$(date +%s); $(CDK) synth --quiet; echo "cdk synth: $$(( $$(date +%s) - start )) s"
	$(PY) -m stacks.checks cdk.out --checkov $(CHECKOV_VENV)/bin/checkov

.PHONY: deploy
deploy: $(STAMP) ## cdk deploy all four stacks in dependency order (see docs/deploy.md)
	$(CDK) deploy --all --require-approval broadening

.PHONY: build-engine
build-engine: $(STAMP) ## Compile the engine core (_ccore.pyx, Cython to C) when missing or stale
	$(PY) engine_service/core/build.py

.PHONY: clean-engine
clean-engine: $(STAMP) ## Remove the compiled engine core (back to the pure-Python core)
	$(PY) engine_service/core/build.py --clean

.PHONY: bench-engine
bench-engine: build-engine ## Matching-engine benchmark: both cores' msgs/s, latency percentiles, peers
	$(PY) -m bench.engine_bench

.PHONY: bench-ledger
bench-ledger: $(STAMP) ## Ledger benchmark: reservations/s and settlements/s on the local PostgreSQL
	$(PY) -m bench.ledger_bench

.PHONY: migrate-ledger
migrate-ledger: $(STAMP) ## Migrate the ledger schema to head (EXCHANGE_DATABASE_URL or --url)
	$(PY) -m exchange.ledger.migrations upgrade

.PHONY: bench-e2e
bench-e2e: $(STAMP) ## Orders over HTTP at a fixed rate on the local stack: HTTP-in to fill-out p50/p99
	$(PY) -m bench.e2e_bench

# Needs root or the postgres user's server binaries (initdb, pg_ctl), rabbitmqctl and Redis: it
# starts two PostgreSQL servers of its own (5434, and 5435 streaming from it) in /tmp.
.PHONY: dr-drill
dr-drill: build-engine ## Disaster-recovery drill: kill the primary under load, fail over, print RPO/RTO JSON
	POWERTOOLS_METRICS_DISABLED=true POWERTOOLS_LOG_LEVEL=WARNING $(PY) -m bench.dr_drill $(ARGS)

.PHONY: bench-service
bench-service: $(STAMP) ## Engine service vs the broker ceiling: throughput and p50/p99 at half rate
	$(PY) -m bench.service_bench

.PHONY: bench-streams
bench-streams: $(STAMP) ## Stream consumers: events/s through the recorder and fan-out handlers
	$(PY) -m bench.streams_bench

.PHONY: bench-api
bench-api: $(STAMP) ## REST API: warm p50/p99 per POST /v1/orders (fakes), cold import per handler
	$(PY) -m bench.api_bench

.PHONY: openapi
openapi: $(STAMP) ## Regenerate docs/openapi.json from the REST routers
	$(PY) -m exchange.http.openapi docs/openapi.json

.PHONY: lock
lock: $(STAMP) ## Re-pin every transitive dependency into constraints.txt
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check > constraints.txt

.PHONY: clean
clean: ## Remove the venv, caches and cdk.out
	rm -rf $(VENV) cdk.out .mypy_cache .ruff_cache .pytest_cache .hypothesis
