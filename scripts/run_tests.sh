#!/usr/bin/env bash
# Runs every test tier, each in the virtualenv that owns its dependencies, and fails if any tier fails.
#   jobs venv:    tests/unit tests/integration tests/e2e (Spark, matching, ingestion, dbt via subprocess)
#   aws (jobs venv + the infra/airflow venvs as subprocesses): tests/aws, PLATFORM_ENV=aws against moto
#   airflow venv: tests/airflow (DAG integrity + a real DAG run)
#   infra venv:   tests/infra (cdk synth, assertions, cdk-nag, cfn-lint, checkov)
# MARKERS (e.g. "unit") narrows the jobs-venv tier; pytest's "no tests collected" (exit 5) is not a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
MARKERS="${MARKERS:-}"
TIERS="${TIERS:-jobs aws airflow infra}"
status=0
declare -a summary
# Every process a tier starts inherits this tag; the last step fails if any of them is still running.
export MARKETPLACE_TEST_RUN="${MARKETPLACE_TEST_RUN:-make-test-$$-$(date +%s)}"

run_tier() {
  local name=$1; shift
  echo "════ test tier: $name ════"
  local started=$SECONDS
  "$@"
  local rc=$?
  [ $rc -eq 5 ] && { echo "(no tests collected in $name)"; rc=0; }
  summary+=("$name: exit $rc in $((SECONDS - started))s")
  [ $rc -ne 0 ] && status=1
}

for tier in $TIERS; do
  case $tier in
    jobs)
      args=(tests --ignore=tests/airflow --ignore=tests/infra --ignore=tests/aws -p no:cacheprovider)
      [ -n "$MARKERS" ] && args+=(-m "$MARKERS")
      [ -d tests ] && run_tier jobs .venv/jobs/bin/python -m pytest "${args[@]}" ;;
    aws)
      [ -d tests/aws ] && run_tier aws .venv/jobs/bin/python -m pytest tests/aws -p no:cacheprovider ;;
    airflow)
      [ -d tests/airflow ] && run_tier airflow .venv/airflow/bin/python -m pytest tests/airflow -p no:cacheprovider ;;
    infra)
      [ -d tests/infra ] && run_tier infra .venv/infra/bin/python -m pytest tests/infra -p no:cacheprovider ;;
  esac
done
run_tier leftovers .venv/jobs/bin/python -m common.local_services leftovers --tag "$MARKETPLACE_TEST_RUN" --kill
echo "════ test summary ════"
printf '  %s\n' "${summary[@]}"
exit $status
