"""The hostile-input corpus (tests/hostile/corpus.py, docs/RELIABILITY.md "Hostile inputs") run
as a user runs the product: every case is a record of its own in a copy of the sandbox world,
served by the fakes (HubSpot and Salesforce JSON, the advocacy CSV exports), read by
``advocacy sync`` and built by ``dbt build``. Each case must have its outcome, and nothing else
may differ from a clean sync of the same world: the raw layer and every staging model, record
for record.

One hostile sync, one clean sync, one ``dbt build`` and one staging-only ``dbt run`` for all
cases together (about a minute on an idle 2-core machine).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "dbt"))
import corpus  # noqa: E402
from test_dbt_project import _env, run_dbt  # noqa: E402

from connectors.schema import snake_case  # noqa: E402

pytestmark = pytest.mark.slow
CASES = corpus.cases()
STATUS_CHANGED = dt.date(2026, 3, 9)        # the LeadHistory change corpus.inject writes


def _sync(store: Path, work: Path, db: Path) -> subprocess.CompletedProcess:
    from connectors.sandbox.server import Sandbox

    sandbox = Sandbox(store, work)
    sandbox.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync", "--quiet"],
                              cwd=work, env=_env({**sandbox.env(), "DUCKDB_PATH": str(db)}),
                              capture_output=True, text=True, timeout=600)
    finally:
        sandbox.stop()
    return proc


@pytest.fixture(scope="module")
def corpus_run(world_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    import sqlite3

    started, cpu_started = time.monotonic(), _cpu_seconds()
    base = tmp_path_factory.mktemp("hostile")
    runs = {}
    for name in ("clean", "hostile"):
        (base / name).mkdir()
        store = base / name / "world.sqlite"
        shutil.copy2(world_store, store)
        if name == "hostile":
            corpus.inject(store, CASES)
        db = base / name / "warehouse.duckdb"
        runs[f"{name}_sync"] = _sync(store, base / name, db)
        runs[name] = db
    with sqlite3.connect(world_store) as conn:
        (clock,) = conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()
    as_of = (dt.date.fromisoformat(clock.strip('"')) - dt.timedelta(days=1)).isoformat()
    build = run_dbt(["build"], runs["hostile"], base / "hostile", as_of=as_of, nightly=True)
    staging = run_dbt(["run", "--select", "staging"], runs["clean"], base / "clean", as_of=as_of)
    return {**runs, "build": build, "staging": staging, "seconds": time.monotonic() - started,
            "cpu_seconds": _cpu_seconds() - cpu_started}


def _cpu_seconds() -> float:
    """CPU time of this process (the fakes' threads) and its finished children (the syncs and
    dbt): what the corpus costs whatever else the machine is doing."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def _column(c: corpus.Case) -> str:
    return c.field.lower() if c.source == "hubspot" else snake_case(c.field)


_RAW = {("hubspot", "deals"): "hubspot.deals", ("hubspot", "contacts"): "hubspot.contacts",
        ("hubspot", "companies"): "hubspot.companies", ("hubspot", "owners"): "hubspot.owners",
        ("salesforce", "Opportunity"): "salesforce.opportunity", ("salesforce", "Lead"): "salesforce.lead",
        ("salesforce", "Account"): "salesforce.account",
        ("salesforce", "ForecastingQuota"): "salesforce.forecasting_quota",
        ("advocacy_platform", "posts"): "advocacy_platform.posts"}


def _raw_key(c: corpus.Case) -> str:
    return "post_id" if c.source == "advocacy_platform" else "id"


