"""The nightly job and its schedule, and the tag every job that writes the warehouse carries.

``WRITER_TAGS`` is what ``dagster.yaml``'s run queue limits to one run at a time
(``tag_concurrency_limits``): give it to any job that writes DuckDB, so a manual run started
from the UI while the schedule's run is going waits in the queue instead of meeting DuckDB's
lock. (Steps also share the ``duckdb`` pool, limited to 1, which covers ad-hoc
materializations too.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

WRITER_TAGS = {"advocacy/warehouse": "write"}


def nightly_job() -> dg.UnresolvedAssetJobDefinition:
    """Every asset; partitioned like GA4's (Dagster infers it from the assets)."""
    return dg.define_asset_job(
        "nightly",
        selection=dg.AssetSelection.all(),
        tags=WRITER_TAGS,
        description="Sync every configured source into the raw layer, then build the marts. "
                    "Its partition is GA4's latest complete day; GA4 syncs incrementally from "
                    "its cursor whatever the partition (backfill older days from the GA4 assets).",
    )


def nightly_schedule(job: dg.UnresolvedAssetJobDefinition, partitions: dg.TimeWindowPartitionsDefinition,
                     env: Mapping[str, str] | None = None) -> dg.ScheduleDefinition:
    """``NIGHTLY_CRON`` in ``NIGHTLY_TIMEZONE`` (default 02:00 UTC), for GA4's latest day."""
    env = os.environ if env is None else env

    @dg.schedule(name="nightly_schedule", job=job,
                 cron_schedule=env.get("NIGHTLY_CRON") or "0 2 * * *",
                 execution_timezone=env.get("NIGHTLY_TIMEZONE") or "UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="The nightly job for the latest complete GA4 day.")
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        keys = partitions.get_partition_keys(current_time=context.scheduled_execution_time)
        key = keys[-1] if keys else None
        if key is None:
            return dg.SkipReason("no complete GA4 day yet since HISTORY_START_DATE")
        return dg.RunRequest(partition_key=key)

    return _schedule


def run_nightly_in_process(defs: dg.Definitions, run_config: Mapping | None = None, *,
                           instance: dg.DagsterInstance | None = None, **kwargs: object
                           ) -> dg.ExecuteInProcessResult:
    """The nightly job in this process, for GA4's latest complete day, as the schedule runs it
    (``advocacy demo`` and the tests)."""
    job = defs.resolve_job_def("nightly")
    key = job.partitions_def.get_last_partition_key() if job.partitions_def else None
    return job.execute_in_process(run_config=run_config, partition_key=key,
                                  instance=instance or dg.DagsterInstance.ephemeral(),
                                  raise_on_error=False, **kwargs)
