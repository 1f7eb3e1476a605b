"""Dagster definitions: ingestion assets per raw table (with their quarantine checks), the
dbt models (dbt tests become asset checks), the nightly job, its schedule, and the alert
sensors (``ALERT_WEBHOOK_URL``).

`dagster dev -w workspace.yaml` loads this module. Connections come from the environment
(`.env` is read by Dagster itself), the same variables the `advocacy` command uses.
"""

from __future__ import annotations

import os

import dagster as dg

from pipelines.alerts import sensors
from pipelines.ga4_checks import ga4_checks
from pipelines.ingestion import ingestion_assets
from pipelines.transform import dbt_models, dbt_resource

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Sync every configured source into the raw layer, then build the marts.",
)

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=os.environ.get("NIGHTLY_CRON", "0 2 * * *"),
    execution_timezone=os.environ.get("NIGHTLY_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

# One process, one step at a time: DuckDB allows a single writing process, and every asset
# here writes the warehouse (the `duckdb` pool says the same to a multi-process executor).
defs = dg.Definitions(
    executor=dg.in_process_executor,
    assets=[*ingestion_assets, dbt_models],
    asset_checks=ga4_checks,
    resources={"dbt": dbt_resource},
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=sensors,
)
