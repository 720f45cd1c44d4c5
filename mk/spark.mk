# Spark jobs + serving: profiles, embeddings, hybrid top-K matching, quality gate, DynamoDB publish,
# EMR packaging, benchmarks (spark_jobs/, benchmarks/bench_{scoring,embed,publish}.py).
# RUN_DATE is shared with `make run`; default day = yesterday, as the DAG runs.
SPARK_RUN_DATE = $(or $(RUN_DATE),$(shell date -u -d yesterday +%F))
ENCODER ?= $(or $(EMBEDDING_ENCODER),minilm)
MATCH_K ?= 20
N ?= 100000
M ?= 20000
OUT ?= .local/bench/scoring.json
BENCH_DOCS ?= 200
BENCH_ITEMS ?= 20000
TENANT ?=
CANDIDATE ?=
JOB ?=

.PHONY: profiles embed match quality-gate publish top-matches top-candidates package-spark package-spark-deps \
	bench-scoring bench-embed bench-profiles bench-publish test-spark

profiles: install-jobs ## Silver + raw documents → gold candidate/job profiles (+ quarantine) for RUN_DATE
	$(JOBS_PY) -m spark_jobs.build_profiles --run-date $(SPARK_RUN_DATE)

embed: install-jobs ## Embed new/changed profile texts for RUN_DATE (ENCODER=minilm|static|hashing; incremental)
	$(JOBS_PY) -m spark_jobs.embed --run-date $(SPARK_RUN_DATE) --encoder $(ENCODER)

match: install-jobs ## Exact hybrid top-K (K=20) both directions for RUN_DATE → gold/matches (pending audit)
	$(JOBS_PY) -m spark_jobs.match --run-date $(SPARK_RUN_DATE) --k $(if $(filter command line,$(origin K)),$(K),$(MATCH_K))

quality-gate: install-jobs ## Great Expectations audit of RUN_DATE's run: audited, or blocked (exit 2)
	$(JOBS_PY) -m spark_jobs.quality_gate --run-date $(SPARK_RUN_DATE)

publish: install-jobs services-up ## Publish RUN_DATE's audited run to DynamoDB + MatchesReady event
	$(JOBS_PY) -m spark_jobs.publish --run-date $(SPARK_RUN_DATE)

top-matches: install-jobs services-up ## A candidate's top jobs with explanations from DynamoDB (CANDIDATE=… TENANT=…)
	@[ -n "$(CANDIDATE)" ] && [ -n "$(TENANT)" ] || { echo "usage: make top-matches CANDIDATE=<candidate_id> TENANT=<tenant_id>"; exit 2; }
	$(JOBS_PY) -m spark_jobs.serving top-matches --candidate $(CANDIDATE) --tenant $(TENANT) -k $(or $(TOPK),10)

top-candidates: install-jobs services-up ## A job's top candidates from DynamoDB (JOB=… TENANT=…)
	@[ -n "$(JOB)" ] && [ -n "$(TENANT)" ] || { echo "usage: make top-candidates JOB=<job_id> TENANT=<tenant_id>"; exit 2; }
	$(JOBS_PY) -m spark_jobs.serving top-candidates --job $(JOB) --tenant $(TENANT) -k $(or $(TOPK),10)

package-spark: install-jobs ## EMR Serverless artefacts: dist/emr/code.zip + entrypoint.py + manifest (see docs/spark_and_serving.md)
	$(JOBS_PY) -m spark_jobs.package --out dist/emr

package-spark-deps: install-jobs ## Also build the relocatable dependencies archive dist/emr/pyspark_deps.tar.gz (slow; build on the EMR OS)
	$(JOBS_PY) -m spark_jobs.package --out dist/emr --deps

bench-scoring: install-jobs ## Hybrid top-K in Spark vs sgemm bound, naive crossJoin, FAISS (N=100000 M=20000 K=20 OUT=file.json)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(JOBS_PY) benchmarks/bench_scoring.py --n $(N) --m $(M) --k $(if $(filter command line,$(origin K)),$(K),$(MATCH_K)) --out $(OUT)

bench-embed: install-jobs ## Embedding docs/s per encoder (hashing, static, minilm) on real resume texts (BENCH_DOCS=200)
	$(JOBS_PY) benchmarks/bench_embed.py --docs $(BENCH_DOCS) --out .local/bench/embed.json

bench-profiles: install-jobs ## Profile extraction docs/s per core: skills, fields, occupation, total on real resumes (BENCH_DOCS=200)
	$(JOBS_PY) benchmarks/bench_profiles.py --docs $(BENCH_DOCS) --out .local/bench/profiles.json

bench-publish: install-jobs services-up ## DynamoDB publish: full-publish lists/s and ranked entries/s + a steady day (5 % changed): lists written vs kept (BENCH_ITEMS=20000 entries)
	$(JOBS_PY) benchmarks/bench_publish.py --items $(BENCH_ITEMS) --out .local/bench/publish.json

test-spark: install-jobs node_modules/.installed ## Unit + integration tests of the Spark jobs and serving
	$(JOBS_PY) -m pytest -q tests/unit/test_spark_*.py tests/integration/test_spark_*.py; $(PYTEST_STATUS)
