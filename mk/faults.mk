# Fault-injection run (issue 14): midnight, two consumers, duplicates, lone surrogate, additive field, rerun with
# changed inputs, backfill and a DOCX bomb through the real code paths, on its own ports and temp dirs.
# Prints each scenario's checks and `events in = silver + quarantined + duplicates`; non-zero exit on any loss
# or failed scenario. FAULTS_SCALE sizes the simulated days (fraction of the small day).
# Every process the run starts carries MARKETPLACE_TEST_RUN=faults-<shell pid>; once it has exited, the
# leftovers check fails the target if any of them (stand-ins, Spark's JVM, Python workers) is still running.
FAULTS_SCALE ?= 0.05

.PHONY: test-faults

test-faults: install-jobs node_modules/.installed ## Fault-injection run: every issue-14 fault, 0 lost, on its own ports/dirs, nothing left running (FAULTS_SCALE=0.05)
	@tag=faults-$$$$; status=0; \
	MARKETPLACE_TEST_RUN=$$tag $(JOBS_PY) tests/faults/fault_run.py --scale $(FAULTS_SCALE) || status=$$?; \
	$(JOBS_PY) -m common.local_services leftovers --tag $$tag --kill || status=1; \
	exit $$status
