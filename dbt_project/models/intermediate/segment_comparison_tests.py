"""p-values for segment_comparison (a dbt Python model: SQL cannot do them).

Per period x transition: null with a ``stat_note`` when either segment has fewer than
``min_n_for_stats`` people at the start of the transition; else Fisher's exact test (two-sided)
when an expected cell of the 2x2 table is below 5, else the pooled two-proportion z-test
(two-sided)."""

import datetime as dt
import math

import pyarrow as pa


def p_value(x1, n1, x2, n2, min_n):
    if n1 < min_n or n2 < min_n:
        return None, f"n below min_n_for_stats ({min_n}): advocacy_n={n1}, other_n={n2}"
    # scipy is imported here, where a p-value is computed, not at module level: importing
    # scipy.stats costs about a second and much memory, and a build whose every n is below
    # min_n_for_stats (a small company) never needs it.
    from scipy import stats

    total, successes = n1 + n2, x1 + x2
    failures = total - successes
    expected = [n1 * successes / total, n1 * failures / total,
                n2 * successes / total, n2 * failures / total]
    if min(expected) < 5:
        _, p = stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="two-sided")
        return float(p), "fisher_exact (an expected cell < 5)"
    pooled = successes / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return float(2 * stats.norm.sf(abs(z))), "two_proportion_z_test"


def model(dbt, session):
    dbt.config(materialized="table")
    min_n = int(dbt.config.get("min_n_for_stats") or 30)
    rows = _rows(dbt.ref("int_segment_comparison"),
                 ["period_grain", "period_start", "transition", "advocacy_x", "advocacy_n",
                  "other_x", "other_n"])
    out = {"period_grain": [], "period_start": [], "transition": [], "p_value": [], "stat_note": []}
    for grain, start, transition, x1, n1, x2, n2 in rows:
        p, note = p_value(int(x1), int(n1), int(x2), int(n2), min_n)
        out["period_grain"].append(grain)
        out["period_start"].append(start)
        out["transition"].append(transition)
        out["p_value"].append(p)
        out["stat_note"].append(note)
    return _output(session, pa.table({
        "period_grain": pa.array(out["period_grain"], pa.string()),
        "period_start": pa.array(out["period_start"], pa.date32()),
        "transition": pa.array(out["transition"], pa.string()),
        "p_value": pa.array(out["p_value"], pa.float64()),
        "stat_note": pa.array(out["stat_note"], pa.string()),
    }))


# ---- adapter shim: dbt.ref() is a DuckDB relation on dbt-duckdb, a Snowpark / PySpark
# DataFrame on Snowflake / Databricks; the returned table is pyarrow for DuckDB, pandas elsewhere.
# The same in every Python model on purpose: a dbt Python model cannot import a project module
# on every adapter (Snowflake and Databricks run it without the repository); keep them alike.
def _rows(rel, columns):
    """The rows of ``columns`` (lower-case names) of a dbt.ref() result, as tuples."""
    if hasattr(rel, "project") and hasattr(rel, "fetchall"):  # DuckDB relation
        return rel.project(", ".join(columns)).fetchall()
    for to_pandas in ("to_pandas", "toPandas"):  # Snowpark, PySpark
        if hasattr(rel, to_pandas):
            rel = getattr(rel, to_pandas)()
            break
    names = {str(c).lower(): c for c in rel.columns}  # Snowflake upper-cases unquoted names
    frame = rel[[names[c] for c in columns]]
    return [tuple(_plain(v) for v in row) for row in frame.itertuples(index=False, name=None)]


def _plain(value):
    """pandas' missing values (NaN, NaT) -> None; timestamps of DATE columns -> dates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _output(session, table):
    """dbt-duckdb materialises a pyarrow table; other adapters take a pandas DataFrame."""
    return table if "duckdb" in type(session).__module__ else table.to_pandas()
