"""The weekly ``reconciliation`` job: records a source no longer has *at all* are marked deleted.

An incremental sync sees what changed and what was archived; it cannot see what vanished
without a trace (HubSpot: GDPR deletes, records purged from the recycle bin after 90 days;
Salesforce: hard deletes and records whose delete log entry was purged before it was read;
see ``docs/API_BEHAVIOUR.md``). Each source's ``reconcile()`` lists the ids it still has (no
properties: the cheapest listing) and marks deleted the live rows it no longer lists;
Salesforce's also reads by Id the live records the incremental windows missed and refreshes
formula fields. The deletes reach the marts at the next nightly build.

Adding a source is one entry in :data:`RECONCILED_SOURCES` (its connector needs a
``reconcile() -> SyncResult`` method). Each source is its own op, so one failing does not stop
the others; they run one at a time in process (DuckDB has a single writer, as in the nightly
job). Schedule: ``RECONCILE_CRON`` (default Sundays 04:00, after the nightly 02:00 run) in
``NIGHTLY_TIMEZONE``. ``advocacy sync --reconcile`` does the same from the command line.
"""

# (No `from __future__ import annotations` here: Dagster reads op annotations at runtime.)

from collections.abc import Mapping

import dagster as dg

from connectors import schema as raw
from connectors.registry import source_class
from connectors.source import Progress, SourceNotConfigured, SourceStopped
from pipelines.jobs import WRITER_TAGS
from pipelines.resources import WarehouseResource

# source name (connectors.registry) -> its raw schema. One entry per reconciled source.
RECONCILED_SOURCES: dict[str, str] = {
    "hubspot": "hubspot",
    "salesforce": "salesforce",
}


def reconcile_op(source: str, schema: str) -> dg.OpDefinition:
    """The op that runs ``source``'s reconciliation and reports, per raw table, how many
    records it marked deleted (an asset materialization, so the lineage shows it)."""

    @dg.op(name=f"reconcile_{source}", pool="duckdb", out={},
           required_resource_keys={source, "warehouse"},
           description=f"Id-only listing of {source}; live rows it no longer lists are marked deleted.")
    def _reconcile(context: dg.OpExecutionContext):
        settings = getattr(context.resources, source).settings()
        warehouse: WarehouseResource = context.resources.warehouse
        with warehouse.open() as wh:
            try:
                result = source_class(source)(settings, wh, Progress(quiet=True)).reconcile()
            except SourceNotConfigured as exc:     # not an error: the company does not use it
                context.log.warning(str(exc))
                return
            except SourceStopped as exc:
                raise dg.Failure(description=settings.redact(str(exc))) from exc
        tables = {t.name for t in raw.tables_of(schema)}
        for obj in result.objects:
            name = raw.snake_case(obj.object)
            meta = {"ids_listed": obj.records, "marked_deleted": obj.deleted,
                    "requests": obj.requests, "seconds": round(obj.seconds, 1)}
            context.log.info(f"{source} {obj.object}: {obj.note}")
            if name in tables:
                yield dg.AssetMaterialization(asset_key=[schema, name], metadata=meta,
                                              description="reconciliation")

    return _reconcile


@dg.job(name="reconciliation", executor_def=dg.in_process_executor, tags=WRITER_TAGS,
        description="Weekly: mark deleted the records each source no longer has at all "
                    "(GDPR deletes, purged records).")
def reconciliation_job() -> None:
    for source, schema in RECONCILED_SOURCES.items():
        reconcile_op(source, schema)()


def reconciliation_schedule(env: Mapping[str, str]) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="reconciliation_schedule",
        job=reconciliation_job,
        cron_schedule=env.get("RECONCILE_CRON") or "0 4 * * 0",
        execution_timezone=env.get("NIGHTLY_TIMEZONE") or "UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Weekly (RECONCILE_CRON, default Sundays 04:00) after the nightly run.",
    )
