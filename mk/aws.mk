# The aws-mode tier (tests/aws): PLATFORM_ENV=aws against a moto server (127.0.0.1:$(AWS_TIER_MOTO_PORT), never
# the 4569 of `make services-up`) holding the resources of the synthesised CDK app. Part of `make test`.
# Runs in the jobs venv; synthesises the stack with the infra venv (cached in .local/aws-tier/) and executes
# the DAGs' EMR operators with the airflow venv. What it cannot cover offline: docs/aws_mode.md.
export AWS_TIER_MOTO_PORT ?= 4579

.PHONY: test-aws
test-aws: install-jobs install-infra install-airflow install-dbt infra/node_modules/.installed ## The aws-mode tier: producers, lake, Spark (file:// mirror), DynamoDB, EMR job runs and contracts against moto
	TIERS=aws bash scripts/run_tests.sh
