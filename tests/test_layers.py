"""Layers point one way: ``connectors/`` (plain connectors, the raw layer, the sandbox) imports
nothing of the orchestration or the application on top of it. The command line and Dagster
live in ``pipelines/`` and may import everything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("pipelines", "dagster", "dagster_dbt", "dagster_duckdb", "dagster_webserver", "dbt")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
              in ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def _violations(package: Path) -> list[str]:
    bad = []
    for path in sorted(package.rglob("*.py")):
        for lineno, module in _imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    return bad


def test_connectors_import_nothing_of_dagster_dbt_or_the_application() -> None:
    assert _violations(ROOT / "connectors") == []


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("import dagster as dg\n")
    (pkg / "b.py").write_text("def f():\n    from pipelines.cli import sync\n")
    (pkg / "c.py").write_text("import importlib\nimportlib.import_module('pipelines.definitions')\n")
    (pkg / "ok.py").write_text("import duckdb\nfrom connectors import warehouse\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = _violations(pkg)
    finally:
        ROOT = saved
    assert [line.split(" imports ")[1] for line in found] == [
        "dagster", "pipelines.cli", "pipelines.definitions"]


@pytest.mark.parametrize("module", ["pipelines.cli.main", "pipelines.cli.sync", "pipelines.cli.check"])
def test_the_command_line_lives_in_pipelines(module: str) -> None:
    import importlib

    assert importlib.import_module(module) is not None
