"""The p-values of segment_comparison and quota_advocacy_correlation on adapters that cannot run
dbt Python models (Postgres; Spark in session mode): a post-build step for any adapter.

There the SQL twins in dbt_project/models/intermediate/portable/ build the rows with null
p-values. This step reads their inputs through dbt itself (``dbt show``: any adapter, the
profile's credentials), computes the p-values with the very functions of the Python models
(Fisher's exact test / the z-test; the t-tests of r and rho - one implementation, never a
second), and rebuilds the two test models and everything downstream with them (environment
variable ``ADVOCACY_COMPUTED_P_VALUES``): plain SELECTs, no UPDATE (Spark's Parquet tables have none)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
MODELS = PROJECT / "models" / "intermediate"
ENV = "ADVOCACY_COMPUTED_P_VALUES"


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
    result = _dbt(["show", "--inline", sql, "--limit", "-1", "--log-level", "none", *common])
    table = result.results[0].agate_table
    return [dict(zip(table.column_names, row, strict=True)) for row in table.rows]


def _date(value) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


# both inputs in one query (one dbt invocation: each one parses the project)
INPUTS = """
select 'segment' as kind, period_grain, period_start, transition,
       cast(advocacy_x as {{ type_double() }}) as x1, cast(advocacy_n as {{ type_double() }}) as n1,
       cast(other_x as {{ type_double() }}) as x2, cast(other_n as {{ type_double() }}) as n2,
       cast(null as {{ type_double() }}) as r, cast(null as {{ type_double() }}) as rho
from {{ ref('int_segment_comparison') }}
union all
select 'correlation', period_grain, period_start, cast(null as {{ dbt.type_string() }}),
       cast(null as {{ type_double() }}), cast(n_reps as {{ type_double() }}),
       cast(null as {{ type_double() }}), cast(null as {{ type_double() }}),
       cast(pearson_r as {{ type_double() }}), cast(spearman_rho as {{ type_double() }})
from {{ ref('int_quota_advocacy_correlation') }}
"""


def _float(value) -> float | None:
    return None if value is None else float(value)


def compute(common: list[str], min_n: int) -> dict[str, list[dict]]:
    """The p-value rows of both models, from their inputs in the warehouse."""
    seg = _python_model("segment_comparison_tests")
    corr = _python_model("quota_advocacy_correlation_tests")
    out: dict[str, list[dict]] = {"segment_comparison_tests": [], "quota_advocacy_correlation_tests": []}
    for r in _show(INPUTS, common):
        key = {"period_grain": r["period_grain"], "period_start": _date(r["period_start"])}
        if r["kind"] == "segment":
            p, note = seg.p_value(int(r["x1"]), int(r["n1"]), int(r["x2"]), int(r["n2"]), min_n)
            out["segment_comparison_tests"].append(
                {**key, "transition": r["transition"], "p_value": p, "stat_note": note})
            continue
        n = int(r["n1"])
        if n < min_n:
            continue  # the SQL twin writes the same note itself
        p_r, p_rho = corr.t_test_p(_float(r["r"]), n), corr.t_test_p(_float(r["rho"]), n)
        out["quota_advocacy_correlation_tests"].append({
            **key, "pearson_p_value": p_r, "spearman_p_value": p_rho,
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
    # handed over in an environment variable, not a var: dbt re-parses only the two models
    # that read it, where a changed var would re-parse the whole project
    os.environ[ENV] = json.dumps(computed)
    try:
        _dbt(["build", "--select", "segment_comparison_tests+", "quota_advocacy_correlation_tests+",
              # run_manifest fingerprints the build's own vars: the build's row stays
              "--exclude", "resource_type:snapshot", "run_manifest", "--quiet", *common,
              *vars_flag])
    finally:
        os.environ.pop(ENV, None)
    return {name: len(rows) for name, rows in computed.items()}
