# The README's two commands are `make demo` and `make test`; both set up the environment first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SEED ?= 7
SCALE ?= 1

.PHONY: env browser demo test lint sandbox truth dagster docs bench clean

# One installer, from the lock file. uv itself comes from PyPI when missing; `python -m uv`
# finds it wherever pip put it (user site, pyenv, a venv) without relying on PATH.
$(BIN)/python: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@if command -v uv >/dev/null 2>&1; then uv sync --frozen; else $(PYTHON) -m uv sync --frozen; fi
	@touch $(BIN)/python

env: $(BIN)/python

# The report's browser test drives Debian's Chromium (never a browser download of a test
# tool's own). Installed when missing; needs root (as on CI) or an existing /usr/bin/chromium.
browser:
	@test -x /usr/bin/chromium || { \
		echo "installing Debian's chromium for the report's browser test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: env
	$(BIN)/advocacy demo --seed $(SEED) --scale $(SCALE)

test: env browser
	$(BIN)/pytest -q

lint: env
	$(BIN)/ruff check connectors pipelines tests

sandbox: env
	$(BIN)/advocacy sandbox serve --seed $(SEED) --scale $(SCALE) --env-file .env.sandbox

truth: env
	$(BIN)/advocacy sandbox truth --seed $(SEED) --scale $(SCALE) --out data/truth.json

dagster: env
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1

docs: env
	DUCKDB_PATH=$(abspath data/warehouse.duckdb) $(BIN)/dbt docs generate --project-dir dbt_project --profiles-dir dbt_project

bench: env
	$(BIN)/advocacy bench

clean:
	rm -rf data/ dbt_project/target dbt_project/logs .pytest_cache
