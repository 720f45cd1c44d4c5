# Analytics: dbt marts (duckdb locally, Athena in AWS), the local dashboard, the QuickSight spec.
ANALYTICS_RUN_DATE = $(or $(RUN_DATE),$(shell date -u -d yesterday +%F))
DBT := $(VENV)/dbt/bin/dbt
DBT_ARGS := --project-dir dbt --profiles-dir dbt
DEMO_ENV := LAKE_ROOT=$(CURDIR)/.local/demo/lake LOCAL_STATE_DIR=$(CURDIR)/.local/demo WAREHOUSE_PATH=$(CURDIR)/.local/demo/warehouse.duckdb
ANALYTICS_TESTS := $(wildcard tests/unit/test_analytics_*.py tests/integration/test_analytics_*.py)

.PHONY: dbt-build dbt-test dbt-freshness dbt-compile-athena dbt-lint dbt-docs dashboard warehouse-shell analytics-demo install-chromium test-analytics

dbt-build: install-jobs install-dbt ## Build + test the dbt marts from the lake for RUN_DATE (default yesterday)
	$(JOBS_PY) -m analytics.dbt_runner --run-date $(ANALYTICS_RUN_DATE)

dbt-test: install-jobs install-dbt ## Re-run the dbt data + unit tests against the built warehouse
	LAKE_ROOT=$${LAKE_ROOT:-$(CURDIR)/lake} WAREHOUSE_PATH=$${WAREHOUSE_PATH:-$(CURDIR)/.local/warehouse.duckdb} \
	  $(DBT) test $(DBT_ARGS) --vars '{run_date: "$(ANALYTICS_RUN_DATE)"}'

dbt-compile-athena: install-jobs install-dbt ## Compile all models for Athena offline and parse them as Trino (sqlglot)
	$(JOBS_PY) -m analytics.athena_check

dbt-lint: install-dbt ## sqlfluff (dbt templater) on the dbt models
	cd dbt && LAKE_ROOT=$${LAKE_ROOT:-$(CURDIR)/lake} WAREHOUSE_PATH=$(CURDIR)/.local/sqlfluff.duckdb \
	  $(CURDIR)/$(VENV)/dbt/bin/sqlfluff lint models --processes 2

dbt-docs: install-dbt ## Generate the dbt docs site (dbt/target/index.html)
	LAKE_ROOT=$${LAKE_ROOT:-$(CURDIR)/lake} WAREHOUSE_PATH=$${WAREHOUSE_PATH:-$(CURDIR)/.local/warehouse.duckdb} \
	  $(DBT) docs generate $(DBT_ARGS)

dashboard: install-jobs ## Render the local dashboard (.local/dashboard/index.html) from the marts
	$(JOBS_PY) -m analytics.dashboard

warehouse-shell: install-jobs ## Read-only SQL prompt on the local warehouse (marts in schema main_marts)
	$(JOBS_PY) -m analytics.warehouse_shell

analytics-demo: install-jobs install-dbt ## Sample lake -> marts -> dashboard under .local/demo (no other stage needed)
	$(DEMO_ENV) $(JOBS_PY) -m analytics.sample_data --run-date $(ANALYTICS_RUN_DATE)
	$(DEMO_ENV) $(JOBS_PY) -m analytics.dbt_runner --run-date $(ANALYTICS_RUN_DATE)
	$(DEMO_ENV) $(JOBS_PY) -m analytics.dashboard

install-chromium: ## Install Debian chromium for the dashboard browser test (skips if present)
	@if [ -x /usr/bin/chromium ]; then echo "chromium present"; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null && echo "chromium installed"; fi

test-analytics: install-jobs install-dbt install-chromium ## Unit + integration tests of the analytics area
	$(JOBS_PY) -m pytest -q $(ANALYTICS_TESTS); $(PYTEST_STATUS)

dbt-freshness: install-dbt ## dbt source freshness of the lake tables (warn after 1 day, error after 3)
	LAKE_ROOT=$${LAKE_ROOT:-$(CURDIR)/lake} WAREHOUSE_PATH=$${WAREHOUSE_PATH:-$(CURDIR)/.local/warehouse.duckdb} \
	  $(DBT) source freshness $(DBT_ARGS)
