# The README's two commands are `make demo` and `make test`; both set up the environment first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEED ?= 7
SCALE ?= 1
# The Dagster instance `make demo` records its run in and `make dagster` shows: one folder,
# kept across runs (a DAGSTER_HOME of your own wins).
DAGSTER_HOME ?= $(abspath data/dagster)
PORT ?= 3000

.PHONY: env demo test lint sandbox truth dagster docs bench clean

# One installer, from the lock file. uv itself comes from PyPI when missing; `python -m uv`
# finds it wherever pip put it (user site, pyenv, a venv) without relying on PATH.
$(BIN)/python: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@if command -v uv >/dev/null 2>&1; then uv sync --frozen; else $(PYTHON) -m uv sync --frozen; fi
	@touch $(BIN)/python

env: $(BIN)/python

# V=1 prints every detail (otherwise in data/demo.log)
demo: env
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/advocacy demo --seed $(SEED) --scale $(SCALE) $(if $(V),-v)

test: env
	$(BIN)/pytest -q

lint: env
	$(BIN)/ruff check connectors pipelines tests

sandbox: env
	$(BIN)/advocacy sandbox serve --seed $(SEED) --scale $(SCALE) --env-file .env.sandbox

truth: env
	$(BIN)/advocacy sandbox truth --seed $(SEED) --scale $(SCALE) --out data/truth.json

dagster: env
	@mkdir -p $(DAGSTER_HOME)
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

# Builds the dbt documentation site into dbt_project/target and says how to open it; SERVE=1
# serves it on loopback (DOCS_PORT, default 8080) until interrupted.
DOCS_PORT ?= 8080
docs: env
	@mkdir -p data
	DUCKDB_PATH=$(abspath data/warehouse.duckdb) $(BIN)/dbt docs generate --static --quiet --project-dir dbt_project --profiles-dir dbt_project
	@echo "dbt docs: every model and mart column described (column types from data/warehouse.duckdb once built)."
ifeq ($(SERVE),)
	@echo "Open $(abspath dbt_project/target/static_index.html) in a browser (one file, works offline),"
	@echo "or run: make docs SERVE=1   (serves http://127.0.0.1:$(DOCS_PORT) until Ctrl-C; DOCS_PORT=... for another port)"
else
	$(BIN)/dbt docs serve --project-dir dbt_project --profiles-dir dbt_project --host 127.0.0.1 --port $(DOCS_PORT) --no-browser
endif

bench: env
	$(BIN)/advocacy bench

clean:
	rm -rf data/ dbt_project/target dbt_project/logs .pytest_cache
