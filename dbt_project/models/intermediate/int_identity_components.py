"""Identity, step 4 (DEFINITIONS.md "People"): the connected components of the record links, by
union-find - near-linear in records + links, whatever the shape of a group (a recursive SQL
label spread writes a row per member and label: k^2 rows for a group of k, ~900M for 30k).

One row per record of int_identity_records: its component's root, the smallest record key
(so person_key = md5(root) does not depend on the order links are read), and the component's
size. A dbt Python model because SQL has no portable loop that stops when labels settle."""

import pyarrow as pa


def components(records, edges):
    """{record: smallest record of its component} for ``records`` joined by ``edges``.

    Union by smaller root (the root is always the component's minimum) with path halving:
    each find walks at most a halved path, so the whole is close to linear in practice."""
    parent = {r: r for r in records}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a not in parent or b not in parent:
            continue  # a link to a record that is not in scope is no link
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    return {r: find(r) for r in parent}


def model(dbt, session):
    dbt.config(materialized="table")
    records = [r for (r,) in _rows(dbt.ref("int_identity_records"), ["record_key"])]
    edges = _rows(dbt.ref("int_identity_edges"), ["node_a", "node_b"])
    root = components(records, edges)
    size = {}
    for r in root.values():
        size[r] = size.get(r, 0) + 1
    keys = sorted(root)
    return _output(session, pa.table({
        "record_key": pa.array(keys, pa.string()),
        "root_record_key": pa.array([root[k] for k in keys], pa.string()),
        "group_records": pa.array([size[root[k]] for k in keys], pa.int64()),
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
    return list(frame.itertuples(index=False, name=None))


def _output(session, table):
    """dbt-duckdb materialises a pyarrow table; other adapters take a pandas DataFrame."""
    return table if "duckdb" in type(session).__module__ else table.to_pandas()