def _outcome_problem(c: corpus.Case, db: Path) -> str | None:
    """Why case ``c`` did not get its outcome in warehouse ``db`` (None when it did)."""
    schema = "advocacy_platform" if c.source == "advocacy_platform" else c.source
    table = _RAW.get((c.source, c.object))
    quarantined = _rows(db, f"SELECT reason FROM {schema}._quarantine WHERE record_id = ?", [c.record_id])
    if c.outcome == "quarantined":
        stored = _rows(db, f"SELECT count(*) FROM {table} WHERE {_raw_key(c)} = ?", [c.record_id])[0][0]
        if stored:
            return f"stored in {table} instead of quarantined"
        if not any(c.expect in r for (r,) in quarantined):
            return f"quarantine reasons {quarantined}, expected one containing {c.expect!r}"
        return None
    if quarantined:
        return f"quarantined: {quarantined}"
    if c.cls == "label" and c.object == "LeadHistory":
        (row,) = _rows(db, "SELECT s.mql_date, s.sql_date FROM intermediate.int_person_stages s "
                           "JOIN intermediate.int_person_records r ON r.person_key = s.person_key "
                           "WHERE r.record_key = ?", ["sf_lead:" + c.record_id]) or [(None, None)]
        mql, sql = row
        want = (STATUS_CHANGED, None) if c.expect == "mql" else (STATUS_CHANGED, STATUS_CHANGED)
        return None if (mql, sql) == want else f"stages (mql, sql) = {(mql, sql)}, expected {want}"
    if c.cls == "label":
        got = _rows(db, "SELECT lifecycle_stage FROM staging.stg_hubspot__contacts WHERE contact_id = ?",
                    [c.record_id])
        return None if got == [(c.expect,)] else f"lifecycle_stage {got}, expected {c.expect!r}"
    if c.cls == "email":
        model, key = (("stg_hubspot__contacts", "contact_id") if c.source == "hubspot"
                      else ("stg_salesforce__leads", "lead_id"))
        got = _rows(db, f"SELECT email_normalized FROM staging.{model} WHERE {key} = ?", [c.record_id])
        return None if got == [(c.expect,)] else f"email_normalized {got}, expected {c.expect!r}"
    if c.cls == "date" and c.object in ("Opportunity", "deals"):
        oid = c.record_id if c.source == "salesforce" else f"hubspot:{c.record_id}"
        got = _rows(db, "SELECT cycle_days, is_won FROM intermediate.int_opportunity_summary "
                        "WHERE opportunity_id = ?", [oid])
        # an undated deal cannot be placed before as_of: not won (and counted as unparsable)
        want = (None, c.expect != "unparsable_deal_dates")
        return None if got == [want] else f"(cycle_days, is_won) {got}, expected {want}"
    if c.cls == "date":
        got = _rows(db, "SELECT count(*) FROM staging.stg_hubspot__contacts WHERE contact_id = ? "
                        "AND lifecyclestage_mql_at IS NULL", [c.record_id])
        return None if got == [(1,)] else "contact missing from staging or the date read as a date"
    value = _rows(db, f"SELECT {_column(c)} FROM {table} WHERE {_raw_key(c)} = ?", [c.record_id])
    if value != [(c.expect,)]:
        return f"{table}.{_column(c)} = {value}, expected {c.expect!r}"
    repaired = _rows(db, f"SELECT reason FROM {schema}._repaired WHERE record_id = ?", [c.record_id])
    if (c.outcome == "repaired") != bool(repaired):
        return f"_repaired rows {repaired} for outcome {c.outcome}"
    return None


def test_the_corpus_covers_every_class_with_200_cases() -> None:
    by_class = Counter(c.cls for c in CASES)
    assert len(CASES) >= 200, len(CASES)
    assert set(by_class) == {"money", "text", "email", "label", "date", "count", "integer", "csv"}
    assert len({(c.source, c.record_id) for c in CASES}) == len(CASES)


def test_no_hostile_value_stops_a_source_or_the_build(corpus_run: dict) -> None:
    for name in ("clean_sync", "hostile_sync"):
        proc = corpus_run[name]
        assert proc.returncode == 0, proc.stdout + proc.stderr    # every source ends ok
    build = corpus_run["build"]
    assert build.returncode == 0, build.stdout[-4000:]     # every data test and unit test passes


def test_every_hostile_value_has_its_outcome(corpus_run: dict) -> None:
    db = corpus_run["hostile"]
    problems = []
    for c in CASES:
        try:
            problem = _outcome_problem(c, db)
        except duckdb.Error as exc:     # a table or model the run never wrote
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        if problem:
            problems.append(f"{c.cls} {c.source}.{c.object}.{c.field} = {c.value!r} ({c.record_id}): {problem}")
    by_class = Counter(p.split()[0] for p in problems)
    assert not problems, (f"{len(problems)} of {len(CASES)} cases ({dict(by_class)}):\n"
                          + "\n".join(problems))


