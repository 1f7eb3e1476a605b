"""The Salesforce part of the weekly reconciliation (:mod:`connectors.salesforce_reconcile`).

``salesforce_reconciliation_op`` is the unit the ``reconciliation`` job runs for Salesforce:
records the delete log lost are marked deleted, live records the incremental windows missed
are read by Id, formula fields are refreshed. ``salesforce_reconciliation_job`` runs it alone
and ``salesforce_reconciliation_schedule`` runs that weekly (``RECONCILE_CRON``, default
Sundays 03:00, after the nightly run), so the reconciliation works whether or not another
source's reconciliation job is registered beside it.

A source not configured is skipped (a warning, not a failure); an API stop fails the op with
the connector's message (what was committed is kept).
"""

import os

import dagster as dg

from connectors.salesforce import SalesforceSource
from connectors.source import Progress, Settings, SourceNotConfigured, SourceStopped
from connectors.warehouse import Warehouse

RECONCILE_CRON_DEFAULT = "0 3 * * 0"


@dg.op(name="reconcile_salesforce", pool="duckdb",
       description="Salesforce id-only reconciliation: a queryAll of Ids (and formula fields) "
                   "per object; vanished records marked deleted, missed ones read by Id, "
                   "formula fields refreshed.")
def salesforce_reconciliation_op(context: dg.OpExecutionContext) -> dg.Output:
    settings = Settings.from_environment()
    with Warehouse() as wh:
        try:
            result = SalesforceSource(settings, wh, Progress(quiet=True)).reconcile()
        except SourceNotConfigured as exc:
            context.log.warning(str(exc))
            return dg.Output(None, metadata={"skipped": str(exc)})
        except SourceStopped as exc:
            raise dg.Failure(description=str(exc)) from exc
    metadata: dict = {
        "requests": sum(o.requests for o in result.objects),
        "ids_listed": sum(o.records for o in result.objects),
        "marked_deleted": sum(o.deleted for o in result.objects),
    }
    for o in result.objects:
        metadata[f"{o.object}"] = o.note or "-"
    return dg.Output(None, metadata=metadata)


@dg.job(name="salesforce_reconciliation", executor_def=dg.in_process_executor,
        description="The Salesforce reconciliation alone (see reconcile_salesforce).")
def salesforce_reconciliation_job() -> None:
    salesforce_reconciliation_op()


salesforce_reconciliation_schedule = dg.ScheduleDefinition(
    name="salesforce_reconciliation_schedule",
    job=salesforce_reconciliation_job,
    cron_schedule=os.environ.get("RECONCILE_CRON", RECONCILE_CRON_DEFAULT),
    execution_timezone=os.environ.get("NIGHTLY_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

jobs = [salesforce_reconciliation_job]
schedules = [salesforce_reconciliation_schedule]
