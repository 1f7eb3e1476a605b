"""Descriptions for the dbt tests Dagster shows as asset checks.

dagster-dbt takes a check's description from the test's dbt ``description``, which generic
tests (``unique``, ``not_null`` ...) never have: the Dagster UI listed 229 checks with none.
:func:`describe_test` says in one sentence what each test guarantees, from the test's own
metadata; a singular test is described by the comment it opens with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"""(?:ref|source)\(\s*['"]([^'"]+)['"](?:\s*,\s*['"]([^'"]+)['"])?\s*\)""")


def _named(expr: Any) -> str:
    """``ref('int_people')`` -> ``int_people``; ``source('hubspot', 'contacts')`` -> ``hubspot.contacts``."""
    found = _REF.search(str(expr))
    if not found:
        return str(expr)
    return ".".join(g for g in found.groups() if g)


def describe_test(node: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    if node.get("description"):
        return str(node["description"])
    meta = node.get("test_metadata") or {}
    kwargs = meta.get("kwargs") or {}
    attached = node.get("attached_node") or ""
    target = (manifest.get("nodes", {}).get(attached) or manifest.get("sources", {}).get(attached)
              or {})
    table = (f"{target['source_name']}.{target['name']}" if target.get("source_name")
             else target.get("name", "the model"))
    column = node.get("column_name") or kwargs.get("column_name") or ""
    where = f"{table}.{column}" if column else table
    severity = str((node.get("config") or {}).get("severity", "error")).lower()
    consequence = " A failure fails the run." if severity == "error" else " A failure is a warning."
    name = meta.get("name")
    if name == "unique":
        text = f"dbt test: every {where} is unique."
    elif name == "not_null":
        text = f"dbt test: {where} is never null."
    elif name == "accepted_values":
        values = ", ".join(str(v) for v in kwargs.get("values") or [])
        text = f"dbt test: {where} only takes the values {values}."
    elif name == "relationships":
        text = (f"dbt test: every {where} exists in {_named(kwargs.get('to'))}."
                f"{kwargs.get('field', '')}.")
    elif name == "between":
        text = (f"dbt test: {where} lies between {kwargs.get('min_value')} and "
                f"{kwargs.get('max_value')}.")
    elif name == "unique_combination":
        text = f"dbt test: ({', '.join(kwargs.get('columns') or [])}) is unique in {table}."
    elif name:
        text = f"dbt test {name} on {where}."
    else:   # singular: its opening comment (after its config line) says what it asserts
        text = _opening_comment(str(node.get("raw_code", ""))) or f"dbt test {node.get('name', '')}."
    return text + consequence


def _opening_comment(sql: str) -> str:
    """The first comment of a singular test, ``--`` lines or a ``{# #}`` block, past its
    ``{{ config(...) }}`` and blank lines."""
    lines = iter(sql.splitlines())
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("{{"):
            continue
        if stripped.startswith("--"):
            comment = [stripped.removeprefix("--").strip()]
            for more in lines:
                if not more.strip().startswith("--"):
                    break
                comment.append(more.strip().removeprefix("--").strip())
            return " ".join(comment)
        if stripped.startswith("{#"):
            block = [stripped.removeprefix("{#").lstrip("-").strip()]
            while "#}" not in block[-1]:
                block.append(next(lines, "#}").strip())
            text = " ".join(block)
            return text[:text.index("#}")].rstrip("-").strip()
        return ""
    return ""
