"""The dbt project end to end: the real connectors sync the sandbox world into a fresh DuckDB
raw layer, ``dbt build`` (seeds, models, snapshots, data tests and unit tests) runs on it, and
the marts must equal the sandbox truth's ``observable`` part exactly (money to the cent).

One sync and one build per session (module-scoped fixtures); tests that change configuration
work on copies (of the warehouse file and of the project) so they never touch the tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")
CONFIG_PREFIXES = ("HUBSPOT_", "SALESFORCE_", "GA4_", "GOOGLE_APPLICATION_CREDENTIALS",
                   "ADVOCACY_EXPORTS_DIR", "DUCKDB_PATH", "DBT_")
MONEY = 0.01


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update(extra or {})
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_dbt(args: list[str], db: Path, work: Path, project: Path = PROJECT,
            as_of: str | None = None) -> subprocess.CompletedProcess:
    """dbt as users run it (``--project-dir dbt_project --profiles-dir dbt_project``), with
    the build artefacts and logs kept out of the project tree."""
    cmd = [str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
           "--no-use-colors"]
    if as_of:
        cmd += ["--vars", json.dumps({"as_of": as_of})]
    return subprocess.run(cmd, cwd=REPO, env=_env({"DUCKDB_PATH": str(db)}),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def truth(world_store: Path) -> dict:
    from connectors.sandbox.truth import compute_truth

    return compute_truth(world_store)


@pytest.fixture(scope="module")
def raw_warehouse(world_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw layer as the product builds it: ``advocacy sync`` against the sandbox."""
    from connectors.sandbox.server import Sandbox

    base = tmp_path_factory.mktemp("dbt_raw")
    store = base / "store" / "world.sqlite"
    store.parent.mkdir(parents=True)
    shutil.copy2(world_store, store)
    sandbox = Sandbox(store, base / "work")
    sandbox.start()
    try:
        db = base / "raw.duckdb"
        env = _env({**sandbox.env(), "DUCKDB_PATH": str(db)})
        proc = subprocess.run([sys.executable, "-m", "connectors.cli", "sync", "--quiet"],
                              cwd=base, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        sandbox.stop()
    return db


@pytest.fixture(scope="module")
def built(raw_warehouse: Path, truth: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dbt_build")
    db = work / "warehouse.duckdb"
    shutil.copy2(raw_warehouse, db)
    started = time.monotonic()
    proc = run_dbt(["build"], db, work, as_of=truth["meta"]["as_of"])
    return {"db": db, "work": work, "proc": proc, "seconds": time.monotonic() - started}


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


# ---------------------------------------------------------------------------------------------
def test_dbt_build_succeeds_with_unit_and_data_tests(built: dict) -> None:
    proc = built["proc"]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "unit test" in out and "ERROR=0" in out
    results = json.loads((built["work"] / "target" / "run_results.json").read_text())
    kinds = {r["unique_id"].split(".")[0] for r in results["results"]}
    assert {"model", "seed", "test", "unit_test", "snapshot"} <= kinds
    assert all(r["status"] in ("success", "pass") for r in results["results"])
    # a generous bound: a build that slows down tenfold should be noticed, not a slow CI
    assert built["seconds"] < 600, f"dbt build took {built['seconds']:.0f}s"


def test_funnel_equals_truth(built: dict, truth: dict) -> None:
    obs = truth["observable"]
    mart = {(g, str(s), seg): rest for g, s, seg, *rest in query(built["db"], """
        select period_grain, period_start, segment, leads, mqls, sqls, opportunities, won, won_amount
        from marts.funnel_by_segment""")}
    expected_keys = set()
    for row in obs["funnel"]:
        key = (row["period_grain"], row["period_start"], row["segment"])
        expected_keys.add(key)
        got = mart.get(key, [0, 0, 0, 0, 0, 0.0])
        assert got[:5] == [row["leads"], row["mqls"], row["sqls"], row["opportunities"], row["won"]], key
        assert abs(got[5] - row["won_amount"]) <= MONEY, key
    # rows the truth does not list are all-zero (every period shows both segments)
    for key, got in mart.items():
        if key not in expected_keys:
            assert got == [0, 0, 0, 0, 0, 0.0], key


def test_won_revenue_by_segment_equals_truth(built: dict, truth: dict) -> None:
    won = dict(query(built["db"], """
        select segment, sum(won_amount) from marts.funnel_by_segment
        where period_grain = 'quarter' group by segment"""))
    for segment, amount in truth["observable"]["won_revenue_by_segment"].items():
        assert abs(won.get(segment, 0.0) - amount) <= MONEY, segment


def test_attribution_equals_truth(built: dict, truth: dict) -> None:
    att = truth["observable"]["attribution"]
    db = built["db"]
    credits = {(o, t, m): (c, str(d) if d else None, ch, s, a, p) for o, t, m, c, d, ch, s, a, p in query(db, """
        select opportunity_id, touch_id, model, credit, touch_date, channel, segment, advocate_id, post_id
        from marts.attribution_credit""")}
    assert att["credits"], "the truth has a credit sample"
    for row in att["credits"]:
        key = (row["opportunity_id"], row["touch_id"], row["model"])
        assert key in credits, key
        credit, touch_date, channel, segment, advocate, post = credits[key]
        assert abs(credit - row["credit"]) <= 1e-9, key
        assert (channel, segment) == (row["channel"], row["segment"]), key
        assert (advocate, post) == (row.get("advocate_id"), row.get("post_id")), key
        if row.get("touch_date"):
            assert touch_date == row["touch_date"], key
    # the sample is complete per opportunity: no credited touch the truth does not know
    sample = set(att["sample_opportunity_ids"])
    ours = {k for k, v in credits.items() if k[0] in sample and v[0] > 0}
    assert ours == {(r["opportunity_id"], r["touch_id"], r["model"]) for r in att["credits"]}
    for name, column in (("credited_pipeline_by_segment", "credited_pipeline_amount"),
                         ("credited_won_by_segment", "credited_won_amount")):
        got = {(m, s): v for m, s, v in query(db, f"""
            select model, segment, sum({column}) from marts.attribution_credit group by model, segment""")}
        for model, by_segment in att[name].items():
            for segment, amount in by_segment.items():
                assert abs(got.get((model, segment), 0.0) - amount) <= MONEY, (name, model, segment)
    n, unattributed, pipeline, won = query(db, """
        select count(distinct opportunity_id),
               count(distinct case when touch_id = 'unattributed' then opportunity_id end),
               sum(case when model = 'linear' then credited_pipeline_amount end),
               sum(case when model = 'linear' then credited_won_amount end)
        from marts.attribution_credit""")[0]
    assert n == att["opportunities"] and unattributed == att["unattributed_opportunities"]
    assert abs(pipeline - att["pipeline_total"]) <= MONEY and abs(won - att["won_total"]) <= MONEY
    for name, column in (("sourced_pipeline_by_segment", "sourced_pipeline"),
                         ("sourced_won_by_segment", "sourced_won")):
        got = dict(query(db, f"""
            select segment, sum({column}) from marts.pipeline_by_segment
            where period_grain = 'quarter' and model = 'linear' group by segment"""))
        for segment, amount in att[name].items():
            assert abs(got.get(segment, 0.0) - amount) <= MONEY, (name, segment)
    infl = att["influenced"]
    got = query(db, """
        select count(*), sum(amount), sum(won_amount) from intermediate.int_opportunity_summary
        where is_advocacy_influenced""")[0]
    assert got[0] == infl["opportunities"]
    assert abs(got[1] - infl["pipeline"]) <= MONEY and abs(got[2] - infl["won"]) <= MONEY


def test_advocates_equal_truth(built: dict, truth: dict) -> None:
    adv = truth["observable"]["advocates"]
    fields = ("clicks", "engagements", "posts", "sessions", "leads_sourced")
    rows = query(built["db"], f"""
        select advocate_id, cast(period_start as varchar), {', '.join(fields)}
        from marts.advocate_leaderboard where period_grain = 'quarter'""")
    by_q = {(a, q): dict(zip(fields, v, strict=True)) for a, q, *v in rows}
    expected = {(r["advocate_id"], r["period_start"]): {f: r[f] for f in fields} for r in adv["by_quarter"]}
    for key, values in expected.items():
        assert by_q.get(key, dict.fromkeys(fields, 0)) == values, key
    for key, values in by_q.items():
        assert key in expected or not any(values.values()), key
    totals: dict[str, dict[str, int]] = {}
    for (a, _), values in by_q.items():
        t = totals.setdefault(a, dict.fromkeys(fields, 0))
        for f in fields:
            t[f] += values[f]
    for a, values in adv["all_time"].items():
        assert totals.get(a, dict.fromkeys(fields, 0)) == values, a


def test_reps_equal_truth(built: dict, truth: dict) -> None:
    mart = {(r, str(q)): (quota, won, att) for r, q, quota, won, att in query(built["db"], """
        select rep_id, period_start, quota_amount, won_amount, attainment from marts.rep_quota_vs_advocacy""")}
    for row in truth["observable"]["reps"]:
        key = (row["rep_id"], row["period_start"])
        assert key in mart, key
        quota, won, attainment = mart[key]
        if row["quota_amount"] is None:
            assert quota is None, key
        else:
            assert abs(quota - row["quota_amount"]) <= MONEY, key
        assert abs(won - row["won_amount"]) <= MONEY, key
        if row["attainment"] is None:
            assert attainment is None, key
        else:
            assert abs(attainment - row["attainment"]) <= 1e-6, key


def test_segments_and_identity_equal_truth(built: dict, truth: dict) -> None:
    seg = truth["observable"]["segments"]
    db = built["db"]
    assert query(db, "select count(*) from intermediate.int_people")[0][0] == seg["people"]
    got = {(s, b): n for s, b, n in query(db, """
        select segment, segment_basis, count(*) from intermediate.int_person_segments group by all""")}
    assert got == {(r["segment"], r["segment_basis"]): r["people"] for r in seg["by_segment_basis"]}


def test_marts_hold_no_lead_emails_or_names(built: dict) -> None:
    db = built["db"]
    emails = {e for (e,) in query(db, "select email_normalized from intermediate.int_person_records where email_normalized is not null")}
    assert emails
    # Full names of leads and contacts; employees (reps, advocates) are named on purpose.
    employees = {n.lower() for (n,) in query(db, """
        select name from salesforce.user union select advocate_name from advocacy_platform.posts""") if n}
    lead_names = {n.lower() for (n,) in query(db, """
        select firstname || ' ' || lastname from hubspot.contacts
        union select first_name || ' ' || last_name from salesforce.lead
        union select first_name || ' ' || last_name from salesforce.contact""") if n} - employees
    assert lead_names
    tables = [t for (t,) in query(db, "select table_name from information_schema.tables where table_schema = 'marts'")]
    for table in tables:
        cols = [c for (c,) in query(db, f"""select column_name from information_schema.columns
                                            where table_schema = 'marts' and table_name = '{table}'
                                              and data_type = 'VARCHAR'""")]
        for col in cols:
            values = {str(v).lower() for (v,) in query(db, f'select distinct "{col}" from marts."{table}"') if v}
            assert not (values & emails), f"marts.{table}.{col} holds lead emails"
            assert not (values & lead_names), f"marts.{table}.{col} holds lead names"


def test_run_manifest_records_the_build(built: dict, truth: dict) -> None:
    rows = query(built["db"], "select as_of, config_hash, dbt_version, funnel_by_segment_rows from marts.run_manifest")
    assert len(rows) == 1
    as_of, config_hash, version, funnel_rows = rows[0]
    assert str(as_of) == truth["meta"]["as_of"] and len(config_hash) == 32 and version.startswith("1.11")
    assert funnel_rows == query(built["db"], "select count(*) from marts.funnel_by_segment")[0][0]


def test_docs_generate(built: dict) -> None:
    proc = run_dbt(["docs", "generate"], built["db"], built["work"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    catalog = json.loads((built["work"] / "target" / "catalog.json").read_text())
    assert "model.advocacy_attribution.funnel_by_segment" in catalog["nodes"]


def test_switching_the_advocacy_rules_off_changes_the_numbers(built: dict, raw_warehouse: Path,
                                                              truth: dict, tmp_path: Path) -> None:
    """Configuration is data: with no advocacy rule, nobody is advocacy-sourced."""
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    rules = project / "seeds" / "advocacy_utm_rules.csv"
    rules.write_text(rules.read_text().splitlines()[0] + "\n")
    db = tmp_path / "warehouse.duckdb"
    shutil.copy2(raw_warehouse, db)
    proc = run_dbt(["build", "--select", "+funnel_by_segment", "+run_manifest", "--exclude",
                    "test_type:unit"], db, tmp_path, project=project, as_of=truth["meta"]["as_of"])
    assert proc.returncode == 0, proc.stdout[-4000:]
    before = query(built["db"], "select sum(leads) from marts.funnel_by_segment where period_grain='month' and segment='advocacy'")[0][0]
    after = query(db, "select sum(leads) from marts.funnel_by_segment where period_grain='month' and segment='advocacy'")[0][0]
    assert before > 0 and after == 0
    hashes = {query(d, "select config_hash from marts.run_manifest")[0][0] for d in (db, built["db"])}
    assert len(hashes) == 2, "the seed change shows in the configuration hash"
