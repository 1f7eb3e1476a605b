"""Running a client's BigQuery Standard SQL on DuckDB: the few rewrites DuckDB needs, nothing
canned. The query runs as sent; only these constructs are translated:

* a table reference in backquotes `` `project.dataset.table` `` -> the DuckDB relation the fake
  registered for that table (unknown project, dataset or table: ``NotFound``);
* ``FROM UNNEST(expr)`` of an ARRAY of STRUCTs (BigQuery exposes the struct's fields as
  columns; DuckDB needs the struct unnested too);
* ``x IN UNNEST(@p)`` -> ``list_contains($p, x)``;
* named parameters ``@name`` -> ``$name``, their values converted from the REST
  ``queryParameters`` (STRING, INT64, FLOAT64, BOOL, DATE and ARRAYs of them).

Anything else DuckDB rejects is answered as BigQuery answers a bad query (400 ``invalidQuery``)
with DuckDB's message, so a query the fake cannot run fails loudly instead of being faked.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_TABLE_REF = re.compile(r"`([^`]+)`")
_FROM_UNNEST = re.compile(r"\bFROM\s+UNNEST\s*\(\s*([A-Za-z_][\w.]*)\s*\)", re.IGNORECASE)
_IN_UNNEST = re.compile(r"([A-Za-z_][\w.]*)\s+IN\s+UNNEST\s*\(\s*@(\w+)\s*\)", re.IGNORECASE)
_PARAM = re.compile(r"@(\w+)")
_IDENT = re.compile(r"[A-Za-z_]\w*")


class NotFound(Exception):
    """A referenced table or dataset does not exist."""


class InvalidQuery(Exception):
    """The query cannot run (syntax, types, parameters)."""


def table_refs(sql: str) -> list[str]:
    """The backquoted table references, in order of appearance, without repeats."""
    seen: list[str] = []
    for ref in _TABLE_REF.findall(sql):
        if ref not in seen:
            seen.append(ref)
    return seen


def referenced_identifiers(sql: str) -> set[str]:
    """Every identifier-like word outside backquotes (which columns a query reads: BigQuery
    bills the referenced columns of each table scanned)."""
    return set(_IDENT.findall(_TABLE_REF.sub(" ", sql)))


def translate(sql: str, relations: dict[str, str]) -> str:
    """``sql`` for DuckDB; ``relations`` maps each backquoted reference to a DuckDB relation."""
    def table(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref not in relations:
            raise NotFound(ref)
        return relations[ref]

    out = _TABLE_REF.sub(table, sql)
    out = _FROM_UNNEST.sub(r"FROM (SELECT UNNEST(_u) FROM (SELECT UNNEST(\1) AS _u))", out)
    out = _IN_UNNEST.sub(r"list_contains($\2, \1)", out)
    return _PARAM.sub(r"$\1", out)


def parameters(query_parameters: list[dict[str, Any]] | None) -> dict[str, Any]:
    """REST ``queryParameters`` (named) as Python values."""
    out: dict[str, Any] = {}
    for p in query_parameters or []:
        name = p.get("name")
        if not name:
            raise InvalidQuery("Positional parameters are not supported by the sandbox; "
                               "name every parameter.")
        out[name] = _value(p.get("parameterType") or {}, p.get("parameterValue") or {})
    return out


def _value(ptype: dict[str, Any], pvalue: dict[str, Any]) -> Any:
    kind = str(ptype.get("type", "STRING")).upper()
    if kind == "ARRAY":
        inner = ptype.get("arrayType") or {}
        return [_value(inner, v) for v in pvalue.get("arrayValues") or []]
    raw = pvalue.get("value")
    if raw is None:
        return None
    try:
        if kind in ("INT64", "INTEGER"):
            return int(raw)
        if kind in ("FLOAT64", "FLOAT", "NUMERIC", "BIGNUMERIC"):
            return float(raw)
        if kind in ("BOOL", "BOOLEAN"):
            return str(raw).lower() == "true"
        if kind == "DATE":
            return dt.date.fromisoformat(str(raw))
    except ValueError as exc:
        raise InvalidQuery(f"Invalid {kind} parameter value {raw!r}") from exc
    if kind != "STRING":
        raise InvalidQuery(f"Parameter type {kind} is not supported by the sandbox.")
    return str(raw)
