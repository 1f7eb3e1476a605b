"""The nightly job's last steps, downstream of every mart: the published read-only copies of
the marts for BI tools (:mod:`pipelines.publish`) and the HTML report (:mod:`pipelines.report`).
Both read the warehouse read-only; their paths go into the materialization metadata."""

# (no `from __future__ import annotations`: Dagster reads the context annotation at runtime)

import os
from pathlib import Path

import dagster as dg

from connectors.warehouse import warehouse_path
from pipelines.publish import IncompleteNight, publish_dir, publish_marts
from pipelines.resources import WarehouseResource
from pipelines.transform import dbt_models


def report_dir(env: dict[str, str] | None = None) -> Path:
    """``REPORT_DIR``, default ``report/`` beside the warehouse (``data/report/``)."""
    env = os.environ if env is None else env
    configured = env.get("REPORT_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return warehouse_path(env).parent / "report"


def _beside(db: Path) -> dict[str, str]:
    """The environment with DUCKDB_PATH = ``db``: default folders go beside that file."""
    return {**os.environ, "DUCKDB_PATH": str(db)}


MART_KEYS = sorted((k for k in dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.path)


@dg.asset(key=["published", "marts"], deps=MART_KEYS, group_name="publish", pool="duckdb",
          description="Every mart as Parquet and in a read-only DuckDB file, renamed into place.")
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    db = warehouse.absolute_path   # the file the connectors and dbt wrote (the resource's)
    try:
        published = publish_marts(db, publish_dir(_beside(db)))
    except IncompleteNight as exc:
        # the run fails visibly (and alert_on_run_failure posts it); the files stay as they were
        raise dg.Failure(description=str(exc), allow_retries=False, metadata={
            "missing": dg.MetadataValue.json(exc.missing),
            "kept": str(exc.previous or "nothing published yet")}) from None
    context.log.info("marts published to %s", published.directory)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(published.directory)),
        "duckdb": dg.MetadataValue.path(str(published.database)),
        "tables": len(published.parquet),
        "rows": dg.MetadataValue.json(published.rows),
    })


@dg.asset(key=["report", "attribution_report"], deps=MART_KEYS, group_name="publish", pool="duckdb",
          description="The self-contained HTML attribution report and a CSV per table it shows.")
def attribution_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from pipelines.report import write_report

    db = warehouse.absolute_path
    report = write_report(db, report_dir(_beside(db)))
    context.log.info("report written to %s", report.html)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(report.html)),
        "size_bytes": report.size_bytes,
        "csv_files": len(report.csvs),
    })


report_assets = [published_marts, attribution_report]
