# Local AWS stand-ins (kinesalite, dynalite, moto server) on 127.0.0.1: see common/local_services.py.
# Ports move with KINESIS_PORT / DYNAMODB_PORT / MOTO_PORT; state (pids, logs, LevelDB) under LOCAL_STATE_DIR.

.PHONY: services-up services-down services-status services-bootstrap

services-up: install-jobs node_modules/.installed ## Start the local AWS stand-ins (idempotent) and create their resources
	$(JOBS_PY) -m common.local_services up

services-down: ## Stop the local AWS stand-ins (SIGTERM, then SIGKILL; no orphans)
	@if [ -x $(JOBS_PY) ]; then $(JOBS_PY) -m common.local_services down; else echo "jobs venv not installed: no services to stop"; fi

services-status: install-jobs ## Show each local stand-in's state, pid, port and endpoint
	$(JOBS_PY) -m common.local_services status

services-bootstrap: install-jobs ## Re-create the stream, table, bus, queues and Glue database (idempotent)
	$(JOBS_PY) -m common.local_services bootstrap
