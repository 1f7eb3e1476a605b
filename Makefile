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
# `make test` runs on this many pytest-xdist workers (tests/conftest.py: the tests sharing one
# expensive run stay on one worker); TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

.PHONY: env browser postgres java demo test test-spark lint sandbox truth dagster docs bench bench-lift chaos clean

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

# The report's browser test drives Debian's Chromium (never a browser download of a test
# tool's own). Installed when missing; needs root (as on CI) or an existing /usr/bin/chromium.
browser:
	@test -x /usr/bin/chromium || { \
		echo "installing Debian's chromium for the report's browser test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The portability tests build the dbt project on a throw-away PostgreSQL cluster
# (tests/dbt/postgres_cluster.py): Debian's server package, installed when missing (needs root,
# as on CI, or sudo).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql for the portability tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# The Spark portability test (`make test-spark`) runs pyspark, which needs a Java runtime:
# Debian's openjdk-17-jre-headless, installed when no `java` is on PATH (root or sudo, as above).
java:
	@command -v java >/dev/null 2>&1 || { \
		echo "installing Debian's openjdk-17-jre-headless for the Spark portability test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

$(MANIFEST): $(BIN)/python $(DBT_FILES)
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	@touch $(MANIFEST)

env: $(BIN)/python $(MANIFEST)

# V=1 prints every detail (otherwise in data/demo.log); GA4_SOURCE=bigquery_export reads GA4's
# per-visitor sessions from the sandbox's BigQuery export (default data_api: the Data API)
demo: env
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/advocacy demo --seed $(SEED) --scale $(SCALE) $(if $(V),-v)

test: env browser postgres
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The same dbt project on a local Spark (dbt-spark session mode, Parquet tables), every mart
# compared with DuckDB's (tests/dbt/test_portable_spark.py); a few minutes, so a target of its
# own, which CI (.ci/run) runs after `make test`.
test-spark: env java
	$(BIN)/pytest -q -m spark tests/dbt/test_portable_spark.py

# ruff, and every model transpiled from DuckDB's dialect to Spark's and Postgres' (sqlglot):
# dialect drift shows here before a warehouse sees it (tests/dbt/dialect_lint.py).
lint: env
	$(BIN)/ruff check connectors pipelines tests
	$(BIN)/python tests/dbt/dialect_lint.py

sandbox: env
	$(BIN)/advocacy sandbox serve --seed $(SEED) --scale $(SCALE) --env-file .env.sandbox

truth: env
	$(BIN)/advocacy sandbox truth --seed $(SEED) --scale $(SCALE) --out data/truth.json

# The instance lives in DAGSTER_HOME with the repository's dagster.yaml (one writer: the
# `duckdb` pool and the run queue); dbt must be on PATH for dagster-dbt's prepare_if_dev.
dagster: env
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

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

# `make bench` also runs whole scales end to end as a user would (generate, full sync, dbt build,
# a day later the nightly's incremental sync and build; each step under /usr/bin/time -v):
# pipelines/cli/bench/endtoend.py, figures in docs/PERFORMANCE.md "Scale 100 end to end".
# E2E_SCALES= (empty) skips it; the worlds and warehouses stay in data/endtoend/; the issue's
# targets (scale 100 against scales 1 and 10) are printed at the end.
E2E_SCALES ?= 1 10 100
bench: env
	@test -x /usr/bin/time || { \
		echo "installing Debian's time (GNU time -v) for the end-to-end bench"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq time >/dev/null; }
	$(BIN)/advocacy bench
	@for s in $(E2E_SCALES); do \
		$(BIN)/python -m pipelines.cli.bench.endtoend --scale $$s --workdir data/endtoend/scale$$s --regenerate || exit 1; \
	done
	@if [ -n "$(E2E_SCALES)" ]; then $(BIN)/python -m pipelines.cli.bench.endtoend --targets data/endtoend; fi

# the adjusted advocacy lift's interval coverage across 50 sandbox seeds (docs/LIFT.md); a few
# minutes, so never part of `make test`
bench-lift: env
	$(BIN)/python -m pipelines.cli.bench.lift --seeds 50

# The long chaos run (docs/RELIABILITY.md): nights of syncs under random faults and SIGKILLs,
# each compared with a clean run; CHAOS_MINUTES bounds it (the reduced suite is in `make test`).
# 72 nights of 14 faulted runs: 1,008 runs (about 40 minutes measured, docs/RELIABILITY.md).
CHAOS_MINUTES ?= 90
CHAOS_NIGHTS ?= 72
chaos: env
	@mkdir -p data
	$(BIN)/python -m pipelines.cli.chaos --nights $(CHAOS_NIGHTS) --runs 14 --minutes $(CHAOS_MINUTES) --kill-rate 0.4 --marts-every 10 --json data/chaos.json

clean:
	rm -rf data/ dbt_project/target dbt_project/logs .pytest_cache
