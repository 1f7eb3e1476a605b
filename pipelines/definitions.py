"""Dagster definitions: ingestion assets per raw table (GA4's partitioned by day), the dbt
models grouped by layer (dbt tests become asset checks), freshness and data-quality checks,
the nightly job and its schedule, the weekly reconciliation job
(``pipelines/reconciliation.py``) and digest, the alert and freshness sensors, and the resources (every
connection from the environment through ``EnvVar``).

`dagster dev -w workspace.yaml` (or `make dagster`) loads ``defs``; Dagster reads ``.env``
itself. :func:`build_definitions` builds them for another environment (tests).

Another module adds its jobs, schedules or assets by appending a function
``(env) -> dg.Definitions`` to :data:`EXTENSIONS` below; a job that writes the warehouse
takes ``tags=pipelines.jobs.WRITER_TAGS`` so that the run queue keeps it single.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import dagster as dg

from pipelines.alerts import sensors as alert_sensors
from pipelines.checks import (
    data_quality_thresholds,
    freshness_checks,
    freshness_sensor,
    freshness_window,
)
from pipelines.digest import weekly_digest, weekly_digest_schedule
from pipelines.ga4_checks import ga4_checks
from pipelines.ingestion import build_ingestion_assets
from pipelines.jobs import nightly_job, nightly_schedule
from pipelines.partitions import ga4_partitions
from pipelines.reconciliation import reconciliation_job, reconciliation_schedule
from pipelines.report_assets import report_assets
from pipelines.resources import resources_from_environment
from pipelines.transform import dbt_models, dbt_resource

# (env) -> Definitions of another module, merged into these.
EXTENSIONS: list[Callable[[Mapping[str, str]], dg.Definitions]] = []


def build_definitions(env: Mapping[str, str] | None = None) -> dg.Definitions:
    env = dict(os.environ if env is None else env)
    partitions = ga4_partitions(env)
    ingestion = build_ingestion_assets(partitions)
    raw_keys = [key for asset in ingestion for key in asset.keys]
    mart_keys = [spec.key for spec in dbt_models.specs if spec.group_name == "marts"]
    fresh = freshness_checks([*raw_keys, *mart_keys], freshness_window(env))
    job = nightly_job()
    core = dg.Definitions(
        # One process, one step at a time: DuckDB allows a single writing process, and every
        # asset here writes the warehouse (the `duckdb` pool says the same across runs).
        executor=dg.in_process_executor,
        assets=[*ingestion, dbt_models, *report_assets],
        asset_checks=[*fresh, data_quality_thresholds, *ga4_checks],
        resources={"dbt": dbt_resource, **resources_from_environment(env)},
        jobs=[job, weekly_digest, reconciliation_job],
        schedules=[nightly_schedule(job, partitions, env), weekly_digest_schedule,
                   reconciliation_schedule(env)],
        sensors=[*alert_sensors, freshness_sensor(fresh)],
    )
    return dg.Definitions.merge(core, *(extension(env) for extension in EXTENSIONS))


defs = build_definitions()
