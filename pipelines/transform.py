"""The dbt project as Dagster assets.

dbt sources carry the raw tables' names (``hubspot.contacts`` ...), so dagster-dbt's
default translator gives them the asset keys ``[schema, table]`` of the ingestion assets
and the lineage graph joins up with no extra wiring.

(No `from __future__ import annotations` here: Dagster reads the config annotation at runtime.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.dbt_project import using_dagster_dev

from connectors.warehouse import Warehouse, warehouse_path
from pipelines.dbt_checks import describe_test

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
# The dbt of this environment, whether or not the virtualenv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

# dbt runs with its project folder as working directory: the warehouse path must be absolute
# so that dbt, Dagster and the connectors open the same file.
os.environ["DUCKDB_PATH"] = str(warehouse_path())

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _manifest_is_stale() -> bool:
    """No manifest yet, or a project file changed after it was written."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "snapshots", "tests"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > written for p in sources if p.exists())


if using_dagster_dev() or _manifest_is_stale():
    # A fresh clone has no manifest, an edited project a stale one, and `dagster dev` wants
    # the latest: parse (a few seconds) with this environment's dbt, which need not be on PATH.
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True, cwd=DBT_PROJECT_DIR,
    )


class DbtBuildConfig(dg.Config):
    as_of: str = ""             # YYYY-MM-DD; empty = the dbt var's default (yesterday in the reporting time zone)
    run_date: str = ""          # YYYY-MM-DD the run treats as today; empty = the real date
    full_refresh: bool = False


# The nightly production build runs the data tests (they check the data) but not the dbt unit
# tests: those check the SQL against fixed rows, give the same answer every night, and run in
# the test suite (`make test`: tests/dbt), where a change to the project is made.
PRODUCTION_EXCLUDES = ["--exclude-resource-type", "unit_test"]


def dbt_build_args(config: DbtBuildConfig) -> list[str]:
    """The ``dbt build`` arguments of the nightly job."""
    args = ["build", *PRODUCTION_EXCLUDES]
    dbt_vars = {k: v for k, v in (("as_of", config.as_of), ("run_date", config.run_date)) if v}
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    if config.full_refresh:
        args.append("--full-refresh")
    return args


# dbt tests on the sources (the raw tables) become asset checks of the ingestion assets too;
# by default dagster-dbt logs each as an observation plus a warning ("AssetObservation instead
# of an AssetCheckResult"), twice. Singular tests reading several models name their mart in
# their dbt meta (dbt_project/tests/invariants) for the same reason.
class _Translator(DagsterDbtTranslator):
    """dagster-dbt's defaults, plus a description on every dbt-test check (pipelines/dbt_checks.py)."""

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):  # noqa: ANN001, ANN201
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id], manifest))


translator = _Translator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, pool="duckdb",
            dagster_dbt_translator=translator)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    # Sources that are not configured still get their (empty) raw tables: staging reads them all.
    with Warehouse() as wh:
        wh.ensure_raw_layer()
    yield from dbt.cli(dbt_build_args(config), context=context).stream()


dbt_resource = DbtCliResource(
    project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE
)
