"""The Dagster definitions as revenue ops read them: assets grouped by layer with owners and
descriptions, invariants on the marts they protect, connections as EnvVar resources, GA4 by
day, freshness and data-quality checks, and a manifest prepared before import."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from connectors import schema as raw

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from pipelines.definitions import build_definitions

    return build_definitions({"HISTORY_START_DATE": "2025-07-01",
                              "GA4_PROPERTY_TIME_ZONE": "America/New_York",
                              "HUBSPOT_ACCESS_TOKEN": "pat-secret", "DUCKDB_PATH": "/tmp/x.duckdb"})


def test_dbt_assets_are_grouped_by_layer_with_owners_and_descriptions(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert {"staging", "intermediate", "marts", "config"} <= set(groups)
    assert "default" not in groups
    assert "staging/stg_hubspot__contacts" in groups["staging"]
    assert "intermediate/int_touches" in groups["intermediate"]
    assert "marts/funnel_by_segment" in groups["marts"]
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    mart = specs[dg.AssetKey(["marts", "funnel_by_segment"])]
    assert mart.owners == ["team:revenue-ops"]
    assert mart.description and "segment" in mart.description
    assert specs[dg.AssetKey(["staging", "stg_hubspot__contacts"])].owners == ["team:data-engineering"]


def test_cross_model_invariants_are_checks_on_the_marts_they_protect(defs: dg.Definitions) -> None:
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert {("marts/attribution_credit", "assert_credit_sums_to_one"),
            ("marts/attribution_credit", "assert_no_fan_out"),
            ("marts/pipeline_by_segment", "assert_credited_totals_equal_pipeline"),
            ("marts/funnel_by_segment", "assert_segments_add_up"),
            ("marts/funnel_by_segment", "assert_stages_monotone")} <= checks


def test_every_raw_table_and_mart_has_a_freshness_check_and_data_quality_has_its_thresholds(
        defs: dg.Definitions) -> None:
    from pipelines.checks import DATA_QUALITY_CHECKS

    graph = defs.resolve_asset_graph()
    checks = graph.asset_check_keys
    marts = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "marts"]
    assert len(marts) >= 11
    for key in [dg.AssetKey(t.asset_key) for t in raw.TABLES.values()] + marts:
        assert dg.AssetCheckKey(key, "freshness_check") in checks, key
    for name in DATA_QUALITY_CHECKS:
        assert dg.AssetCheckKey(dg.AssetKey(["marts", "data_quality"]), name) in checks
    assert "freshness_checks_sensor" in {s.name for s in defs.sensors or []}


def test_connections_are_env_var_resources(defs: dg.Definitions) -> None:
    from pipelines.resources import HubSpotResource, WarehouseResource

    hubspot = defs.resources["hubspot"]
    assert isinstance(hubspot, HubSpotResource)
    # bound to the variable, not to its value: the UI and the run config show the name only
    assert hubspot.access_token == dg.EnvVar("HUBSPOT_ACCESS_TOKEN")
    assert "pat-secret" not in repr(hubspot)
    assert hubspot.base_url is None            # not set: the connector uses its default
    assert isinstance(defs.resources["warehouse"], WarehouseResource)
    for source in ("salesforce", "ga4", "advocacy_platform"):
        assert source in defs.resources
    settings = HubSpotResource(access_token="t", base_url="http://x").settings()
    assert settings.get("HUBSPOT_ACCESS_TOKEN") == "t" and settings.get("HUBSPOT_BASE_URL") == "http://x"


def test_asset_bodies_take_connections_from_resources_not_the_environment() -> None:
    for module in ("ingestion", "checks"):   # (transform only hands dbt the resource's path)
        text = (ROOT / "pipelines" / f"{module}.py").read_text()
        assert "os.environ.get" not in text and "Settings.from_environment" not in text, module


def test_ga4_is_partitioned_by_day_from_the_history_start_in_the_property_time_zone(
        defs: dg.Definitions) -> None:
    ga4 = defs.resolve_assets_def(dg.AssetKey(["ga4", "visitor_sessions"]))
    days = ga4.partitions_def
    assert isinstance(days, dg.DailyPartitionsDefinition)
    assert days.timezone == "America/New_York"
    assert days.get_first_partition_key() == "2025-07-01"
    assert ga4.backfill_policy == dg.BackfillPolicy.single_run()
    # the other sources stay unpartitioned; the nightly job asks for GA4's latest day
    assert defs.resolve_assets_def(dg.AssetKey(["hubspot", "contacts"])).partitions_def is None
    schedule = defs.resolve_schedule_def("nightly_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 3, 10, 2, tzinfo=dt.UTC),
        repository_def=defs.get_repository_def())
    (request,) = list(schedule.evaluate_tick(context).run_requests or [])
    assert request.partition_key == "2026-03-08"   # 21:00 on the 9th in New York: not complete


def test_a_backfill_builds_the_marts_without_snapshots_or_a_run_manifest_row() -> None:
    from pipelines.transform import DbtBuildConfig, dbt_build_args

    nightly = dbt_build_args(DbtBuildConfig(as_of="2026-06-30"), backfill=False)
    no_unit_tests = ["--exclude-resource-type", "unit_test"]
    assert nightly == ["build", *no_unit_tests, "--vars", '{"as_of": "2026-06-30"}']
    backfill = dbt_build_args(DbtBuildConfig(), backfill=True)
    assert backfill == ["build", *no_unit_tests, "--exclude", "resource_type:snapshot run_manifest"]
    assert "--full-refresh" in dbt_build_args(DbtBuildConfig(full_refresh=True), backfill=False)


def test_importing_the_definitions_never_runs_dbt() -> None:
    """Outside `dagster dev` the manifest `make env` prepared is read as it is: any dbt
    process started during the import fails this test."""
    guard = (
        "import subprocess\n"
        "real = subprocess.Popen.__init__\n"
        "def popen(self, args, *a, **k):\n"
        "    if 'dbt' in ' '.join(map(str, args if isinstance(args, (list, tuple)) else [args])):\n"
        "        raise SystemExit('dbt started during import: ' + str(args))\n"
        "    real(self, args, *a, **k)\n"
        "subprocess.Popen.__init__ = popen\n"
        "import pipelines.definitions as d\n"
        "print(len(d.defs.resolve_asset_graph().get_all_asset_keys()))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "DAGSTER_IS_DEV_CLI"}
    done = subprocess.run([sys.executable, "-c", guard], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 60


def test_a_missing_manifest_says_how_to_prepare_it(tmp_path: Path) -> None:
    from dagster_dbt import DbtProject

    from pipelines.transform import ManifestMissing, prepare_manifest

    for name in ("dbt_project.yml", "profiles.yml"):
        (tmp_path / name).write_text((ROOT / "dbt_project" / name).read_text())
    with pytest.raises(ManifestMissing, match="make env"):
        prepare_manifest(DbtProject(project_dir=tmp_path))


def _tiny_project(root: Path) -> Path:
    (root / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0.0'\nprofile: tiny\nmodel-paths: [models]\n")
    (root / "profiles.yml").write_text(
        f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'tiny.duckdb'}\n")
    (root / "models").mkdir()
    (root / "models" / "first.sql").write_text("select 1 as x\n")
    return root


def test_a_stale_manifest_is_parsed_again_and_a_broken_project_says_so(tmp_path: Path) -> None:
    # after a `git pull` without `make env`, the old manifest lacks the new models and the dbt
    # step used to fail mapping their events (KeyError): the definitions parse again instead
    import json
    import os
    import time

    from dagster_dbt import DbtProject

    from pipelines.transform import ManifestMissing, manifest_is_stale, prepare_manifest

    project = DbtProject(project_dir=_tiny_project(tmp_path))
    manifest = project.manifest_path
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"nodes": {}}))
    old = time.time() - 60
    os.utime(manifest, (old, old))
    assert manifest_is_stale(project)
    prepare_manifest(project)
    nodes = json.loads(manifest.read_text())["nodes"]
    assert "model.tiny.first" in nodes and not manifest_is_stale(project)

    (tmp_path / "models" / "second.yml").write_text("version: 2\nmodels: [name: {\n")
    with pytest.raises(ManifestMissing, match="parsing it again failed.*make env"):
        prepare_manifest(project)


def test_data_quality_rows_above_threshold_fail_their_check() -> None:
    from pipelines.checks import DATA_QUALITY_CHECKS, data_quality_results

    rows = [("identity_match_rate", "crm", 0.8, 0.5, "pass", "ok"),
            ("quarantined_rows", "hubspot", 3.0, 0.0, "warn", "reason: bad email"),
            ("quarantined_rows", "salesforce", 0.0, 0.0, "pass", "reason: none"),
            ("deleted_records", "hubspot.contacts", 4.0, None, "info", "")]
    results = {r.check_name: r for r in data_quality_results(rows)}
    assert set(results) == set(DATA_QUALITY_CHECKS)
    assert results["identity_match_rate"].passed
    failed = results["quarantined_rows"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
    assert "hubspot: reason: bad email" in (failed.description or "")
    assert results["unclassified_utms"].passed     # no row: nothing above its threshold


def test_every_connection_variable_reaches_its_connector(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each variable a connector reads is a resource field, and a run hands its value (bound
    through EnvVar, resolved in the run) to the connector's settings unchanged."""
    import re

    from pipelines.resources import SOURCE_RESOURCES, resources_from_environment

    bound = {var for cls in SOURCE_RESOURCES.values() for var in cls.variables().values()}
    read = set()
    for path in (ROOT / "connectors").glob("*.py"):
        read |= set(re.findall(r'"((?:HUBSPOT|SALESFORCE|GA4|GOOGLE|ADVOCACY)_[A-Z_]*[A-Z])"',
                               path.read_text()))
    read |= {f"HUBSPOT_EXTRA_PROPERTIES_{t}" for t in ("CONTACTS", "COMPANIES", "DEALS")}
    assert read - {"HUBSPOT_EXTRA_PROPERTIES"} <= bound, read - bound

    env = {var: f"value of {var}" for var in bound} | {"HISTORY_START_DATE": "2025-01-01"}
    env |= {"DUCKDB_PATH": str(tmp_path / "wh.duckdb"), "DUCKDB_LOCK_WAIT_SECONDS": "7"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, object] = {}

    @dg.asset(required_resource_keys={*SOURCE_RESOURCES, "warehouse"})
    def probe(context) -> None:  # (unannotated: this module postpones annotations)
        for name in SOURCE_RESOURCES:
            seen[name] = dict(getattr(context.resources, name).settings().env)
        with context.resources.warehouse.open() as wh:
            seen["warehouse"] = str(wh.path)

    assert dg.materialize([probe], resources=resources_from_environment()).success
    for name, cls in SOURCE_RESOURCES.items():
        assert seen[name] == {var: env[var] for var in cls.variables().values()}, name
    assert seen["warehouse"] == env["DUCKDB_PATH"]


