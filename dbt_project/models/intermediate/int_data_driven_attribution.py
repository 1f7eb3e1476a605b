"""Data-driven attribution with bootstrap intervals (DEFINITIONS.md "Data-driven attribution").

From the paths of int_attribution_paths (converting and non-converting, mature ones only):
  * markov: removal effects of an order-k Markov chain (var markov_order, 1 or 2), in closed
    form: the conversion probability from the start state is x[start] of x = N r, where
    N = (I - Q)^-1 is the absorbing chain's fundamental matrix (Q: transient -> transient,
    r: transient -> conversion); removing a channel sends every transition into a state that
    holds it to the null state. Credit share = removal effect / sum of removal effects.
  * shapley: exact Shapley values over the channels (at most attribution_max_players; the
    long tail grouped into "(other)"), of the game v(S) = conversion rate of the paths whose
    channel set is a subset of S (v of a coalition without any path = 0). The values add up
    to the overall conversion rate; credit share = value / sum of values.
  * leave_one_out (Google fractribution's "simplified Shapley"): each converting path's
    conversion is split over its channels in proportion to max(0, rate(S) - rate(S - c)),
    rate = conversion rate of the paths with exactly that channel set (equal split when every
    difference is 0).
Bootstrap: B replicates (var attribution_bootstrap_replicates, seeded by
attribution_bootstrap_seed) resampling clusters (persons for lead paths, accounts for
opportunities) with replacement; percentile 95 % intervals.

Rows of result 'credit' feed marts.data_driven_credit; rows of result 'comparison' feed
marts.model_comparison: advocacy's share of all pipeline (every opportunity's amount) under
the six rule models (int_attribution_weights) and under the data-driven models, whose
channel weights (learnt from lead paths: what brings pipeline) split each opportunity's
amount over the channels among its touches, with the rank of advocacy among the channels
and how often a replicate gives the same rank. A dbt Python model (numpy) because SQL has no
linear solve."""

import datetime as dt
import math
import warnings

import numpy as np
import pyarrow as pa

START, CONV, NULL = 0, 1, 2  # the Markov chain's fixed states; path states follow
OTHER = "(other)"
ADVOCACY = "advocacy"
DATA_DRIVEN = ("markov", "shapley", "leave_one_out")


# ---- the estimators, on integer-coded paths ----------------------------------------------
def markov_transitions(seqs, converted, order=1):
    """The chain of ``seqs`` (lists of player indices): (edge_path, edge_from, edge_to,
    state_players, n_states). A state is the tuple of the last ``order`` players (fewer at a
    path's start); every path runs start -> its states -> conversion or null."""
    index, state_players = {}, []
    edge_path, edge_from, edge_to = [], [], []
    for i, seq in enumerate(seqs):
        prev = START
        for j in range(len(seq)):
            state = tuple(seq[max(0, j - order + 1): j + 1])
            if state not in index:
                index[state] = len(index) + 3
                state_players.append(set(state))
            edge_path.append(i), edge_from.append(prev), edge_to.append(index[state])
            prev = index[state]
        edge_path.append(i), edge_from.append(prev), edge_to.append(CONV if converted[i] else NULL)
    return (np.array(edge_path, dtype=np.int64), np.array(edge_from, dtype=np.int64),
            np.array(edge_to, dtype=np.int64), state_players, len(index) + 3)


def transition_counts(chain, path_weights):
    edge_path, edge_from, edge_to, _, n = chain
    counts = np.bincount(edge_from * n + edge_to, weights=path_weights[edge_path], minlength=n * n)
    return counts.reshape(n, n)


def conversion_probability(counts, removed=()):
    """P(conversion | start) of the chain with transition ``counts``, in closed form: x = N r
    with N = (I - Q)^-1 (solved, not inverted). ``removed`` states: transitions into them go
    to the null state."""
    out = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, out, out=np.zeros_like(counts, dtype=float), where=out > 0)
    transient = [START, *range(3, counts.shape[0])]
    q = p[np.ix_(transient, transient)]
    r = p[transient, CONV]
    if len(removed):
        cols = [transient.index(s) for s in removed]
        q[:, cols] = 0.0
        r[cols] = 0.0
    return float(np.linalg.solve(np.eye(len(transient)) - q, r)[0])


