# AWS deployment (CDK, Python) in infra/. Offline: synth + cdk-nag + cfn-lint + checkov + tests.
# Online (needs AWS credentials): deploy / diff / destroy. ENV picks cdk.json's environment block.
ENV ?= dev
INFRA_CDK := cd infra && JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 ./node_modules/.bin/cdk
INFRA_OUT = infra/cdk.out/$(ENV)
CHECKOV := $(VENV)/checkov/bin/checkov
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: infra-install infra-synth infra-check deploy diff infra-destroy infra-outputs

infra/node_modules/.installed: infra/package.json infra/package-lock.json
	@command -v npm >/dev/null || { echo "ERROR: npm not found. Install Node.js 20+ (apt-get install nodejs npm)."; exit 1; }
	npm ci --prefix infra --no-audit --no-fund --loglevel=error
	@touch $@

# The transformation Lambda vendors pydantic from the jobs venv, so synth needs install-jobs too.
infra-install: install-infra install-jobs install-checkov infra/node_modules/.installed ## Install the CDK venv, the repo-local CDK CLI (infra/node_modules) and checkov

infra-synth: infra-install ## Synthesize the CDK app for ENV (default dev) into infra/cdk.out/ENV; cdk-nag AwsSolutions runs and fails on findings
	rm -rf $(INFRA_OUT)
	$(INFRA_CDK) synth --quiet -c env=$(ENV) -o cdk.out/$(ENV)
	@echo ">> templates: $$(ls $(INFRA_OUT)/*.template.json | xargs -n1 basename | tr '\n' ' ')"

infra-check: infra-synth ## cdk-nag (in synth) + cfn-lint + checkov on the synthesized templates; fails on any error
	@# cfn-lint exit code is a bit mask: 4 = warnings, 8 = informational; anything else is an error or a crash.
	@rc=0; $(VENV)/infra/bin/cfn-lint $(INFRA_OUT)/*.template.json || rc=$$?; \
	  if [ $$((rc & ~12)) -ne 0 ]; then echo "cfn-lint: errors (exit $$rc)"; exit 1; fi; \
	  echo ">> cfn-lint: no errors (exit $$rc: warnings/informational only)"
	BC_SKIP_MAPPING=TRUE $(CHECKOV) $(addprefix -f ,$(wildcard $(INFRA_OUT)/*.template.json)) \
	  --framework cloudformation --compact --quiet --skip-download
	@echo ">> infra-check passed: cdk-nag, cfn-lint and checkov are clean for ENV=$(ENV)"

# The Makefile's test-infra runs tests/infra; the Lambda asset vendors pydantic from the jobs venv and
# one test runs the repo-local CDK CLI.
test-infra: install-jobs infra/node_modules/.installed

diff: infra-install ## Show what `make deploy ENV=…` would change in the AWS account (needs credentials)
	$(INFRA_CDK) diff --all -c env=$(ENV) -o cdk.out/$(ENV)

deploy: infra-check ## Deploy ENV (dev|prod) to the AWS account in your credentials, then write infra/outputs-ENV.env
	$(INFRA_CDK) deploy --all -c env=$(ENV) -o cdk.out/$(ENV) --require-approval broadening --outputs-file cdk-outputs-$(ENV).json
	$(MAKE) --no-print-directory infra-outputs ENV=$(ENV)

infra-outputs: ## Write infra/outputs-ENV.env (the env vars common/config.py reads) from the last deploy's outputs
	$(INFRA_PY) infra/outputs_to_env.py infra/cdk-outputs-$(ENV).json $(ENV) > infra/outputs-$(ENV).env
	@echo ">> wrote infra/outputs-$(ENV).env: set -a; . infra/outputs-$(ENV).env; set +a"

infra-destroy: infra-install ## Delete ENV's stacks (data buckets/keys/table are RETAINED in prod)
	$(INFRA_CDK) destroy --all -c env=$(ENV) -o cdk.out/$(ENV)
