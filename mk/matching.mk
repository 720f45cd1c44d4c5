# Matching core (matching/): evaluation CLI, artefact rebuilds, benchmarks, tests.
CANDIDATES ?=
JOBS ?=
K ?= 10
OUT ?=
# ENCODER: the root Makefile declares it empty (`make run`'s "pipeline default"), so a `?=` default here
# never applies; --encoder (and --weights) are passed only when set, else the CLI's own defaults hold.
WEIGHTS ?=
SHARED_DATA ?= $(abspath $(CURDIR)/../shared/data)
MATCHING_OUT ?= .local/matching
# EVAL_LIMIT=N: a smoke run of evaluate / eval-skills on at most N records per data set (numbers not comparable)
EVAL_LIMIT ?=
EVAL_LIMIT_ARG = $(if $(EVAL_LIMIT),--limit $(EVAL_LIMIT))

.PHONY: match-files occupations evaluate eval-skills eval-matching-fast matching-taxonomy matching-distill \
	matching-occupation-vectors bench-matching test-matching

match-files: install-jobs ## Rank jobs per candidate: CANDIDATES=c.csv JOBS=j.csv K=10 OUT=ranking.csv [ENCODER=minilm|static|hashing]
	@[ -n "$(CANDIDATES)" ] && [ -n "$(JOBS)" ] && [ -n "$(OUT)" ] || { echo "usage: make match-files CANDIDATES=c.csv JOBS=j.csv K=10 OUT=ranking.csv"; exit 2; }
	$(JOBS_PY) -m matching.cli match-files --candidates $(CANDIDATES) --jobs $(JOBS) --k $(K) --out $(OUT) $(if $(ENCODER),--encoder $(ENCODER)) $(if $(WEIGHTS),--weights $(WEIGHTS))

occupations: install-jobs ## Top-K ESCO occupations per job: JOBS=j.csv K=10 OUT=occ.csv
	@[ -n "$(JOBS)" ] && [ -n "$(OUT)" ] || { echo "usage: make occupations JOBS=j.csv K=10 OUT=occ.csv"; exit 2; }
	$(JOBS_PY) -m matching.cli occupations --jobs $(JOBS) --k $(K) --out $(OUT)

evaluate: install-jobs ## Occupation hit@k vs TF-IDF + resume->job P@10/NDCG/MRR (hybrid, lexical, embedding, random) on ../shared/data
	$(JOBS_PY) -m matching.cli evaluate --shared-data $(SHARED_DATA) --json $(MATCHING_OUT)/evaluate.json $(EVAL_LIMIT_ARG)

eval-matching-fast: install-jobs ## evaluate with the static encoder only (no transformer; ~1 min)
	$(JOBS_PY) -m matching.cli evaluate --shared-data $(SHARED_DATA) --what ranking --encoders static --json $(MATCHING_OUT)/evaluate_static.json

eval-skills: install-jobs ## Skill extraction precision/recall/F1 on the Green benchmark and SkillSpan-ESCO sentences
	@mkdir -p $(MATCHING_OUT)
	$(JOBS_PY) -m matching.cli eval-skills --shared-data $(SHARED_DATA) --json $(MATCHING_OUT)/eval_skills.json $(EVAL_LIMIT_ARG)

matching-taxonomy: install-jobs ## Rebuild matching/data/ ESCO bundle from ../shared/data/esco
	$(JOBS_PY) -m matching.taxonomy build --esco-dir $(SHARED_DATA)/esco

matching-distill: install-jobs ## Re-distil the static encoder from MiniLM (~3 min)
	$(JOBS_PY) -m matching.distill

matching-occupation-vectors: install-jobs ## Rebuild the bundled MiniLM occupation matrices (~3 min)
	$(JOBS_PY) -m matching.occupations build-vectors

bench-matching: install-jobs ## Benchmark top-K kernel and encoders (prints a table + JSON)
	$(JOBS_PY) benchmarks/bench_matching.py --json $(MATCHING_OUT)/bench.json

test-matching: install-jobs ## Unit + integration tests of the matching core (~2-3 min)
	$(JOBS_PY) -m pytest -q tests/unit/test_matching_*.py tests/integration/test_matching_*.py; $(PYTEST_STATUS)
