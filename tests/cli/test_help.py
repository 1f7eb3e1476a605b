"""``--help`` describes every command and every option, and promises nothing not done."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from pipelines.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]


def help_of(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", *args, "--help"],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return " ".join(proc.stdout.split())   # argparse wraps lines at the terminal width


def test_every_command_and_option_is_described():
    undescribed = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        if not parser.description and len(path) > 1:
            undescribed.append(" ".join(path))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif not action.help or action.help == argparse.SUPPRESS:
                undescribed.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), ["advocacy"])
    assert undescribed == []


def test_help_as_a_user_reads_it():
    top = help_of()
    assert "-v, --verbose print debug details" in top
    assert "copy .env.example to .env" in top
    demo = help_of("demo")
    assert "the whole product on a simulated company" in demo
    for option in ("--seed", "--scale", "--data-dir", "--fresh", "-v, --verbose"):
        assert option in demo
    assert "report" not in demo, "the demo writes no report: its help must not promise one"
    assert "demo.log" in demo and "warehouse.duckdb" in demo
    sync = help_of("sync")
    assert "--full-refresh ignore the saved cursors" in sync and "--env-file PATH" in sync
