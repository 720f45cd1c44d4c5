# Ingestion: marketplace simulator, Firehose-style landing, bronze→silver, benchmark (ingestion/, spark_jobs/bronze_to_silver.py).
# RUN_DATE / SEED / SCALE are shared with `make run` (Makefile); default day = yesterday, as the DAG runs.
INGEST_RUN_DATE = $(or $(RUN_DATE),$(shell date -u -d yesterday +%F))
BENCH_EVENTS ?= 20000
BENCH_FLAGS ?=
SIM_FLAGS ?=

.PHONY: simulate land redrive bronze-silver bench-ingest ingestion-schemas ingestion-bundle test-ingestion test-ingestion-faults

simulate: install-jobs services-up ## Simulate one marketplace day into Kinesis + EventBridge (RUN_DATE, SEED, SCALE=small|medium|large|<events>, SIM_FLAGS="--resumes-csv …")
	$(JOBS_PY) -m ingestion.simulator --run-date $(INGEST_RUN_DATE) --seed $(SEED) --scale $(SCALE) $(SIM_FLAGS)

land: install-jobs services-up ## Drain Kinesis + the EventBridge landing queue into raw/ (Firehose layout, checkpointed)
	$(JOBS_PY) -m ingestion.landing --run-date $(INGEST_RUN_DATE)

redrive: install-jobs ## Re-route RUN_DATE's window of raw/errors with today's rules, land what routes now, rebuild bronze/silver (re-validates quarantine)
	$(JOBS_PY) -m ingestion.redrive --run-date $(INGEST_RUN_DATE) --bronze-silver

bronze-silver: install-jobs ## raw → bronze → silver + quarantine (Spark) for RUN_DATE's event-time window
	$(JOBS_PY) -m spark_jobs.bronze_to_silver --run-date $(INGEST_RUN_DATE)

bench-ingest: install-jobs node_modules/.installed ## Benchmark records/s producer → raw end to end (+ silver), own stand-ins, reconciled (BENCH_EVENTS=20000; BENCH_FLAGS="--skip-silver --shards 4 --poll-seconds 2 --land-after")
	$(JOBS_PY) benchmarks/bench_ingest.py --events $(BENCH_EVENTS) $(BENCH_FLAGS)

ingestion-schemas: install-jobs ## Regenerate the JSON Schemas of the event contracts (ingestion/schemas/)
	$(JOBS_PY) -m ingestion.contracts --write-schemas

ingestion-bundle: install-jobs ## Rebuild ingestion/data/ from ../shared/data/usajobs (public domain titles)
	$(JOBS_PY) -m ingestion.bundle --usajobs ../shared/data/usajobs/usajobs_2025_titles_series.csv

test-ingestion-faults: install-jobs node_modules/.installed ## Ingestion fault tests (throttling, kills, midnight, surrogate, additive field, two landers); make test-faults is the whole-pipeline fault run
	$(JOBS_PY) -m pytest -q -s -p no:cacheprovider tests/integration/test_ingestion_faults.py

test-ingestion: install-jobs node_modules/.installed ## Unit + integration tests of the ingestion area
	$(JOBS_PY) -m pytest -q tests/unit/test_ingestion_*.py tests/integration/test_ingestion_*.py