def test_only_a_run_of_the_latest_ga4_day_syncs_incrementally() -> None:
    """The nightly run (latest day) syncs from the cursor; a backfill, or a run of an older
    day or of a range, re-reads exactly its days."""
    from pipelines.partitions import is_backfill

    days = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    seen: list[bool] = []

    @dg.asset(partitions_def=days)
    def ga4(context) -> None:  # (unannotated: this module postpones annotations)
        seen.append(is_backfill(context))

    latest = days.get_last_partition_key()
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([ga4], partition_key=latest, instance=instance)
    dg.materialize([ga4], partition_key="2026-02-01", instance=instance)
    dg.materialize([ga4], partition_key=latest, instance=instance, tags={"dagster/backfill": "b1"})
    dg.materialize([ga4], instance=instance, tags={
        "dagster/asset_partition_range_start": "2026-02-01",
        "dagster/asset_partition_range_end": latest})
    assert seen == [False, True, True, True]


def test_every_variable_a_connector_reads_is_bound_by_a_resource() -> None:
    """Dagster hands a connector only the variables its resource holds: a variable a connector
    reads but no resource binds would work from the command line and be ignored by the
    nightly job."""
    import re
    from pathlib import Path

    from pipelines import resources

    pattern = re.compile(r'"((?:HUBSPOT|SALESFORCE|GA4|GOOGLE|ADVOCACY|HTTPS?|NO|REQUESTS|SSL)_[A-Z0-9_]*[A-Z0-9])"')
    connectors = Path(resources.__file__).resolve().parents[1] / "connectors"
    read = {v for f in connectors.glob("*.py") for v in pattern.findall(f.read_text())}
    bound = {v for cls in vars(resources).values()
             if isinstance(cls, type) and issubclass(cls, resources.SourceResource)
             for v in cls.variables().values()}
    assert read and not read - bound, sorted(read - bound)