def test_data_quality_counts_every_quarantined_repaired_and_flagged_case(corpus_run: dict) -> None:
    db = corpus_run["hostile"]
    checks = _rows(db, 'SELECT "check", source, sum(value) FROM marts.data_quality GROUP BY ALL')
    got = {(check, source): value for check, source, value in checks}
    for check, outcome in (("quarantined_rows", "quarantined"), ("repaired_rows", "repaired")):
        want = Counter(c.source for c in CASES if c.outcome == outcome)
        assert {s: got.get((check, s)) for s in want} == {s: float(n) for s, n in want.items()}
    flagged = Counter(c.expect for c in CASES if c.outcome == "flagged")
    assert got[("impossible_opportunity_dates", "crm")] == flagged["impossible_opportunity_dates"]
    assert got[("unparsable_lifecycle_dates", "hubspot")] == flagged["unparsable_lifecycle_dates"]
    assert got[("unparsable_deal_dates", "hubspot")] == flagged["unparsable_deal_dates"]
    # never a negative cycle in a median
    assert _rows(db, "SELECT count(*) FROM intermediate.int_opportunity_summary WHERE cycle_days < 0") == [(0,)]


def _corpus_ids() -> set[str]:
    ids = {c.record_id for c in CASES}
    ids |= {"hubspot:" + i for i in ids}
    ids |= {"017" + c.record_id[3:] for c in CASES if c.object == "LeadHistory"}
    return ids


def _relations(db: Path, schemas: tuple[str, ...]) -> list[str]:
    return [f"{s}.{t}" for s, t in _rows(
        db, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
            f"({', '.join('?' for _ in schemas)}) AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1, 2",
        list(schemas))]


def _without_corpus(db: Path, relation: str, ids: set[str]) -> Counter:
    with duckdb.connect(str(db), read_only=True) as conn:
        cur = conn.execute(f"SELECT * FROM {relation}")
        names = [d[0] for d in cur.description]
        keep = [i for i, n in enumerate(names) if n not in ("_synced_at", "synced_at", "_exported_at")]
        return Counter(tuple(row[i] for i in keep) for row in cur.fetchall()
                       if not any(isinstance(v, str) and (v in ids or v.split(":")[-1] in ids) for v in row))


def test_nothing_else_changed(corpus_run: dict) -> None:
    """Every raw table and every staging model holds, apart from the corpus's own records,
    exactly what a clean sync of the same world holds."""
    assert corpus_run["staging"].returncode == 0, corpus_run["staging"].stdout[-3000:]
    clean, hostile, ids = corpus_run["clean"], corpus_run["hostile"], _corpus_ids()
    relations = _relations(clean, ("hubspot", "salesforce", "ga4", "advocacy_platform", "staging"))
    assert len(relations) > 40
    changed = []
    for rel in relations:
        before, after = _without_corpus(clean, rel, ids), _without_corpus(hostile, rel, ids)
        if before != after:
            changed.append(f"{rel}: {sum((before - after).values())} rows lost, "
                           f"{sum((after - before).values())} rows new or changed")
    assert not changed, changed


def test_corpus_stays_lean(corpus_run: dict) -> None:
    """Two syncs, one build and one staging run for every case (docs/RELIABILITY.md records
    the figures). Bounded by CPU time, which a busy machine does not inflate as it does the
    wall-clock time (on an idle machine the two are about equal)."""
    print(f"hostile corpus: {len(CASES)} cases in {corpus_run['seconds']:.0f}s wall, "
          f"{corpus_run['cpu_seconds']:.0f}s CPU")
    assert corpus_run["cpu_seconds"] < 150, corpus_run["cpu_seconds"]


def test_money_values_keep_their_decimal_type(corpus_run: dict) -> None:
    """Salesforce amounts stay DECIMAL(18,2); HubSpot's normalised amounts cast exactly."""
    (got,) = _rows(corpus_run["hostile"], "SELECT typeof(amount) FROM salesforce.opportunity LIMIT 1")
    assert got == ("DECIMAL(18,2)",)
    hs = [c for c in CASES if c.object == "deals" and c.outcome == "normalised"]
    rows = dict(_rows(corpus_run["hostile"], "SELECT deal_id, amount FROM staging.stg_hubspot__deals "
                                             "WHERE deal_id IN (SELECT unnest(?))", [[c.record_id for c in hs]]))
    assert {c.record_id: (None if c.expect is None else float(Decimal(c.expect))) for c in hs} == rows
