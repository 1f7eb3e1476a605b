"""The dbt sources' data tests follow the raw tables' real keys (connectors/schema.py): a table
keyed on one column tests that column ``unique``; a table keyed on several tests the
combination (``unique_combination``) and never one key column alone; every key column is
``not_null``. A column ``unique`` on part of a key fails the nightly build on good data (two
advocacy platforms numbering their posts alike), and with error severity skips every
downstream model."""

from __future__ import annotations

from pathlib import Path

import yaml

from connectors.schema import TABLES

STAGING = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "staging"


def _tests(node: dict) -> list:
    return list(node.get("data_tests") or node.get("tests") or [])


def _source_tables() -> dict[str, dict]:
    out = {}
    for path in STAGING.glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                out[f"{source['schema']}.{table['name']}"] = table
    return out


def test_every_raw_table_is_a_source_tested_on_its_key() -> None:
    sources = _source_tables()
    assert set(sources) == set(TABLES)
    for name, spec in TABLES.items():
        table = sources[name]
        columns = {c["name"]: _tests(c) for c in table["columns"]}
        for key_col in spec.key:
            assert "not_null" in columns[key_col], (name, key_col)
        unique_cols = {c for c, tests in columns.items() if "unique" in tests}
        combos = [t["unique_combination"]["arguments"]["columns"] for t in _tests(table)
                  if isinstance(t, dict) and "unique_combination" in t]
        if len(spec.key) == 1:
            assert unique_cols == set(spec.key) and not combos, name
        else:
            assert not unique_cols, f"{name}: column unique on part of the key {spec.key}"
            assert combos == [list(spec.key)], name


def test_staging_reads_each_raw_table_on_its_primary_key() -> None:
    """Staging does not re-rank versions (macro live_latest): that is only right because the
    key it names is the raw table's primary key, so the raw layer holds one row per key."""
    import re

    call = re.compile(r"live_latest\(\s*source\('(\w+)',\s*'(\w+)'\),\s*'([^']+)'")
    seen = {}
    for path in STAGING.rglob("*.sql"):
        for schema, table, key in call.findall(path.read_text()):
            seen[f"{schema}.{table}"] = tuple(k.strip() for k in key.split(","))
    assert seen, "no staging model calls live_latest"
    for name, key in seen.items():
        assert key == TABLES[name].key, f"{name}: staging key {key}, raw primary key {TABLES[name].key}"
