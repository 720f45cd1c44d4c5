# Orchestration: Airflow 3 with this repo's DAGs (dags/), run locally from the airflow venv.
# The stages themselves run in the jobs venv (dags/_platform/tasks.py); dbt in the dbt venv (cosmos).
AIRFLOW_DAG ?= match_daily
AIRFLOW_RUN_DATE ?= $(or $(RUN_DATE),$(shell date -u -d yesterday +%F))

.PHONY: airflow airflow-dags-test airflow-dbt-manifest airflow-reserialize

airflow: install-airflow install-jobs install-dbt node_modules/.installed services-up ## Start Airflow standalone on 127.0.0.1 (AIRFLOW_PORT, default 8080) with the DAGs; prints URL + login
	$(AIRFLOW_PY) dags/_platform/standalone.py

airflow-dags-test: install-airflow install-jobs install-dbt node_modules/.installed services-up ## Run one DAG for one date under Airflow (AIRFLOW_DAG=match_daily RUN_DATE=YYYY-MM-DD [SILVER_AS_IS=1])
	$(AIRFLOW_PY) dags/_platform/run_dag.py $(AIRFLOW_DAG) --date $(AIRFLOW_RUN_DATE) $(if $(SILVER_AS_IS),--silver-as-is)

airflow-dbt-manifest: install-dbt ## dbt parse → dbt/target/manifest.json, so match_daily renders one Airflow task per dbt model (cosmos)
	cd dbt && ../$(VENV)/dbt/bin/dbt parse --profiles-dir . --quiet

airflow-reserialize: install-airflow ## Re-parse the DAG files into the local Airflow home (after editing dags/)
	$(AIRFLOW_PY) -c 'import sys; sys.path.insert(0, "dags"); from _platform.run_dag import prepare_home; from _platform.airflow_env import airflow_environment; prepare_home(airflow_environment())'
