# Borne: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export BORNE_DATABASE_URL ?= sqlite+aiosqlite:///./borne.db

.PHONY: run test install dev lint typecheck layers pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

## Start Borne on its embedded SQLite database with a small demo network.
run: install
	$(BIN)/borne migrate
	$(BIN)/borne demo seed
	$(BIN)/borne run

## Lint, type-check, check the layering and run the whole test suite.
test: dev lint typecheck layers pytest

lint: dev
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: dev
	$(BIN)/mypy

layers: dev
	$(BIN)/lint-imports

pytest: dev
	$(BIN)/pytest $(PYTEST_ARGS)

## Full benchmark (not part of the tests): see benchmarks/README.md.
bench: install dev
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) borne.db borne.db-wal borne.db-shm .mypy_cache .pytest_cache .ruff_cache
