"""The p-values of segment_comparison and quota_advocacy_correlation on adapters that cannot run
dbt Python models (Postgres; Spark in session mode): a post-build step for any adapter.

There the SQL twins in dbt_project/models/intermediate/portable/ build the rows with null
p-values. This step reads their inputs through dbt itself (``dbt show``: any adapter, the
profile's credentials), computes the p-values with the very functions of the Python models
(Fisher's exact test / the z-test; the t-tests of r and rho - one implementation, never a
second), and rebuilds the two test models and everything downstream with var
``computed_p_values``: plain SELECTs, no UPDATE (Spark's Parquet tables have none)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from types import ModuleType

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
MODELS = PROJECT / "models" / "intermediate"
PYTHON_ADAPTERS = ("duckdb", "snowflake", "databricks", "bigquery")


class StatsError(RuntimeError):
    pass


def _python_model(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"advocacy_dbt_{name}", MODELS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _dbt(args: list[str]):
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(args)
    if not result.success:
        raise StatsError(f"dbt {args[0]} failed: {result.exception or 'see the dbt log'}")
    return result.result


def _show(sql: str, common: list[str]) -> list[dict]:
    result = _dbt(["show", "--inline", sql, "--limit", "-1", "--quiet", *common])
    table = result.results[0].agate_table
    return [dict(zip(table.column_names, row, strict=True)) for row in table.rows]


def _date(value) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def compute(common: list[str], min_n: int) -> dict[str, list[dict]]:
    """The p-value rows of both models, from their inputs in the warehouse."""
    seg = _python_model("segment_comparison_tests")
    corr = _python_model("quota_advocacy_correlation_tests")
    out: dict[str, list[dict]] = {"segment_comparison_tests": [], "quota_advocacy_correlation_tests": []}
    for r in _show("select period_grain, period_start, transition, advocacy_x, advocacy_n, other_x, "
                   "other_n from {{ ref('int_segment_comparison') }}", common):
        p, note = seg.p_value(int(r["advocacy_x"]), int(r["advocacy_n"]), int(r["other_x"]),
                              int(r["other_n"]), min_n)
        out["segment_comparison_tests"].append({
            "period_grain": r["period_grain"], "period_start": _date(r["period_start"]),
            "transition": r["transition"], "p_value": p, "stat_note": note})
    for r in _show("select period_grain, period_start, n_reps, pearson_r, spearman_rho "
                   "from {{ ref('int_quota_advocacy_correlation') }}", common):
        n = int(r["n_reps"])
        if n < min_n:
            continue  # the SQL twin writes the same note itself
        pearson = None if r["pearson_r"] is None else float(r["pearson_r"])
        spearman = None if r["spearman_rho"] is None else float(r["spearman_rho"])
        p_r, p_rho = corr.t_test_p(pearson, n), corr.t_test_p(spearman, n)
        out["quota_advocacy_correlation_tests"].append({
            "period_grain": r["period_grain"], "period_start": _date(r["period_start"]),
            "pearson_p_value": p_r, "spearman_p_value": p_rho,
            "stat_note": "t-test of r (n - 2 df)" if p_r is not None
            else "correlation undefined (no variance)"})
    return out


def write_back(common: list[str], dbt_vars: dict | None = None) -> dict[str, int]:
    """Computes the p-values and rebuilds the test models and their marts with them.
    ``common``: the dbt flags of the build (--project-dir, --profiles-dir, --target...);
    ``dbt_vars``: the build's vars (as_of, run_date...), kept. Returns rows per model."""
    dbt_vars = dict(dbt_vars or {})
    min_n = int(dbt_vars.get("min_n_for_stats", 30))
    vars_flag = ["--vars", json.dumps(dbt_vars)] if dbt_vars else []
    computed = compute([*common, *vars_flag], min_n)
    dbt_vars["computed_p_values"] = computed
    _dbt(["build", "--select", "segment_comparison_tests+", "quota_advocacy_correlation_tests+",
          # run_manifest fingerprints the build's own vars: the build's row stays
          "--exclude", "resource_type:snapshot", "run_manifest", "--quiet", *common,
          "--vars", json.dumps(dbt_vars)])
    return {name: len(rows) for name, rows in computed.items()}
