"""The dbt Python models' statistics, called directly: scipy is imported only where a p-value
is computed, so small samples (every n below min_n_for_stats) never load it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "intermediate"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_model_{name}", MODELS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_samples_need_no_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules makes `import scipy` raise ImportError
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    comparison = _load("segment_comparison_tests")
    p, note = comparison.p_value(3, 10, 5, 40, 30)
    assert p is None and note.startswith("n below min_n_for_stats (30)")
    correlation = _load("quota_advocacy_correlation_tests")
    assert correlation.t_test_p(None, 40) is None and correlation.t_test_p(1.0, 40) == 0.0
    with pytest.raises(ImportError):  # ... and a real p-value does import it
        comparison.p_value(30, 60, 20, 60, 30)


def test_p_values_with_scipy() -> None:
    comparison = _load("segment_comparison_tests")
    p, note = comparison.p_value(30, 60, 20, 60, 30)
    assert note == "two_proportion_z_test" and p == pytest.approx(0.064078, abs=1e-5)  # z = 1.8516
    p, note = comparison.p_value(1, 40, 0, 40, 30)
    assert note.startswith("fisher_exact") and p == pytest.approx(1.0)
    correlation = _load("quota_advocacy_correlation_tests")
    assert correlation.t_test_p(0.5, 30) == pytest.approx(0.0049, abs=1e-5)  # t = 3.055, 28 df
