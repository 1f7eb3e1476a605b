"""The incremental models (int_ga4_sessions) cost what changed and never differ from a full
refresh: the product's sync against the sandbox, a first build, the world moves a day (and an
old GA date is emptied, as a backfill finds it), the nightly sync and an incremental build —
equal to ``--full-refresh`` of the same raw layer, mart by mart; and a classification seed
change reclassifies every stored row."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from test_dbt_project import PROJECT, _env, query, run_dbt

# no data tests here (tests/dbt/test_dbt_project.py runs them): the builds stay cheap
BUILD = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
INTERNAL = ("built_by", "built_through")   # bookkeeping columns: which build wrote a row


def _sync(sandbox, db: Path) -> None:
    env = _env({**sandbox.env(), "DUCKDB_PATH": str(db)})
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "sync", "--quiet"],
                          cwd=db.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _as_of(sandbox) -> str:
    from pipelines.cli.bench.minimum import world_clock

    return (world_clock(sandbox.store_path) - dt.timedelta(days=1)).isoformat()


def _build(db: Path, as_of: str, *extra: str, project: Path = PROJECT) -> None:
    proc = run_dbt([*BUILD, *extra], db, db.parent, project=project, as_of=as_of, nightly=True)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def _rows(db: Path, table: str, where: str = "") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as conn:
        cols = [c for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_schema || '.' || "
            "table_name = ? order by ordinal_position", [table]).fetchall() if c not in INTERNAL]
        rows = conn.execute(f"select {', '.join(chr(34) + c + chr(34) for c in cols)} from {table} {where}").fetchall()
    return sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows), key=repr)


@pytest.fixture(scope="module")
def nightly(world_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from connectors.sandbox.server import Sandbox

    base = tmp_path_factory.mktemp("incremental")
    store = base / "store" / "world.sqlite"
    store.parent.mkdir()
    shutil.copy2(world_store, store)   # this module's world moves on: never the shared one
    with Sandbox(store, base / "sandbox") as sandbox:
        yield _nightly(sandbox, base / "nightly" / "warehouse.duckdb")


def _nightly(sandbox, db: Path) -> dict:
    db.parent.mkdir(parents=True)
    _sync(sandbox, db)
    _build(db, _as_of(sandbox))
    first_rows = query(db, "select count(*) from intermediate.int_ga4_sessions")[0][0]

    sandbox.advance(1)
    _sync(sandbox, db)
    # an old date emptied and rewritten, as the GA4 connector does when a backfill finds a date
    # without data: its rows gone, its report_days row synced again
    emptied = query(db, "select min(date) + 30 from ga4.visitor_sessions")[0][0]
    with duckdb.connect(str(db)) as conn:
        conn.execute("delete from ga4.visitor_sessions where date = ?", [emptied])
        conn.execute("update ga4.report_days set row_count = 0, sessions = 0, _synced_at = "
                     "(select max(_synced_at) from ga4.report_days) + interval 1 second "
                     "where date = ?", [emptied])
    as_of = _as_of(sandbox)
    _build(db, as_of)

    full = db.parent.parent / (db.parent.name + "-full") / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy2(db, full)
    _build(full, as_of, "--full-refresh")
    return {"db": db, "full": full, "as_of": as_of, "emptied": emptied, "first_rows": first_rows}


def test_an_incremental_build_after_a_day_equals_a_full_refresh(nightly: dict) -> None:
    db, full = nightly["db"], nightly["full"]
    marts = [t for (t,) in query(full, "select table_name from information_schema.tables where "
                                       "table_schema = 'marts' and table_name <> 'run_manifest'")]
    assert len(marts) >= 10
    for table in ["intermediate.int_ga4_sessions", *(f"marts.{t}" for t in marts)]:
        # data_quality's freshness and source_complete rows measure the time since each sync:
        # they differ by design (by a minute when the two builds straddle one)
        where = ("where \"check\" not in ('freshness_hours', 'source_complete')"
                 if table == "marts.data_quality" else "")
        assert _rows(db, table, where) == _rows(full, table, where), table
    assert query(db, "select count(*) from intermediate.int_ga4_sessions where ga_date = ?",
                 [nightly["emptied"]])[0][0] == 0
    assert query(db, "select max(touch_date) from intermediate.int_ga4_sessions")[0][0] \
        == dt.date.fromisoformat(nightly["as_of"])


def test_the_nightly_rebuilds_only_the_dates_that_changed(nightly: dict) -> None:
    builds = query(nightly["db"], "select built_by, count(*), count(distinct ga_date) from "
                                  "intermediate.int_ga4_sessions group by 1 order by 2")
    assert len(builds) == 2, builds                     # the first build's rows, the nightly's
    (_, nightly_rows, nightly_dates), (_, kept_rows, _) = builds
    # the new day, the re-read window (GA4_REREAD_DAYS=3) and the last stored day: a handful
    # of dates out of a year, never a rebuild of every row
    assert 1 <= nightly_dates <= 6, builds
    assert nightly_rows < (kept_rows + nightly_rows) / 20, builds


def test_a_classification_seed_change_reclassifies_every_stored_row(nightly: dict, tmp_path: Path
                                                                    ) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copy2(nightly["db"], db)
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    rules = project / "seeds" / "advocacy_utm_rules.csv"
    rules.write_text(rules.read_text().splitlines()[0] + "\n")   # no advocacy rule any more
    count = "select count(*) from intermediate.int_ga4_sessions where segment = 'advocacy'"
    assert query(db, count)[0][0] > 0
    _build(db, nightly["as_of"], "--select", "advocacy_utm_rules", "int_ga4_sessions", project=project)
    assert query(db, count)[0][0] == 0
    assert _rows(db, "intermediate.int_ga4_sessions", "where segment = 'advocacy'") == []
    assert query(db, "select count(*) from intermediate.int_ga4_sessions")[0][0] \
        == query(nightly["db"], "select count(*) from intermediate.int_ga4_sessions")[0][0]
