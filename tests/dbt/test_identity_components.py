"""The union-find of the dbt Python model int_identity_components (DEFINITIONS.md "People"):
roots are the smallest record of each component whatever the order of the links, links to
records out of scope are ignored, and a 30k-record group (a chain: the worst shape for label
spreading, a diameter of 30k) is grouped in well under a second."""

from __future__ import annotations

import importlib.util
import random
import time
from pathlib import Path

MODEL = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "intermediate" / "int_identity_components.py"


def _components():
    spec = importlib.util.spec_from_file_location("int_identity_components", MODEL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.components


def test_roots_are_the_smallest_member_in_any_link_order() -> None:
    components = _components()
    records = ["sf_lead:L1", "hubspot:10", "sf_contact:C1", "sf_contact:C2", "hubspot:11", "sf_lead:L2"]
    edges = [("hubspot:10", "sf_lead:L1"), ("sf_lead:L1", "sf_contact:C1"),
             ("sf_contact:C2", "sf_contact:C1"), ("hubspot:11", "sf_lead:L_deleted")]
    want = {"hubspot:10": "hubspot:10", "sf_lead:L1": "hubspot:10", "sf_contact:C1": "hubspot:10",
            "sf_contact:C2": "hubspot:10", "hubspot:11": "hubspot:11", "sf_lead:L2": "sf_lead:L2"}
    rng = random.Random(1)
    for _ in range(20):
        rng.shuffle(edges)
        shuffled = [(b, a) if rng.random() < 0.5 else (a, b) for a, b in edges]
        assert components(records, shuffled) == want


def test_a_30k_record_chain_is_one_group_in_near_linear_time() -> None:
    components = _components()
    n = 30_000
    records = [f"r{i:06d}" for i in range(n)]
    edges = [(records[i], records[i + 1]) for i in range(n - 1)]
    random.Random(2).shuffle(edges)
    started = time.perf_counter()
    roots = components(records, edges)
    seconds = time.perf_counter() - started
    assert set(roots.values()) == {"r000000"}
    # near-linear: a k^2 label spread would need ~9e8 steps here
    assert seconds < 2.0, seconds