def removal_effects(counts, state_players, n_players):
    """Removal effect of each player: 1 - P(conversion without it) / P(conversion)."""
    base = conversion_probability(counts)
    effects = np.zeros(n_players)
    if base <= 0:
        return effects
    for c in range(n_players):
        removed = [k + 3 for k, players in enumerate(state_players) if c in players]
        if removed:
            effects[c] = 1.0 - conversion_probability(counts, removed) / base
    return effects


def subset_sums(values, k):
    """out[S] = sum of values[T] over T subset of S (masks of k bits)."""
    out = np.array(values, dtype=float)
    for i in range(k):
        view = out.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    return out


def coalition_values(conv_by_mask, paths_by_mask, k):
    """v(S) = conversion rate of the paths whose channel set is a subset of S (0 without any)."""
    conv, paths = subset_sums(conv_by_mask, k), subset_sums(paths_by_mask, k)
    return np.divide(conv, paths, out=np.zeros_like(conv), where=paths > 0)


def shapley_values(v, k):
    """Exact Shapley values of the game ``v`` (indexed by bit mask) of ``k`` players."""
    masks = np.arange(1 << k)
    size = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
                       for s in range(k)])
    phi = np.zeros(k)
    for i in range(k):
        without = masks[(masks >> i) & 1 == 0]
        phi[i] = np.sum(weight[size[without]] * (v[without | (1 << i)] - v[without]))
    return phi


def leave_one_out_fractions(rate, masks, k):
    """Per mask: each member's max(0, rate(S) - rate(S - c)), normalised (equal split at 0)."""
    masks = np.asarray(masks, dtype=np.int64)
    bits = (masks[:, None] >> np.arange(k)) & 1
    drop = np.maximum(0.0, rate[masks][:, None] - rate[masks[:, None] & ~(1 << np.arange(k))]) * bits
    total = drop.sum(axis=1, keepdims=True)
    equal = bits / np.maximum(bits.sum(axis=1, keepdims=True), 1)
    return np.where(total > 0, drop / np.where(total > 0, total, 1.0), equal)


def apportion(weights, masks, k):
    """Each mask's split over its members in proportion to ``weights`` (clipped at 0; equal
    split when every member's weight is 0)."""
    masks = np.asarray(masks, dtype=np.int64)
    bits = ((masks[:, None] >> np.arange(k)) & 1).astype(float)
    w = bits * np.maximum(weights, 0.0)
    total = w.sum(axis=1, keepdims=True)
    equal = bits / np.maximum(bits.sum(axis=1, keepdims=True), 1)
    return np.where(total > 0, w / np.where(total > 0, total, 1.0), equal)


def _share(x):
    total = float(np.sum(x))
    return x / total if total != 0 else np.full(len(x), np.nan)


class PathSet:
    """The estimation paths of one kind and dimension, coded for fast bootstrap replicates."""

    def __init__(self, seqs, converted, clusters, players, order):
        self.players, self.k = players, len(players)
        self.converted = np.asarray(converted, dtype=float)
        self.clusters = np.asarray(clusters, dtype=np.int64)
        self.masks = np.array([sum(1 << c for c in set(s)) for s in seqs], dtype=np.int64)
        self.chain = markov_transitions(seqs, converted, order)
        bits = (self.masks[:, None] >> np.arange(self.k)) & 1
        self.n_paths = bits.sum(axis=0)
        self.n_converting = (bits * self.converted[:, None]).sum(axis=0)

    def by_mask(self, path_weights):
        conv = np.bincount(self.masks, weights=path_weights * self.converted, minlength=1 << self.k)
        paths = np.bincount(self.masks, weights=path_weights, minlength=1 << self.k)
        return conv, paths

    def estimate(self, path_weights):
        """{model: (credit shares, raw values)}, and the exact-set conversion rates."""
        conv, paths = self.by_mask(path_weights)
        effects = removal_effects(transition_counts(self.chain, path_weights), self.chain[3], self.k)
        phi = shapley_values(coalition_values(conv, paths, self.k), self.k)
        rate = np.divide(conv, paths, out=np.zeros_like(conv), where=paths > 0)
        converting = np.nonzero(conv)[0]
        loo = (conv[converting][:, None] * leave_one_out_fractions(rate, converting, self.k)).sum(axis=0)
        return {"markov": (_share(effects), effects), "shapley": (_share(phi), phi),
                "leave_one_out": (_share(loo), loo)}, rate


