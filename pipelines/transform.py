"""The dbt project as Dagster assets.

dbt sources carry the raw tables' names (``hubspot.contacts`` ...), so dagster-dbt's
default translator gives them the asset keys ``[schema, table]`` of the ingestion assets
and the lineage graph joins up with no extra wiring. :class:`LayeredTranslator` groups the
models by layer (``staging``, ``intermediate``, ``marts``; seeds in ``config``) and takes
owners (``meta.dagster.owners`` in ``dbt_project.yml``) and descriptions from the dbt YAML.

The manifest is prepared at build time, never at import: ``make env`` runs ``dbt parse``
(``dbt_project/target/manifest.json``), and ``dagster dev`` re-parses through
``DbtProject.prepare_if_dev()`` so edits show up on reload. Importing this module outside
``dagster dev`` never runs dbt; without a manifest it fails saying how to make one.

(No `from __future__ import annotations` here: Dagster reads the config annotation at runtime.)
"""

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.dbt_project import using_dagster_dev

from pipelines.dbt_checks import describe_test
from pipelines.partitions import BACKFILL_TAG
from pipelines.resources import WarehouseResource

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
# The dbt of this environment, whether or not the virtualenv is on PATH.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
LAYERS = ("staging", "intermediate", "marts")
# A backfill restates history; the nightly run alone records "as reported" numbers and the
# build log, so a backfill's dbt build leaves these out.
NIGHTLY_ONLY = ("resource_type:snapshot", "run_manifest")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class ManifestMissing(RuntimeError):
    pass


def manifest_is_stale(project: DbtProject = dbt_project) -> bool:
    """No manifest yet, or a project file changed after it was written."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    written = manifest.stat().st_mtime
    root = Path(project.project_dir)
    sources = [root / "dbt_project.yml", root / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "snapshots", "tests"):
        sources.extend(p for p in (root / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > written for p in sources if p.exists())


def prepare_manifest(project: DbtProject = dbt_project) -> Path:
    """``dagster dev``: parse now (dagster-dbt's ``prepare_if_dev``). Anything else: use the
    manifest ``make env`` prepared, and say how to make one when it is missing."""
    if shutil.which("dbt") is None:   # `make dagster` runs .venv/bin/dagster off PATH
        os.environ["PATH"] = os.pathsep.join([str(Path(DBT_EXECUTABLE).parent),
                                              os.environ.get("PATH", "")])
    if using_dagster_dev():
        project.prepare_if_dev()
    elif not project.manifest_path.exists():
        raise ManifestMissing(
            f"the dbt manifest {project.manifest_path} is missing: run `make env` (it runs "
            f"`dbt parse`), or `.venv/bin/dbt parse --project-dir dbt_project --profiles-dir "
            f"dbt_project`")
    elif manifest_is_stale(project):
        # A project edited (or pulled) after `make env`: the old manifest would lack the new
        # models, and the dbt step would fail mapping their events. Parse again, once, here.
        log.warning("the dbt project changed after its manifest was written: parsing it again "
                    "(`make env` does this at build time)")
        started = time.monotonic()
        try:
            project.preparer.prepare(project)
        except Exception as exc:  # noqa: BLE001 - the message names the fix
            raise ManifestMissing(
                f"the dbt manifest {project.manifest_path} is older than the dbt project and "
                f"parsing it again failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}): fix the "
                f"project, then run `make env`") from exc
        log.info("dbt project parsed in %.1f s", time.monotonic() - started)
    return project.manifest_path


class LayeredTranslator(DagsterDbtTranslator):
    """Groups by layer; owners and descriptions come from the dbt YAML (the default
    translator reads ``meta.dagster.owners`` and the description); every dbt-test check gets a
    description of what it guards (pipelines/dbt_checks.py)."""

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):  # noqa: ANN001, ANN201
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id], manifest))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str,
                       project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        group = layer_of(props)
        return spec.replace_attributes(group_name=group) if group else spec


def layer_of(props: Mapping[str, Any]) -> str | None:
    """``staging`` | ``intermediate`` | ``marts`` from the model's folder; seeds are the
    attribution configuration (``config``); snapshots keep reported marts (``marts``)."""
    kind = props.get("resource_type")
    if kind == "seed":
        return "config"
    if kind == "snapshot":
        return "marts"
    if kind == "model":
        fqn = list(props.get("fqn") or [])
        return next((part for part in fqn[1:-1] if part in LAYERS), None)
    return None


class DbtBuildConfig(dg.Config):
    as_of: str = ""             # YYYY-MM-DD; empty = the dbt var's default (yesterday in the reporting time zone)
    run_date: str = ""          # YYYY-MM-DD the run treats as today; empty = the real date
    full_refresh: bool = False


# The nightly production build runs the data tests (they check the data) but not the dbt unit
# tests: those check the SQL against fixed rows, give the same answer every night, and run in
# the test suite (`make test`: tests/dbt), where a change to the project is made.
PRODUCTION_EXCLUDES = ["--exclude-resource-type", "unit_test"]


def dbt_build_args(config: DbtBuildConfig, *, backfill: bool = False) -> list[str]:
    """``dbt build`` arguments of the nightly job (no unit tests: :data:`PRODUCTION_EXCLUDES`).
    A full refresh rebuilds the incremental models from scratch; a backfill's build leaves out
    the snapshots and the run manifest (:data:`NIGHTLY_ONLY`)."""
    args = ["build", *PRODUCTION_EXCLUDES]
    dbt_vars = {k: v for k, v in (("as_of", config.as_of), ("run_date", config.run_date)) if v}
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    if config.full_refresh:
        args.append("--full-refresh")
    if backfill:
        args += ["--exclude", " ".join(NIGHTLY_ONLY)]   # one argument: dbt's union syntax
    return args


# dbt tests on the sources (the raw tables) become asset checks of the ingestion assets too;
# by default dagster-dbt logs each as an observation plus a warning ("AssetObservation instead
# of an AssetCheckResult"), twice.
translator = LayeredTranslator(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))


@dbt_assets(manifest=prepare_manifest(), project=dbt_project, pool="duckdb",
            dagster_dbt_translator=translator)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
               warehouse: WarehouseResource, config: DbtBuildConfig):
    # dbt runs in its project folder and reads DUCKDB_PATH (profiles.yml): the absolute path
    # of the warehouse resource, so dbt opens the file the connectors wrote.
    os.environ["DUCKDB_PATH"] = str(warehouse.absolute_path)
    # Sources that are not configured still get their (empty) raw tables: staging reads them all.
    with warehouse.open() as wh:
        wh.ensure_raw_layer()
    backfill = bool(context.run.tags.get(BACKFILL_TAG))
    yield from dbt.cli(dbt_build_args(config, backfill=backfill), context=context).stream()


dbt_resource = DbtCliResource(
    project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE
)
