"""p-values of the rep-level correlations (dbt Python model, scipy).

Pearson: two-sided t-test of r with n - 2 degrees of freedom; Spearman likewise on rho (the
usual large-sample approximation). Null with a ``stat_note`` when fewer than
``min_n_for_stats`` reps have a quota in the period, or when r is undefined (no variance)."""

import datetime as dt
import math

import pyarrow as pa


def t_test_p(r, n):
    if r is None or (isinstance(r, float) and math.isnan(r)) or n < 3:
        return None
    if abs(r) >= 1.0:
        return 0.0
    # imported where needed only (see segment_comparison_tests.p_value): most quarters have
    # fewer reps than min_n_for_stats and need no scipy at all.
    from scipy import stats

    t = r * math.sqrt((n - 2) / (1 - r * r))
    return float(2 * stats.t.sf(abs(t), n - 2))


def model(dbt, session):
    dbt.config(materialized="table")
    min_n = int(dbt.config.get("min_n_for_stats") or 30)
    rows = _rows(dbt.ref("int_quota_advocacy_correlation"),
                 ["period_grain", "period_start", "n_reps", "pearson_r", "spearman_rho"])
    cols = {"period_grain": [], "period_start": [], "pearson_p_value": [], "spearman_p_value": [],
            "stat_note": []}
    for grain, start, n, r, rho in rows:
        n = int(n)
        if n < min_n:
            p_r = p_rho = None
            note = f"n below min_n_for_stats ({min_n}): n_reps={n}"
        else:
            p_r, p_rho = t_test_p(r, n), t_test_p(rho, n)
            note = "t-test of r (n - 2 df)" if p_r is not None else "correlation undefined (no variance)"
        cols["period_grain"].append(grain)
        cols["period_start"].append(start)
        cols["pearson_p_value"].append(p_r)
        cols["spearman_p_value"].append(p_rho)
        cols["stat_note"].append(note)
    return _output(session, pa.table({
        "period_grain": pa.array(cols["period_grain"], pa.string()),
        "period_start": pa.array(cols["period_start"], pa.date32()),
        "pearson_p_value": pa.array(cols["pearson_p_value"], pa.float64()),
        "spearman_p_value": pa.array(cols["spearman_p_value"], pa.float64()),
        "stat_note": pa.array(cols["stat_note"], pa.string()),
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