def players_of(counts, max_players):
    """Players by number of paths (ties: name); beyond ``max_players`` the tail is "(other)"."""
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    if len(ranked) <= max_players:
        return ranked, {c: c for c in ranked}
    head = ranked[: max_players - 1]
    return head + [OTHER], {c: (c if c in head else OTHER) for c in ranked}


def cluster_weights(rng, n_clusters):
    return np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters).astype(float)


def interval(samples, width):
    """Percentile 95 % interval per column of the replicates (NaN without any)."""
    samples = np.asarray(samples, dtype=float).reshape(-1, width)
    if samples.shape[0] == 0:
        return np.full(width, np.nan), np.full(width, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
        return np.nanpercentile(samples, 2.5, axis=0), np.nanpercentile(samples, 97.5, axis=0)


def rank_of(totals, i):
    """1 + the number of players credited strictly more than player ``i``."""
    return int(np.sum(totals > totals[i] + 1e-9)) + 1


# ---- the model ---------------------------------------------------------------------------
def read_paths(rows):
    """{kind: [(path_id, cluster, converted, mature, amount, [(channel, segment), ...])]}."""
    paths = {}
    for kind, pid, cluster, converted, mature, amount, position, channel, segment in rows:
        p = paths.setdefault((kind, pid), [cluster, bool(converted), bool(mature), amount, []])
        if position is not None:
            p[4].append((int(position), channel, segment))
    out = {"lead": [], "opportunity": []}
    for (kind, pid), (cluster, converted, mature, amount, touches) in sorted(paths.items()):
        steps = [(c, s) for _, c, s in sorted(touches)]
        out.setdefault(kind, []).append((pid, cluster, converted, mature, amount, steps))
    return out


def path_set(paths, dimension, max_players, order):
    """The PathSet of the mature paths with at least one touch, and the channel -> player map."""
    used = [p for p in paths if p[3] and p[5]]
    if not used:
        return None, {}
    at = 0 if dimension == "channel" else 1
    counts = {}
    for p in used:
        for member in {step[at] for step in p[5]}:
            counts[member] = counts.get(member, 0) + 1
    players, group = players_of(counts, max_players if dimension == "channel" else len(counts))
    code = {name: i for i, name in enumerate(players)}
    cluster_ids = {}
    clusters = [cluster_ids.setdefault(p[1], len(cluster_ids)) for p in used]
    seqs = [[code[group[step[at]]] for step in p[5]] for p in used]
    return PathSet(seqs, [p[2] for p in used], clusters, players, order), group


def bootstrap(rng, n_clusters, clusters, replicates, estimate):
    return [estimate(cluster_weights(rng, n_clusters)[clusters]) for _ in range(replicates)]


def credit_rows(kind, dimension, ps, replicates, seed, order):
    n_clusters = int(ps.clusters.max()) + 1
    ones = np.ones(len(ps.masks))
    point, _ = ps.estimate(ones)
    rng = np.random.default_rng([seed, 1 if kind == "lead" else 2, 1 if dimension == "channel" else 2])
    reps = bootstrap(rng, n_clusters, ps.clusters, replicates,
                     lambda w: {m: v[0] for m, v in ps.estimate(w)[0].items()})
    conversions = float(ps.converted.sum())
    rows = []
    for model in DATA_DRIVEN:
        share, raw = point[model]
        low, high = interval([r[model] for r in reps], len(ps.players))
        for i, member in enumerate(ps.players):
            rows.append({"result": "credit", "path_kind": kind, "dimension": dimension, "model": model,
                         "member": member, "credit": share[i], "ci_low": low[i], "ci_high": high[i],
                         "raw_value": raw[i], "credited_conversions": share[i] * conversions,
                         "n_paths": int(ps.n_paths[i]), "n_converting_paths": int(ps.n_converting[i]),
                         "n_replicates": replicates, "markov_order": order})
    return rows


def comparison_rows(opportunities, rule_credit, lead_set, lead_group, replicates, seed, order,
                    max_players):
    """Advocacy's share of all pipeline under every model, with intervals and rank stability."""
    if lead_set:
        players, group = list(lead_set.players), lead_group
        if {c for o in opportunities for c, _ in o[5]} - set(group) and OTHER not in players:
            players.append(OTHER)  # channels no lead path holds: weight 0 in the data-driven models
    else:  # no mature lead path: the rule models still rank the opportunities' channels
        counts = {}
        for o in opportunities:
            for c in {c for c, _ in o[5]}:
                counts[c] = counts.get(c, 0) + 1
        players, group = players_of(counts, max_players) if counts else ([OTHER], {})
    code = {name: i for i, name in enumerate(players)}
    k = len(players)

    def player(channel):
        return code[group.get(channel, OTHER)]

    index = {o[0]: i for i, o in enumerate(opportunities)}
    amount = np.array([float(o[4] or 0.0) for o in opportunities])
    cluster_ids = {}
    clusters = np.array([cluster_ids.setdefault(o[1], len(cluster_ids)) for o in opportunities], dtype=np.int64)
    masks = np.array([sum(1 << player(c) for c, _ in o[5]) for o in opportunities], dtype=np.int64)
    rules = {}
    for (opp, model, channel), credit in rule_credit.items():
        if opp in index and channel != "unattributed":
            if model not in rules:      # not setdefault: that allocates a matrix per credit row
                rules[model] = np.zeros((len(opportunities), k))
            rules[model][index[opp], player(channel)] += credit * amount[index[opp]]

    # the data-driven models split an opportunity by its channel set alone, so they are
    # computed once per distinct set (a few hundred) and weighted by the sets' amounts, not
    # once per opportunity (115,000 at scale 100: attribute() 31.0 -> 17.9 CPU s; docs/PERFORMANCE.md)
    sets, set_of = np.unique(masks, return_inverse=True)

    def data_driven(weights_of_lead_paths):
        """{model: each distinct channel set's split over the players}."""
        shares, rate = lead_set.estimate(weights_of_lead_paths)
        extra = k - lead_set.k  # 1 when "(other)" holds only channels no lead path has
        loo = np.pad(leave_one_out_fractions(rate, sets & ((1 << lead_set.k) - 1), lead_set.k),
                     ((0, 0), (0, extra)))
        if extra:
            loo[sets == 1 << (k - 1), k - 1] = 1.0
        return {"markov": apportion(np.pad(shares["markov"][1], (0, extra)), sets, k),
                "shapley": apportion(np.pad(shares["shapley"][1], (0, extra)), sets, k),
                "leave_one_out": loo}

    def summary(rule_matrices, set_fractions, opp_weights):
        out = {}
        # einsum, not @: these products are too small for BLAS, whose threads spin through
        # each of them (6x the CPU of the whole bootstrap on a busy 2-core machine,
        # docs/PERFORMANCE.md); the sums agree to ~1e-15
        weighted = opp_weights * amount
        total = float(np.sum(weighted))
        by_set = np.bincount(set_of, weights=weighted, minlength=len(sets))
        totals_of = {m: np.einsum("i,ij->j", opp_weights, x) for m, x in rule_matrices.items()}
        totals_of.update({m: np.einsum("u,uj->j", by_set, f) for m, f in set_fractions.items()})
        for model, totals in totals_of.items():
            adv = code.get(ADVOCACY)
            share = totals[adv] / total if adv is not None and total > 0 else (0.0 if total > 0 else np.nan)
            out[model] = (share, totals[adv] if adv is not None else 0.0, total,
                          rank_of(totals, adv) if adv is not None else None)
        return out

    ones_opp = np.ones(len(opportunities))
    point = summary(rules, data_driven(np.ones(len(lead_set.masks))) if lead_set else {}, ones_opp)
    rng_opp = np.random.default_rng([seed, 3])
    rng_lead = np.random.default_rng([seed, 4])
    n_opp_clusters = len(cluster_ids)
    reps = []
    for _ in range(replicates):
        ow = cluster_weights(rng_opp, n_opp_clusters)[clusters]
        fractions = {}
        if lead_set:
            lw = cluster_weights(rng_lead, int(lead_set.clusters.max()) + 1)[lead_set.clusters]
            fractions = data_driven(lw)
        reps.append(summary(rules, fractions, ow))
    rows = []
    for model, (share, credited, total, rank) in sorted(point.items()):
        low, high = interval([r[model][0] for r in reps], 1)
        same = [r[model][3] == rank for r in reps] if rank is not None else []
        rows.append({"result": "comparison", "path_kind": "opportunity", "dimension": "channel",
                     "model": model, "member": ADVOCACY, "credit": share, "ci_low": low[0],
                     "ci_high": high[0], "credited_amount": credited, "total_amount": total,
                     "n_paths": len(opportunities), "member_rank": rank, "n_members": k,
                     "rank_stability": (sum(same) / len(same)) if same else None,
                     "n_replicates": replicates,
                     "markov_order": order if model == "markov" else None})
    return rows


COLUMNS = {"result": pa.string(), "path_kind": pa.string(), "dimension": pa.string(),
           "model": pa.string(), "member": pa.string(), "credit": pa.float64(),
           "ci_low": pa.float64(), "ci_high": pa.float64(), "raw_value": pa.float64(),
           "credited_conversions": pa.float64(), "credited_amount": pa.float64(),
           "total_amount": pa.float64(), "n_paths": pa.int64(), "n_converting_paths": pa.int64(),
           "member_rank": pa.int64(), "n_members": pa.int64(), "rank_stability": pa.float64(),
           "n_replicates": pa.int64(), "markov_order": pa.int64()}


def attribute(path_rows, rule_rows, touch_rows, replicates=200, seed=18, order=1, max_players=12):
    """Every output row (dicts of COLUMNS) from the rows of the three inputs."""
    if order not in (1, 2):
        raise ValueError(f"var markov_order must be 1 or 2, not {order!r}")
    if replicates < 0:
        raise ValueError(f"var attribution_bootstrap_replicates must be 0 or more, not {replicates!r}")
    if not 2 <= max_players <= 16:
        raise ValueError(f"var attribution_max_players must be 2..16 (exact Shapley is 2^n), not {max_players!r}")
    paths = read_paths(path_rows)
    rows, sets = [], {}
    for kind in ("lead", "opportunity"):
        for dimension in ("channel", "segment"):
            ps, group = path_set(paths[kind], dimension, max_players, order)
            sets[kind, dimension] = (ps, group)
            if ps is not None:
                rows += credit_rows(kind, dimension, ps, replicates, seed, order)
    channel_of = {(o, t): c for o, t, c in touch_rows}
    rule_credit = {}
    for opp, touch, model, credit in rule_rows:
        key = (opp, model, channel_of.get((opp, touch), "unattributed"))
        rule_credit[key] = rule_credit.get(key, 0.0) + float(credit)
    lead_set, lead_group = sets["lead", "channel"]
    rows += comparison_rows(paths["opportunity"], rule_credit, lead_set, lead_group,
                            replicates, seed, order, max_players)
    return rows


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt.config.get with literal keys: dbt finds the keys a Python model reads by parsing
    # these calls, and passes only those (an alias such as cfg = dbt.config.get reads None)
    replicates = dbt.config.get("attribution_bootstrap_replicates")
    seed = dbt.config.get("attribution_bootstrap_seed")
    order = dbt.config.get("markov_order")
    max_players = dbt.config.get("attribution_max_players")
    rows = attribute(
        _rows(dbt.ref("int_attribution_paths"),
              ["path_kind", "path_id", "cluster_id", "is_converted", "is_mature", "amount",
               "touch_position", "channel", "segment"]),
        _rows(dbt.ref("int_attribution_weights"), ["opportunity_id", "touch_id", "model", "credit"]),
        _rows(dbt.ref("int_opportunity_touches"), ["opportunity_id", "touch_id", "channel"]),
        replicates=int(replicates if replicates not in (None, "") else 200),
        seed=int(seed if seed not in (None, "") else 18),
        order=int(order or 1),
        max_players=int(max_players or 12))
    return _output(session, pa.table({
        name: pa.array([_finite(r.get(name)) for r in rows], kind) for name, kind in COLUMNS.items()}))


def _finite(value):
    """numpy scalars -> Python; NaN (an undefined share, an interval of no replicate) -> null."""
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
# ---- adapter shim: dbt.ref() is a DuckDB relation on dbt-duckdb, a Snowpark / PySpark
# DataFrame on Snowflake / Databricks; the returned table is pyarrow for DuckDB, pandas elsewhere.
# The same in both Python models on purpose: a dbt Python model cannot import a project module
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
    return [tuple(_plain(v) for v in row) for row in frame.itertuples(index=False, name=None)]


def _plain(value):
    """pandas' missing values (NaN, NaT) -> None; timestamps of DATE columns -> dates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _output(session, table):
    """dbt-duckdb materialises a pyarrow table; other adapters take a pandas DataFrame."""
    return table if "duckdb" in type(session).__module__ else table.to_pandas()
