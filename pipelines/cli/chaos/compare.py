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


# sums of doubles depend on the order DuckDB's threads add them in: 7.2 and 7.199999999999999
# are the same figure
FLOAT = "round({c}, 9)"


def _float_columns(conn: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> set[str]:
    return {c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_catalog = ? and "
        "table_schema = ? and table_name = ? and data_type in ('DOUBLE', 'FLOAT', 'REAL')",
        [catalog, schema, table]).fetchall()}


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
            sel = ", ".join(MASKED.get((mart, c), FLOAT if c in floats else "{c}").format(c=raw.quote(c))
                            for c in cols)
            a, b = f"chaos.{schema}.{raw.quote(mart)}", f"clean.{schema}.{raw.quote(mart)}"
            where = f" where {RUN_ROWS[mart]}" if mart in RUN_ROWS else ""
            lost = conn.execute(f"select count(*) from (select {sel} from {b}{where} except all "
                                f"select {sel} from {a}{where})").fetchone()[0]
            extra = conn.execute(f"select count(*) from (select {sel} from {a}{where} except all "
                                 f"select {sel} from {b}{where})").fetchone()[0]
            out.append(Difference(f"{schema}.{mart}", lost=lost, extra=extra))
    return out
