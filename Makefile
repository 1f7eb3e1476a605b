# The README's two commands are `make demo` and `make test`; both set up the environment first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEED ?= 7
SCALE ?= 1

.PHONY: env demo test lint sandbox truth dagster docs bench clean

# One installer, from the lock file. uv itself comes from PyPI when missing; `python -m uv`
# finds it wherever pip put it (user site, pyenv, a venv) without relying on PATH.
$(BIN)/python: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@if command -v uv >/dev/null 2>&1; then uv sync --frozen; else $(PYTHON) -m uv sync --frozen; fi
	@touch $(BIN)/python

# The dbt manifest the Dagster definitions read, prepared here and never at import
# (pipelines/transform.py); parsed again whenever a file of the dbt project changes.
MANIFEST := dbt_project/target/manifest.json
DBT_FILES := dbt_project/dbt_project.yml dbt_project/profiles.yml \
	$(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/snapshots dbt_project/tests -type f 2>/dev/null)

$(MANIFEST): $(BIN)/python $(DBT_FILES)
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	@touch $(MANIFEST)

env: $(BIN)/python $(MANIFEST)

demo: env
	$(BIN)/advocacy demo --seed $(SEED) --scale $(SCALE)

test: env
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/pytest -q

lint: env
	$(BIN)/ruff check connectors pipelines tests

sandbox: env
	$(BIN)/advocacy sandbox serve --seed $(SEED) --scale $(SCALE) --env-file .env.sandbox

truth: env
	$(BIN)/advocacy sandbox truth --seed $(SEED) --scale $(SCALE) --out data/truth.json

# The instance lives in DAGSTER_HOME with the repository's dagster.yaml (one writer: the
# `duckdb` pool and the run queue); dbt must be on PATH for dagster-dbt's prepare_if_dev.
DAGSTER_HOME ?= $(abspath data/dagster)
dagster: env
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1

docs: env
	DUCKDB_PATH=$(abspath data/warehouse.duckdb) $(BIN)/dbt docs generate --project-dir dbt_project --profiles-dir dbt_project

bench: env
	$(BIN)/advocacy bench

clean:
	rm -rf data/ dbt_project/target dbt_project/logs .pytest_cache
