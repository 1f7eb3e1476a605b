"""Every mart of a DuckDB build compared with another engine's, row by row (numbers to a
relative 1e-9: the engines sum floats in different orders), and the checks that the other
engine's build and stats step succeeded. Shared by the portability tests
(test_portable_postgres.py, test_portable_spark.py): one comparison, every engine."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Callable
from pathlib import Path

import duckdb

# columns that describe the run, not the data (and freshness: minutes between the builds)
VOLATILE = {"run_manifest": {"run_id", "run_started_at", "built_at", "adapter_type", "dbt_version",
                             "config_hash", "config_json"}}
REL = 1e-9
ABS = 1e-9


def assert_build_succeeded(built: dict) -> None:
    """The other engine's raw copy, ``dbt build`` (models, seeds, tests, unit tests and
    snapshots, every one passing) and ``advocacy stats``, from the fixture's ``built`` dict."""
    proc, stats = built["proc"], built["stats"]
    assert sum(built["copied"].values()) > 1000
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    results = json.loads((built["work"] / "build_results.json").read_text())
    assert {r["unique_id"].split(".")[0] for r in results["results"]} >= {
        "model", "seed", "test", "unit_test", "snapshot"}
    assert all(r["status"] in ("success", "pass") for r in results["results"])
    assert stats.returncode == 0, stats.stdout[-4000:] + stats.stderr[-3000:]


def _plain(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def _rows(fetch: list[tuple], columns: list[str], skip: set[str]) -> list[tuple]:
    keep = [i for i, c in enumerate(columns) if c not in skip]
    rows = [tuple(_plain(r[i]) for i in keep) for r in fetch]
    # order by the exact columns first, floats rounded last: the same order on both engines
    return sorted(rows, key=lambda r: tuple(
        (0, round(v, 6)) if isinstance(v, float) else (1, "") if v is None else (2, str(v))
        for v in r))


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL, abs_tol=ABS)
    return a == b


def mart_differences(duck_db: Path, other: Callable[[str], tuple[list[str], list[tuple]]],
                     leave_out: set[str]) -> tuple[list[str], list[tuple]]:
    """The marts compared and their differences (the first differing row of each mart).
    ``other(mart)`` returns the other engine's column names and rows; ``leave_out``: marts
    that differ by design (the caller says why)."""
    with duckdb.connect(str(duck_db), read_only=True) as duck:
        marts = [t for (t,) in duck.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by 1").fetchall()]
        differences: list[tuple] = []
        compared = [m for m in marts if m not in leave_out]
        for mart in compared:
            skip = VOLATILE.get(mart, set())
            cur = duck.execute(f'select * from marts."{mart}"')
            columns = [d[0] for d in cur.description]
            ours = _rows(cur.fetchall(), columns, skip)
            their_columns, their_rows = other(mart)
            if their_columns != columns:
                differences.append((mart, "columns", columns, their_columns))
                continue
            theirs = _rows(their_rows, their_columns, skip)
            if mart == "data_quality":  # freshness: hours since the sync, read minutes apart
                fresh, detail = columns.index("value"), columns.index("detail")
                timed = ("freshness_hours", "source_complete")
                ours, theirs = ([r[:fresh] + (None,) + r[fresh + 1:detail] + (None,) + r[detail + 1:]
                                 if r[0] in timed else r for r in rows] for rows in (ours, theirs))
            if len(ours) != len(theirs):
                differences.append((mart, "rows", len(ours), len(theirs)))
                continue
            kept = [c for c in columns if c not in skip]
            for a, b in zip(ours, theirs, strict=True):
                bad = [(c, x, y) for c, x, y in zip(kept, a, b, strict=True) if not _same(x, y)]
                if bad:
                    differences.append((mart, a, bad))
                    break
    return compared, differences
