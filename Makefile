# zkstash: `make demo` runs the end-to-end demo, `make test` runs lint and the whole test suite.
# Both install what they need first (apt packages, .venv, pinned pip packages), idempotently.
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: deps demo test lint format crds bench clean

deps:
	@bash scripts/bootstrap.sh

demo: deps
	$(PY) -m tests.standin.demo

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(PY) -m pytest -n 2 --reliability-report=docs/reliability.md $(PYTEST_ARGS)

crds: deps
	$(PY) -m schemas.crdgen manifests/crds

bench: deps
	$(PY) -m bench.bench_executor
	$(PY) -m bench.bench_hooks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
