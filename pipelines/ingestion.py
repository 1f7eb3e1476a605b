"""Ingestion assets: one multi-asset per source, one asset per raw table.

(No `from __future__ import annotations` here: Dagster reads the config annotation at runtime.)

Thin over the plain connectors in ``connectors/``: the asset takes the source's settings and
the warehouse from its resources (``pipelines/resources.py``), runs the sync and reports what
it wrote. Asset keys are ``[schema, table]`` so the dbt sources of the same names attach to
them in the lineage graph with no extra wiring. Every warehouse writer shares the ``duckdb``
pool (DuckDB allows one writing process; ``dagster.yaml`` limits the pool to 1).

GA4 is partitioned by day (:mod:`pipelines.partitions`): the nightly run syncs incrementally
(from the cursor through the property's yesterday, whatever partition it names); a backfill
of a date range (one run per range: ``BackfillPolicy.single_run``) re-reads exactly those
dates and leaves the cursor where the nightly runs put it.
"""

import datetime as dt

import dagster as dg

from connectors import schema as raw
from connectors.registry import SOURCES, source_class
from connectors.settings import sync_memory_limit, validate
from connectors.source import Progress, SourceNotConfigured, SourceStopped, SyncResult
from pipelines.partitions import ga4_partitions, is_backfill
from pipelines.resources import WarehouseResource

SOURCE_SCHEMAS = {"hubspot": "hubspot", "salesforce": "salesforce", "ga4": "ga4",
                  "advocacy_platform": "advocacy_platform"}


QUARANTINE_CHECK = "no_quarantined_rows"


class SyncConfig(dg.Config):
    full_refresh: bool = False


def _object_table(obj: str, schema: str) -> str | None:
    """The raw table a connector's object result belongs to (``Lead`` -> ``salesforce.lead``)."""
    name = raw.snake_case(obj)
    candidates = {t.name for t in raw.tables_of(schema)}
    for guess in (name, name.rstrip("s"), f"{name}s"):
        if guess in candidates:
            return guess
    return None


def _run_sync(context: dg.AssetExecutionContext, source: str, connector: object,
              full_refresh: bool) -> SyncResult:
    """A GA4 backfill re-reads its partitions' dates; every other run is the incremental sync."""
    if source != "ga4":
        return connector.sync(full_refresh=full_refresh)  # type: ignore[attr-defined]
    if is_backfill(context):
        window = context.partition_time_window
        first, last = window.start.date(), window.end.date() - dt.timedelta(days=1)
        context.log.info(f"ga4 backfill: re-reading {first}..{last} (cursor untouched)")
        result = connector.sync_dates(first, last)  # type: ignore[attr-defined]
    else:
        result = connector.sync(full_refresh=full_refresh)  # type: ignore[attr-defined]
    zone = getattr(connector, "time_zone", None)
    partitions_zone = context.assets_def.partitions_def.timezone  # type: ignore[union-attr]
    if zone and zone != partitions_zone:
        context.log.warning(
            f"the GA4 property reports in {zone} but the partitions follow {partitions_zone}: "
            f"set GA4_PROPERTY_TIME_ZONE={zone} so a day's partition appears when GA's day ends")
    return result


def build_ingestion_asset(source: str, ga4_days: dg.PartitionsDefinition | None = None
                          ) -> dg.AssetsDefinition:
    schema = SOURCE_SCHEMAS[source]
    tables = raw.tables_of(schema)
    specs = [
        dg.AssetSpec(
            key=t.asset_key,
            group_name=f"raw_{schema}",
            kinds={"python", "duckdb"},
            description=t.description,
            skippable=True,
        )
        for t in tables
    ]

    # Bad input never fails a sync: it is quarantined and counted. This check (a warning: the
    # run still succeeds, and the alert sensor reports it) says so on the asset that lost it.
    checks = [
        dg.AssetCheckSpec(
            QUARANTINE_CHECK, asset=t.asset_key,
            description=f"The last sync quarantined no {t.qualified} record (rows that could not "
                        f"be loaded are in {schema}._quarantine, with a reason).",
        )
        for t in tables
    ]

    partitioned = source == "ga4"

    @dg.multi_asset(name=f"sync_{source}", specs=specs, check_specs=checks, can_subset=False,
                    pool="duckdb", required_resource_keys={source, "warehouse"},
                    partitions_def=(ga4_days or ga4_partitions()) if partitioned else None,
                    backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None)
    def _sync(context: dg.AssetExecutionContext, config: SyncConfig):
        settings = getattr(context.resources, source).settings()
        # The same validation as `advocacy check` and `advocacy sync`, before any request: a
        # bad value fails the step with the variable and the fix, and is never retried.
        problems = validate(settings.env, [source])
        if problems:
            raise dg.Failure(description="\n".join(p.line() for p in problems),
                             metadata={"invalid settings": [p.variable for p in problems]},
                             allow_retries=False)
        warehouse: WarehouseResource = context.resources.warehouse
        with warehouse.open(memory_limit=sync_memory_limit(settings.env)) as wh:
            for t in tables:   # empty tables even for a source not configured: dbt reads them all
                wh.ensure_table(t)
            try:
                connector = source_class(source)(settings, wh, Progress(quiet=True))
                result = _run_sync(context, source, connector, config.full_refresh)
            except SourceNotConfigured as exc:
                wh.record_source_status(source, "not_configured", settings.redact(str(exc)))
                # Not an error: the company does not use this source. Its tables exist, empty,
                # and are reported as such (a missing output would fail the step, or make the
                # dbt step downstream skip: every source must be optional)
                context.log.warning(str(exc))
                for t in tables:
                    yield dg.MaterializeResult(
                        asset_key=t.asset_key, metadata={"not_configured": str(exc)},
                        check_results=[dg.AssetCheckResult(
                            check_name=QUARANTINE_CHECK, asset_key=t.asset_key, passed=True,
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"quarantined": 0, "not_configured": str(exc)})])
                return
            except SourceStopped as exc:
                wh.record_source_status(source, "failed", settings.redact(str(exc)))
                raise dg.Failure(description=str(exc)) from exc
            except Exception as exc:
                # recorded, so that marts.data_quality names the source missing and since when
                wh.record_source_status(source, "failed",
                                        settings.redact(f"{type(exc).__name__}: {exc}"))
                raise
            wh.record_source_status(source, "ok")
        by_table: dict[str, dict] = {}
        for obj in result.objects:
            table = _object_table(obj.object, schema)
            if table is None:
                continue
            meta = by_table.setdefault(table, {"records": 0, "deleted": 0, "quarantined": 0,
                                               "pages": 0, "seconds": 0.0})
            meta["records"] += obj.records
            meta["deleted"] += obj.deleted
            meta["quarantined"] += obj.quarantined
            meta["pages"] += obj.pages
            meta["seconds"] += obj.seconds
        for t in tables:
            meta = by_table.get(t.name, {})
            quarantined = int(meta.get("quarantined", 0))
            yield dg.MaterializeResult(asset_key=t.asset_key, metadata=meta, check_results=[
                dg.AssetCheckResult(
                    check_name=QUARANTINE_CHECK, asset_key=t.asset_key, passed=quarantined == 0,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"quarantined": quarantined,
                              "where": f"{schema}._quarantine (object, record_id, reason)"},
                )])

    return _sync


def build_ingestion_assets(ga4_days: dg.PartitionsDefinition | None = None
                           ) -> list[dg.AssetsDefinition]:
    """One multi-asset per source, in sync order; GA4's partitioned by ``ga4_days``."""
    return [build_ingestion_asset(name, ga4_days) for name in SOURCES]
