# Talent marketplace data platform. `make help` lists every target.
# Two commands do all set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PYTHONPATH := $(CURDIR)
export SPARK_LOCAL_IP := 127.0.0.1
export OPENBLAS_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PLATFORM_ENV ?= local

PYTHON_BASE ?= python3.11
VENV := .venv
UV := $(VENV)/bootstrap/bin/uv
JOBS_PY := $(VENV)/jobs/bin/python
DBT_PY := $(VENV)/dbt/bin/python
AIRFLOW_PY := $(VENV)/airflow/bin/python
INFRA_PY := $(VENV)/infra/bin/python
CHECKOV_PY := $(VENV)/checkov/bin/python
VENVS := jobs dbt airflow infra checkov
PYTEST_STATUS = status=$$?; if [ $$status -eq 5 ]; then echo "no tests collected"; status=0; fi; exit $$status

$(UV):
	@command -v $(PYTHON_BASE) >/dev/null || { echo "ERROR: $(PYTHON_BASE) not found. Install Python 3.11 (e.g. apt-get install python3.11 python3.11-venv)."; exit 1; }
	$(PYTHON_BASE) -m venv $(VENV)/bootstrap
	$(VENV)/bootstrap/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

# One venv per tool family, each synced from its committed lock; re-synced only when the lock changes.
$(VENV)/%/.synced: requirements/%.lock | $(UV)
	@echo ">> installing the $* environment from requirements/$*.lock (first run only)"
	@[ -x $(VENV)/$*/bin/python ] || $(UV) venv --quiet --python $(PYTHON_BASE) $(VENV)/$*
	VIRTUAL_ENV=$(VENV)/$* $(UV) pip sync --quiet --compile-bytecode --find-links /opt/wheels --index-strategy unsafe-best-match requirements/$*.lock
	@if [ "$*" = jobs ]; then VIRTUAL_ENV=$(VENV)/jobs $(UV) pip install --quiet --no-deps -e .; fi
	@touch $@

.PHONY: help
help: ## List every target
	@grep -hE '^[a-zA-Z0-9_.-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

.PHONY: install install-jobs install-dbt install-airflow install-infra install-checkov
install: install-jobs install-dbt install-airflow install-infra install-checkov node_modules/.installed ## Install every environment (venvs + repo-local npm tools)
install-jobs: $(VENV)/jobs/.synced ## Install the Spark/jobs venv
install-dbt: $(VENV)/dbt/.synced ## Install the dbt venv
install-airflow: $(VENV)/airflow/.synced ## Install the Airflow venv
install-infra: $(VENV)/infra/.synced infra/node_modules/.installed ## Install the CDK venv and CLI
install-checkov: $(VENV)/checkov/.synced ## Install the checkov venv

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "ERROR: npm not found. Install Node.js 20 (apt-get install nodejs npm)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: lock
lock: | $(UV) ## Re-resolve requirements/*.in into the committed locks
	for v in $(VENVS); do $(UV) pip compile --quiet --python-version 3.11 --find-links /opt/wheels \
	  --index-strategy unsafe-best-match requirements/$$v.in -o requirements/$$v.lock; done

RUN_DATE ?=
SEED ?= 42
SCALE ?= small
DAYS ?= 14
ENCODER ?=

.PHONY: run
run: install-jobs install-dbt node_modules/.installed services-up ## Run the pipeline over DAYS days of history (default 14) ending at RUN_DATE, then print a summary (SCALE=, DAYS=)
	$(JOBS_PY) -m common.run_pipeline $(if $(RUN_DATE),--run-date $(RUN_DATE)) --days $(DAYS) --seed $(SEED) --scale $(SCALE) $(if $(ENCODER),--encoder $(ENCODER))

# CANDIDATES / JOBS / OUT / DAYS are shared names (mk/matching.mk, mk/spark.mk): defaults stay in the recipe.
.PHONY: bench-pipeline
bench-pipeline: install-jobs install-dbt node_modules/.installed ## Benchmark the daily pipeline: a cold day + steady days (CANDIDATES=50000 JOBS=20000 DAYS=2 OUT=file.json; KEEP=1 keeps the scratch lake)
	$(JOBS_PY) benchmarks/bench_pipeline.py --candidates $(or $(CANDIDATES),2000) --jobs $(or $(JOBS),800) --days $(if $(filter command line,$(origin DAYS)),$(DAYS),2) --out $(or $(filter-out .local/bench/scoring.json,$(OUT)),.local/bench/pipeline.json) $(if $(ENCODER),--encoder $(ENCODER)) $(if $(KEEP),--keep)

TEST_DEPS := install-jobs install-dbt install-airflow install-infra install-checkov node_modules/.installed install-chromium infra/node_modules/.installed

.PHONY: test test-unit test-integration test-e2e test-airflow test-infra
test: $(TEST_DEPS) ## Run every test tier (unit, integration, e2e, aws, airflow, infra); installs what it needs
	bash scripts/run_tests.sh
test-unit: install-jobs node_modules/.installed ## Fast unit tests only
	TIERS=jobs MARKERS=unit bash scripts/run_tests.sh
test-integration: $(TEST_DEPS) ## Integration tests (services, Spark, dbt)
	TIERS=jobs MARKERS=integration bash scripts/run_tests.sh
test-e2e: $(TEST_DEPS) ## End-to-end pipeline tests
	TIERS=jobs MARKERS=e2e bash scripts/run_tests.sh
test-airflow: install-airflow install-jobs install-dbt ## Airflow DAG tests (integrity + a real DAG run)
	TIERS=airflow bash scripts/run_tests.sh
test-infra: install-infra install-checkov ## CDK synth, assertions, cdk-nag, cfn-lint, checkov
	TIERS=infra bash scripts/run_tests.sh

.PHONY: lint
lint: install-jobs install-dbt ## ruff on Python, sqlfluff on dbt models
	$(VENV)/jobs/bin/ruff check .
	$(MAKE) --no-print-directory dbt-lint

.PHONY: clean
clean: services-down ## Remove the local lake, warehouse and service state (keeps venvs)
	rm -rf lake .local dbt/target

include mk/*.mk
