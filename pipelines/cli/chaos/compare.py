"""Is a warehouse that went through faults and kills the same as a clean one? Row by row, on
every raw table (by its key: lost, duplicated, changed, extra) and every mart (as a multiset
of rows).

Columns that say *when* something was written (``_synced_at``, the quarantine's time, the run
manifest) or what the reading cost (GA4's quota ``tokens``: a date read again after a dropped
connection costs again) differ between any two runs and are left out; everything else must be
equal.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import duckdb

from connectors import schema as raw

# when a row was written or what reading it cost, not what it holds
WRITE_TIME_COLUMNS = frozenset({"_synced_at", "quarantined_at", "tokens"})
# the marts that describe the run itself (times, durations), not the data
RUN_MARTS = frozenset({"run_manifest"})
# data_quality's freshness rows say how long ago each table was synced ("last synced at ..."):
# compared by check, source and status only
# data_quality's source_complete rows describe the sync runs (how long ago each ended), not
# the data: left out
RUN_ROWS = {"data_quality": "\"check\" <> 'source_complete'"}
MASKED = {("data_quality", c): "case when \"check\" = 'freshness_hours' then null else {c} end"
          for c in ("value", "detail")}


@dataclasses.dataclass
class Difference:
    table: str
    lost: int = 0          # keys the clean run has and this one lacks
    duplicated: int = 0    # rows beyond one per key
    changed: int = 0       # same key, other values
    extra: int = 0         # keys only this run has

    def __bool__(self) -> bool:
        return bool(self.lost or self.duplicated or self.changed or self.extra)

    def __str__(self) -> str:
        return (f"{self.table}: {self.lost} lost, {self.duplicated} duplicated, "
                f"{self.changed} changed, {self.extra} extra")


def compare_raw(chaos: Path, clean: Path) -> list[Difference]:
    """Every raw table of ``chaos`` against ``clean``, by key; one :class:`Difference` per
    table (falsy when equal)."""
    out: list[Difference] = []
    with duckdb.connect(":memory:") as conn:
        conn.execute(f"attach '{chaos}' as chaos (read_only)")
        conn.execute(f"attach '{clean}' as clean (read_only)")
        for table in raw.TABLES.values():
            cols_chaos = _columns_in(conn, "chaos", table.schema, table.name)
            cols_clean = _columns_in(conn, "clean", table.schema, table.name)
            cols = [c for c in cols_clean if c in cols_chaos]
            # a column only one side has is a difference of its own
            diff = Difference(table.qualified, changed=len(set(cols_chaos) ^ set(cols_clean)))
            key = ", ".join(raw.quote(k) for k in table.key)
            sel = ", ".join(raw.quote(c) for c in cols)
            a, b = f"chaos.{table.qualified}", f"clean.{table.qualified}"
            diff.duplicated = conn.execute(
                f"select count(*) - count(distinct ({key})) from {a}").fetchone()[0]
            diff.lost = conn.execute(
                f"select count(*) from (select {key} from {b} except select {key} from {a})").fetchone()[0]
            diff.extra = conn.execute(
                f"select count(*) from (select {key} from {a} except select {key} from {b})").fetchone()[0]
            # keys on both sides whose values differ
            diff.changed += conn.execute(
                f"select count(*) from (select {key} from (select {sel} from {a} except "
                f"select {sel} from {b}) intersect select {key} from {b})").fetchone()[0]
            out.append(diff)
    return out


def _columns_in(conn: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[str]:
    return [c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_catalog = ? and "
        "table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, schema, table]).fetchall() if c not in WRITE_TIME_COLUMNS]


# Sums of doubles depend on the order DuckDB's threads add them in: 7.2 and 7.199999999999999,
# or 963533.6292756253 and 963533.6292756255, are the same figure. Rounding both to a fixed
# number of decimals is not enough (two such values can fall either side of a rounding
# boundary), so doubles are matched with a relative tolerance instead.
RELATIVE_TOLERANCE = 1e-12   # float noise of summing thousands of values; a cent of 10^9 shows


def _float_columns(conn: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> set[str]:
    return {c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_catalog = ? and "
        "table_schema = ? and table_name = ? and data_type in ('DOUBLE', 'FLOAT', 'REAL')",
        [catalog, schema, table]).fetchall()}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= RELATIVE_TOLERANCE * max(1.0, abs(a), abs(b))


def _order(values: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0.0) for v in values)


def unmatched(left: list[tuple], right: list[tuple], float_at: list[int]) -> tuple[int, int]:
    """Rows of ``left`` and of ``right`` that find no partner on the other side (multisets):
    the columns at ``float_at`` match within :data:`RELATIVE_TOLERANCE`, the others exactly."""
    def split(row: tuple) -> tuple[tuple, tuple]:
        exact = tuple(v for i, v in enumerate(row) if i not in float_at)
        return exact, tuple(row[i] for i in float_at)

    groups: dict[tuple, tuple[list, list]] = {}
    for side, rows in ((0, left), (1, right)):
        for row in rows:
            exact, floats = split(row)
            groups.setdefault(exact, ([], []))[side].append(floats)
    only_left = only_right = 0
    for a, b in groups.values():
        a.sort(key=_order)
        b.sort(key=_order)
        i = j = 0
        while i < len(a) and j < len(b):
            if all(_close(x, y) for x, y in zip(a[i], b[j], strict=True)):
                i, j = i + 1, j + 1
            elif _order(a[i]) < _order(b[j]):
                only_left, i = only_left + 1, i + 1
            else:
                only_right, j = only_right + 1, j + 1
        only_left += len(a) - i
        only_right += len(b) - j
    return only_left, only_right


def compare_marts(chaos: Path, clean: Path, schema: str = "marts") -> list[Difference]:
    """Every mart of ``clean`` against ``chaos`` as multisets of rows: ``lost`` rows only the
    clean build has, ``extra`` rows only this one has (a changed row counts in both)."""
    out: list[Difference] = []
    with duckdb.connect(":memory:") as conn:
        conn.execute(f"attach '{chaos}' as chaos (read_only)")
        conn.execute(f"attach '{clean}' as clean (read_only)")
        marts = [t for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_catalog = 'clean' "
            "and table_schema = ? order by 1", [schema]).fetchall() if t not in RUN_MARTS]
        for mart in marts:
            cols = [c for c in _columns_in(conn, "clean", schema, mart)
                    if c in _columns_in(conn, "chaos", schema, mart)]
            floats = _float_columns(conn, "clean", schema, mart)
            sel = ", ".join(MASKED.get((mart, c), "{c}").format(c=raw.quote(c)) for c in cols)
            where = f" where {RUN_ROWS[mart]}" if mart in RUN_ROWS else ""
            rows = [conn.execute(f"select {sel} from {side}.{schema}.{raw.quote(mart)}{where}").fetchall()
                    for side in ("clean", "chaos")]
            lost, extra = unmatched(*rows, [i for i, c in enumerate(cols) if c in floats])
            out.append(Difference(f"{schema}.{mart}", lost=lost, extra=extra))
    return out
