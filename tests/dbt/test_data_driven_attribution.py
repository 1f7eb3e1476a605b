"""The data-driven attribution of the dbt Python model int_data_driven_attribution, called
directly (DEFINITIONS.md "Data-driven attribution"): the closed-form Markov chain against a
hand-computed chain and against an independent simulation, Shapley values against a
hand-computed game, leave-one-out by hand, and the bootstrap reproducible by its seed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

MODEL = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "intermediate" / "int_data_driven_attribution.py"


@pytest.fixture(scope="module")
def dd():
    spec = importlib.util.spec_from_file_location("_model_int_data_driven_attribution", MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chain(dd, seqs, converted, order=1):
    chain = dd.markov_transitions(seqs, converted, order)
    return chain, dd.transition_counts(chain, np.ones(len(seqs)))


def test_closed_form_markov_equals_a_hand_computed_three_channel_chain(dd) -> None:
    # A B conv | A null | B C conv | C null | A C conv  (A=0, B=1, C=2)
    # start: A 3/5, B 1/5, C 1/5; A: B, C, null 1/3 each; B: conv, C 1/2 each; C: conv 2/3.
    # P(C) = 2/3, P(B) = 1/2 + 1/2 * 2/3 = 5/6, P(A) = 1/3 * 5/6 + 1/3 * 2/3 = 1/2,
    # P = 3/5 * 1/2 + 1/5 * 5/6 + 1/5 * 2/3 = 3/5.
    # without A: 1/5 * 5/6 + 1/5 * 2/3 = 3/10 -> 1/2; without B: P(A) = 2/9,
    # 3/5 * 2/9 + 1/5 * 2/3 = 4/15 -> 5/9; without C: P(B) = 1/2, P(A) = 1/6, 1/10 + 1/10 -> 2/3.
    chain, counts = _chain(dd, [[0, 1], [0], [1, 2], [2], [0, 2]], [1, 0, 1, 0, 1])
    assert dd.conversion_probability(counts) == pytest.approx(0.6)
    effects = dd.removal_effects(counts, chain[3], 3)
    assert effects == pytest.approx([1 / 2, 5 / 9, 2 / 3])


def test_second_order_markov_remembers_the_channel_before(dd) -> None:
    # A C conv | B C null: order 1 sees C convert half the time, order 2 knows it is after A
    seqs, converted = [[0, 2], [1, 2]], [1, 0]
    chain, counts = _chain(dd, seqs, converted, order=1)
    assert dd.removal_effects(counts, chain[3], 3) == pytest.approx([0.5, 0.5, 1.0])
    chain, counts = _chain(dd, seqs, converted, order=2)
    assert dd.conversion_probability(counts) == pytest.approx(0.5)
    assert dd.removal_effects(counts, chain[3], 3) == pytest.approx([1.0, 0.0, 1.0])


def _simulated_removal_effects(seqs, converted, k, walkers=100_000, seed=7):
    """An independent estimate (ChannelAttribution's way): count the transitions from the
    paths with plain dicts, then walk the chain many times, removed channel -> null."""
    counts: dict[object, dict[object, int]] = {}
    for seq, conv in zip(seqs, converted, strict=True):
        states = ["start", *seq, "conv" if conv else "null"]
        for a, b in zip(states, states[1:], strict=False):
            counts.setdefault(a, {}).setdefault(b, 0)
            counts[a][b] += 1
    names = ["start", "conv", "null", *range(k)]
    idx = {n: i for i, n in enumerate(names)}
    p = np.zeros((len(names), len(names)))
    for a, row in counts.items():
        total = sum(row.values())
        for b, n in row.items():
            p[idx[a], idx[b]] = n / total
    rng = np.random.default_rng(seed)

    def rate(removed):
        state = np.zeros(walkers, dtype=int)
        alive = np.ones(walkers, dtype=bool)
        while alive.any():
            u = rng.random(alive.sum())
            nxt = (np.cumsum(p[state[alive]], axis=1) < u[:, None]).sum(axis=1)
            if removed is not None:
                nxt[nxt == idx[removed]] = idx["null"]
            state[alive] = nxt
            alive &= state > 2
        return float(np.mean(state == idx["conv"]))

    base = rate(None)
    return base, [1 - rate(c) / base for c in range(k)]


def test_closed_form_markov_agrees_with_a_simulation_on_random_paths(dd) -> None:
    rng = np.random.default_rng(2026)
    k, seqs, converted = 4, [], []
    for _ in range(3000):
        seq = list(rng.integers(0, k, rng.integers(1, 5)))
        seqs.append([int(c) for c in seq])
        # channel 0 helps, channel 3 hurts: removal effects differ clearly
        converted.append(int(rng.random() < 0.15 + 0.25 * (0 in seq) - 0.1 * (3 in seq)))
    chain, counts = _chain(dd, seqs, converted)
    base, simulated = _simulated_removal_effects(seqs, converted, k)
    assert dd.conversion_probability(counts) == pytest.approx(base, abs=0.01)
    assert dd.removal_effects(counts, chain[3], k) == pytest.approx(simulated, abs=0.03)


def test_shapley_equals_a_hand_computed_three_player_game(dd) -> None:
    # v(1)=1, v(2)=2, v(3)=3, v(12)=4, v(13)=5, v(23)=6, v(123)=9 (bit i = player i+1):
    # phi_1 = 1/3*1 + 1/6*(4-2) + 1/6*(5-3) + 1/3*(9-6) = 2, phi_2 = 3, phi_3 = 4
    v = np.array([0, 1, 2, 4, 3, 5, 6, 9], dtype=float)
    assert dd.shapley_values(v, 3) == pytest.approx([2.0, 3.0, 4.0])


def test_shapley_game_is_the_conversion_rate_of_the_subsets(dd) -> None:
    # paths {A}: 2, 1 converting; {B}: 1, none; {A,B}: 1, converting.
    # v(A) = 1/2, v(B) = 0, v(AB) = 2/4: phi_A = 1/2 (1/2 - 0) + 1/2 (1/2 - 0) = 1/2, phi_B = 0
    conv = np.array([0, 1, 0, 1], dtype=float)
    paths = np.array([0, 2, 1, 1], dtype=float)
    v = dd.coalition_values(conv, paths, 2)
    assert v == pytest.approx([0, 0.5, 0, 0.5])
    assert dd.shapley_values(v, 2) == pytest.approx([0.5, 0.0])


def test_leave_one_out_by_hand(dd) -> None:
    # exact sets: {A} 2 paths 1 conv, {B} 1 path 0 conv, {A,B} 2 paths 2 conv.
    # {A}'s conversion -> A; {A,B}: A drops 1 - rate(B) = 1, B drops 1 - rate(A) = 1/2, so
    # its 2 conversions split 4/3 : 2/3. A = 7/3, B = 2/3.
    ps = dd.PathSet([[0], [0], [1], [0, 1], [1, 0]], [1, 0, 0, 1, 1], [0, 1, 2, 3, 4], ["A", "B"], 1)
    estimates, _ = ps.estimate(np.ones(5))
    share, raw = estimates["leave_one_out"]
    assert raw == pytest.approx([7 / 3, 2 / 3]) and share == pytest.approx([7 / 9, 2 / 9])


def test_the_long_tail_is_one_player(dd) -> None:
    counts = {f"c{i:02d}": 100 - i for i in range(14)}
    players, group = dd.players_of(counts, 12)
    assert players == [f"c{i:02d}" for i in range(11)] + ["(other)"]
    assert group["c13"] == group["c11"] == "(other)" and group["c00"] == "c00"


def _rows():
    """Paths of 60 persons and 40 opportunities (deterministic), and rule credit."""
    rng = np.random.default_rng(3)
    paths, weights, touches = [], [], []
    channels = ["advocacy", "organic", "email"]
    for i in range(60):
        seq = [channels[c] for c in rng.integers(0, 3, rng.integers(1, 4))]
        conv = bool(rng.random() < (0.6 if "advocacy" in seq else 0.2))
        for pos, ch in enumerate(seq, 1):
            paths.append(("lead", f"p{i}", f"p{i}", conv, True, None, pos, ch,
                          "advocacy" if ch == "advocacy" else "other"))
    paths.append(("lead", "young", "young", False, False, None, 1, "email", "other"))  # not mature
    paths.append(("lead", "none", "none", False, True, None, None, None, None))  # no touch
    for j in range(40):
        ch = channels[j % 3]
        paths.append(("opportunity", f"o{j}", f"acc{j % 25}", j % 2 == 0, True, 100.0 * (j + 1), 1, ch,
                      "advocacy" if ch == "advocacy" else "other"))
        touches.append((f"o{j}", f"t{j}", ch))
        weights.append((f"o{j}", f"t{j}", "linear", 1.0))
    return paths, weights, touches


def test_bootstrap_is_reproducible_by_its_seed(dd) -> None:
    paths, weights, touches = _rows()
    first = dd.attribute(paths, weights, touches, replicates=25, seed=5)
    again = dd.attribute(paths, weights, touches, replicates=25, seed=5)
    other = dd.attribute(paths, weights, touches, replicates=25, seed=6)
    assert first == again
    assert [r["ci_low"] for r in first] != [r["ci_low"] for r in other]
    # every point estimate is the same whatever the seed: only the intervals move
    assert [r["credit"] for r in first] == [r["credit"] for r in other]
    credit = [r for r in first if r["result"] == "credit"]
    assert {r["n_replicates"] for r in first} == {25}
    for kind in ("lead", "opportunity"):
        for model in dd.DATA_DRIVEN:
            shares = [r["credit"] for r in credit if (r["path_kind"], r["dimension"], r["model"]) == (kind, "channel", model)]
            assert sum(shares) == pytest.approx(1.0)
    lead = [r for r in credit if r["path_kind"] == "lead" and r["dimension"] == "segment" and r["model"] == "markov"]
    assert sum(r["n_paths"] for r in lead) >= 60 and max(r["n_paths"] for r in lead) <= 60  # young and none left out


def test_model_comparison_shares_and_rank(dd) -> None:
    paths, weights, touches = _rows()
    rows = {r["model"]: r for r in dd.attribute(paths, weights, touches, replicates=20, seed=1)
            if r["result"] == "comparison"}
    amounts = [100.0 * (j + 1) for j in range(40)]
    advocacy = sum(a for j, a in enumerate(amounts) if j % 3 == 0)
    # one touch per opportunity: every model gives it all its amount
    for model in ("linear", "markov", "shapley", "leave_one_out"):
        assert rows[model]["credit"] == pytest.approx(advocacy / sum(amounts))
        assert rows[model]["ci_low"] <= rows[model]["credit"] <= rows[model]["ci_high"]
        assert 0 <= rows[model]["rank_stability"] <= 1 and rows[model]["member_rank"] >= 1


def test_without_mature_lead_paths_only_the_rule_models_are_compared(dd) -> None:
    paths, weights, touches = _rows()
    young = [(*p[:4], False, *p[5:]) if p[0] == "lead" else p for p in paths]
    rows = {r["model"]: r for r in dd.attribute(young, weights, touches, replicates=5, seed=1)
            if r["result"] == "comparison"}
    assert set(rows) == {"linear"}  # the rule models present in the weights
    assert rows["linear"]["credit"] == pytest.approx(sum(100.0 * (j + 1) for j in range(0, 40, 3)) / 82000.0)
    assert rows["linear"]["member_rank"] >= 1 and rows["linear"]["n_members"] == 3


def test_bad_configuration_is_a_clear_error(dd) -> None:
    with pytest.raises(ValueError, match="markov_order must be 1 or 2"):
        dd.attribute([], [], [], order=3)


def test_comparison_splits_each_multi_channel_opportunity_by_the_learnt_weights(dd) -> None:
    """The data-driven comparison is computed per distinct channel set (docs/PERFORMANCE.md);
    it must equal splitting every opportunity on its own by the lead paths' Markov and
    Shapley values, here with opportunities of one, two and three channels."""
    paths, _, _ = _rows()
    paths = [p for p in paths if p[0] == "lead"]
    channels = ["advocacy", "organic", "email"]      # the lead paths' channels
    touches, weights, opportunities = [], [], []
    for j in range(30):
        held = channels[: 1 + j % 3] if j % 2 else channels[j % 3:]
        amount = 50.0 * (j + 1)
        opportunities.append((amount, held))
        for pos, ch in enumerate(held, 1):
            paths.append(("opportunity", f"o{j}", f"acc{j % 7}", True, True, amount, pos, ch,
                          "advocacy" if ch == "advocacy" else "other"))
            touches.append((f"o{j}", f"t{j}{pos}", ch))
            weights.append((f"o{j}", f"t{j}{pos}", "linear", 1.0 / len(held)))
    rows = dd.attribute(paths, weights, touches, replicates=10, seed=3)
    total = sum(a for a, _ in opportunities)
    for model in ("markov", "shapley"):
        raw = {r["member"]: r["raw_value"] for r in rows if r["result"] == "credit" and
               (r["path_kind"], r["dimension"], r["model"]) == ("lead", "channel", model)}
        credited = 0.0
        for amount, held in opportunities:
            w = {c: max(raw[c], 0.0) for c in held}
            split = {c: (w[c] / sum(w.values()) if sum(w.values()) > 0 else 1 / len(held)) for c in held}
            credited += amount * split.get("advocacy", 0.0)
        row = next(r for r in rows if r["result"] == "comparison" and r["model"] == model)
        assert row["credit"] == pytest.approx(credited / total, rel=1e-12)
        assert row["total_amount"] == pytest.approx(total)
        assert row["ci_low"] <= row["ci_high"]
