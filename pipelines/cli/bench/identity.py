"""``advocacy bench``, identity stitching: time and rows of the dbt identity models
(``int_identity_records`` -> ``int_identity_emails`` -> ``int_identity_edges`` ->
``int_identity_components`` (union-find) -> ``int_person_records``), measured

* in each scale's full ``dbt build`` (:func:`from_build`: the models' own execution times from
  ``run_results.json``), and
* on synthetic raw layers that hold person records only (:func:`stress`): one identity group of
  30k records chained end to end (the worst shape for label spreading: each HubSpot contact is
  linked to its lead by ``salesforceleadid``, each lead shares its email with the next contact)
  and 500k records of ordinary people (a HubSpot contact, its lead, and for one in two a
  converted contact).

Near-linear grouping shows as time per record that stays flat from the small worlds to the
500k records, and a 30k group that costs what 30k ordinary records cost (DEFINITIONS.md
"People"; the old recursive label spread wrote k^2 rows for a group of k).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
MODELS = ("int_identity_records", "int_identity_emails", "int_identity_edges",
          "int_identity_components", "int_person_records")
UNION_FIND = "int_identity_components"
STRESS = (("one group of 30k records", 30_000, True), ("500k records", 500_000, False))


def from_build(target_path: Path, warehouse: Path) -> dict[str, Any]:
    """The identity models' times of a finished dbt build and what they produced."""
    import duckdb

    times = _model_seconds(target_path / "run_results.json")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            records, people, largest = conn.execute(
                "select count(*), count(distinct root_record_key), max(group_records) "
                "from intermediate.int_identity_components").fetchone()
            (edges,) = conn.execute("select count(*) from intermediate.int_identity_edges").fetchone()
    except duckdb.Error as exc:
        return {"error": str(exc).splitlines()[0]}
    return {"records": records, "people": people, "largest_group": largest, "edges": edges,
            "seconds": round(sum(times.values()), 2), "union_find_seconds": times.get(UNION_FIND),
            "models": times}


def _model_seconds(run_results: Path) -> dict[str, float]:
    try:
        results = json.loads(run_results.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    out = {}
    for r in results:
        name = r.get("unique_id", "").rsplit(".", 1)[-1]
        if r.get("unique_id", "").startswith("model.") and name in MODELS:
            out[name] = round(float(r.get("execution_time") or 0.0), 2)
    return out


def synthetic_raw(path: Path, n: int, *, chain: bool) -> None:
    """A raw layer with ``n`` person records and nothing else (see the module docstring)."""
    import duckdb

    from connectors.warehouse import Warehouse

    with Warehouse(path) as wh:
        wh.ensure_raw_layer()
    pairs = n // 2 if chain else n * 2 // 5  # chain: contact + lead; else + a contact for half
    ts = "strftime(timestamp '2026-01-01' + to_seconds(i), '%Y-%m-%dT%H:%M:%S.000Z')"
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"""
            insert into hubspot.contacts (id, email, createdate, salesforceleadid, archived, _synced_at, _is_deleted)
            select cast(i as varchar), 'p' || i || '@corp.example', {ts}, 'L' || i, false, now(), false
            from range({pairs}) as t(i)""")
        lead_email = "'p' || (i + 1) || '@corp.example'" if chain else "'p' || i || '@corp.example'"
        converted = "null" if chain else "case when i % 2 = 0 then 'C' || i end"
        conn.execute(f"""
            insert into salesforce.lead (id, email, created_date, converted_contact_id, converted_date,
                                         is_deleted, _synced_at, _is_deleted)
            select 'L' || i, {lead_email}, timestamp '2026-01-01' + to_seconds(i), {converted},
                   case when i % 2 = 0 and not {str(chain).lower()} then date '2026-02-01' end,
                   false, now(), false
            from range({pairs}) as t(i)""")
        if not chain:
            conn.execute(f"""
                insert into salesforce.contact (id, email, created_date, is_deleted, _synced_at, _is_deleted)
                select 'C' || i, 'p' || i || '@corp.example', timestamp '2026-02-01' + to_seconds(i),
                       false, now(), false
                from range(0, {n - 2 * pairs} * 2, 2) as t(i)""")


def stress(workdir: Path, sizes: tuple[tuple[str, int, bool], ...] = STRESS) -> list[dict[str, Any]]:
    """Build the identity models on each synthetic raw layer of ``sizes`` (label, records,
    chained into one group); one row each."""
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    project = ROOT / "dbt_project"
    out = []
    for label, n, chain in sizes:
        here = workdir / f"identity-{n}{'-chain' if chain else ''}"
        shutil.rmtree(here, ignore_errors=True)
        here.mkdir(parents=True)
        warehouse = here / "warehouse.duckdb"
        print(f"\n== identity: {label}", flush=True)
        synthetic_raw(warehouse, n, chain=chain)
        env = {**os.environ, "DUCKDB_PATH": str(warehouse)}
        common = ["--project-dir", str(project), "--profiles-dir", str(project),
                  "--target-path", str(here / "target"), "--log-path", str(here / "logs"),
                  "--vars", json.dumps({"as_of": "2026-06-30"})]
        started = time.monotonic()
        # the identity models, their staging views and the exclusions seed; no tests
        code = subprocess.call([dbt, "build", "--quiet", "--select", "+int_person_records",
                                "--resource-type", "seed", "--resource-type", "model", *common],
                               env=env, cwd=ROOT)
        row = {"label": label, "code": code, "wall_seconds": round(time.monotonic() - started, 1)}
        if code == 0:
            row.update(from_build(here / "target", warehouse))
        print(f"   exit {code}: {row.get('records', '-')} records, {row.get('people', '-')} people, "
              f"largest group {row.get('largest_group', '-')}, identity models {row.get('seconds', '-')} s",
              flush=True)
        out.append(row)
        shutil.rmtree(here, ignore_errors=True)
    return out


def render(results: list[dict[str, Any]], stress_rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the identity table (empty when nothing was measured)."""
    rows = [(f"scale {r['scale']:g} (sandbox world)", r["identity"]) for r in results
            if r.get("identity") and "error" not in r["identity"]]
    rows += [(s["label"], s) for s in stress_rows]
    if not rows:
        return []
    lines = ["", "**Identity stitching** (dbt models int_identity_* and int_person_records: execution "
             "time of the five models and of the union-find alone; *s per 100k records* flat = "
             "near-linear):", "",
             "| raw layer | records | links | people | largest group | identity models s | union-find s | s per 100k records |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        if r.get("code", 0) != 0 or "records" not in r:
            lines.append(f"| {label} | failed (exit {r.get('code')}) | | | | | | |")
            continue
        per = r["seconds"] / r["records"] * 100_000 if r["records"] else 0.0
        lines.append(f"| {label} | {r['records']:,} | {r['edges']:,} | {r['people']:,} | {r['largest_group']:,} "
                     f"| {r['seconds']:.2f} | {r.get('union_find_seconds') or 0:.2f} | {per:.2f} |")
    return lines
