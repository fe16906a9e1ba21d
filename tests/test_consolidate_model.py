"""The consolidation MILP: optimality against brute force, invariants, honest proofs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from landplan.consolidate import TOTAL, ConsolidationModel, GroupRule, _formulation
from landplan.consolidate._instances import random_instance, synthetic_district
from landplan.errors import InfeasibleError


# --------------------------------------------------------------------------- brute force
def brute_force(cost, demand, capacity, fixed_cost, minimum, stay_cost=None, group_rules=None):
    """Optimal cost by enumerating every assignment (independent of the library's code).

    Returns (best cost, best assignment as a tuple of destination or -1) or (None, None).
    """
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    demand = np.asarray(demand, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    fixed = np.asarray(fixed_cost, dtype=float)
    low = np.broadcast_to(np.asarray(minimum, dtype=float), (m,))
    stay = np.full(n, np.nan) if stay_cost is None else np.asarray(stay_cost, dtype=float)
    options = []
    for i in range(n):
        opts = [j for j in range(m) if not np.isnan(cost[i, j])]
        if not np.isnan(stay[i]):
            opts.append(-1)
        options.append(opts)
    groups = []
    for rule in group_rules or []:
        member = {}
        for g, origins in rule.groups.items():
            for o in origins:
                member[int(o[1:])] = g
        hi = len(rule.groups) if rule.max_groups is None else rule.max_groups
        groups.append((member, rule.min_groups, hi))
    best, best_a = None, None
    for a in itertools.product(*options):
        load = np.zeros(m)
        total = 0.0
        for i, j in enumerate(a):
            if j < 0:
                total += stay[i]
            else:
                load[j] += demand[i]
                total += cost[i, j]
        used = load > 0
        if np.any(load > capacity + 1e-9) or np.any(used & (load < low - 1e-9)):
            continue
        ok = True
        for member, lo, hi in groups:
            part = {member[i] for i, j in enumerate(a) if j >= 0 and i in member}
            if not lo <= len(part) <= hi:
                ok = False
        if not ok:
            continue
        total += fixed[used].sum()
        if best is None or total < best - 1e-9:
            best, best_a = total, a
    return best, best_a


def check_plan(model: ConsolidationModel, plan) -> None:
    """Invariants every plan must satisfy (independent of the solver)."""
    inst = model._inst
    ids = list(inst.origin_ids)
    # every household moves or stays exactly once
    moved = plan.moves.groupby("origin")["households"].sum()
    stayed = plan.stays.groupby("origin")["households"].sum()
    both = moved.add(stayed, fill_value=0).reindex(ids)
    assert not both.isna().any(), "an origin is neither moved nor staying"
    np.testing.assert_allclose(both.to_numpy(dtype=float), model.households)
    assert not plan.moves["origin"].duplicated().any()
    # sites within their minimum and capacity
    s = plan.sites
    opened = s[s["opened"]]
    assert (opened["households"] >= opened["minimum"] - 1e-9).all()
    assert (s["households"] <= s["capacity"] + 1e-9).all()
    assert (s.loc[~s["opened"], "households"] == 0).all()
    gathered = plan.moves.groupby("destination")["households"].sum()
    np.testing.assert_allclose(s.set_index("destination")["households"].reindex(
        gathered.index).to_numpy(dtype=float), gathered.to_numpy(dtype=float))
    # only allowed pairs
    allowed = set(zip(inst.origin_ids[inst.po], inst.dest_ids[inst.pd]))
    assert set(zip(plan.moves["origin"], plan.moves["destination"])) <= allowed
    # must-move origins move
    must = set(inst.origin_ids[np.isnan(inst.stay) & (inst.demand > 0)])
    assert must <= set(plan.moves["origin"])
    # count rules
    for rule in inst.rules:
        movers = np.isin(inst.origin_ids, plan.moves["origin"].to_numpy())
        k = len(np.unique(rule.group_of[movers & (rule.group_of >= 0)]))
        assert rule.min_groups <= k <= rule.max_groups
    # the books balance
    assert plan.summary.loc[TOTAL, "cost"] == pytest.approx(plan.proof.objective, rel=1e-9)
    assert not plan.proof.bound > plan.proof.objective + 1e-6 * max(1, abs(plan.proof.objective))
    assert inst.violations(plan.assignment) == []


CASES = [(seed, kw) for seed in range(12) for kw in (
    dict(stay=True), dict(stay=False, density=1.0), dict(stay=True, pilot=True))]


@pytest.mark.parametrize("seed,kw", CASES)
@pytest.mark.parametrize("formulation", ["strong", "textbook"])
def test_milp_matches_brute_force(seed, kw, formulation):
    inst = random_instance(6, 3, seed=seed, minimum=50, **kw)
    best, _ = brute_force(**inst)
    model = ConsolidationModel.from_cost_matrix(**inst)
    if best is None:
        with pytest.raises(InfeasibleError) as err:
            model.solve(time_limit=20, gap=0, formulation=formulation)
        assert len(err.value.diagnosis) >= 1
        return
    plan = model.solve(time_limit=20, gap=0, formulation=formulation,
                       decompose=formulation == "strong")
    assert plan.proof.status == "optimal" and plan.proven
    assert plan.proof.objective == pytest.approx(best, abs=1e-6)
    check_plan(model, plan)


def test_minimum_binds_in_brute_force_cases():
    """The random cases really exercise the minimum: some optima differ without it."""
    differs = 0
    for seed in range(12):
        inst = random_instance(6, 3, seed=seed, minimum=50)
        with_min, _ = brute_force(**inst)
        inst["minimum"] = 0
        without, _ = brute_force(**inst)
        if with_min is None or without is None or with_min > without + 1e-9:
            differs += 1
    assert differs >= 4


def test_bigger_instance_matches_brute_force_with_pilot_rule():
    inst = random_instance(8, 3, seed=42, minimum=40, pilot=True)
    best, _ = brute_force(**inst)
    assert best is not None
    plan = ConsolidationModel.from_cost_matrix(**inst).solve(time_limit=20, gap=0)
    assert plan.proof.objective == pytest.approx(best, abs=1e-6)


def test_invariants_on_synthetic_district():
    model = synthetic_district(2, 60, 8, seed=3)
    plan = model.solve(time_limit=30, gap=1e-4)
    check_plan(model, plan)
    assert len(plan.components) >= 2          # towns solved separately
    assert plan.proof.bound == pytest.approx(plan.components["bound"].sum())
    assert plan.proof.objective == pytest.approx(plan.components["objective"].sum())


def test_decomposed_equals_whole():
    model = synthetic_district(2, 25, 5, seed=5)
    a = model.solve(time_limit=30, gap=0)
    b = model.solve(time_limit=30, gap=0, decompose=False, warm_start=False)
    assert a.proven and b.proven
    assert a.proof.objective == pytest.approx(b.proof.objective, rel=1e-9)


def test_time_limit_is_not_reported_optimal():
    model = synthetic_district(1, 300, 40, modes=["full"], seed=1)
    plan = model.solve(time_limit=2, gap=0)
    assert plan.proof.status in ("time_limit", "heuristic")
    assert not plan.proven
    assert plan.proof.gap > 0
    assert plan.proof.bound < plan.proof.objective
    assert plan.proof.time_s < 10
    assert (plan.components["status"] != "Optimal").any()
    check_plan(model, plan)


def test_heuristic_answer_when_solver_finds_nothing(monkeypatch):
    """The time limit ends before HiGHS has a plan: the heuristic's plan, marked unproven."""
    def no_plan(inst, **kw):
        return _formulation.ComponentResult(assign=None, objective=float("inf"), bound=-np.inf,
                                            status="Time limit reached", source="highs",
                                            time_s=0.0)
    monkeypatch.setattr("landplan.consolidate._pipeline.solve_highs", no_plan)
    model = synthetic_district(1, 40, 6, modes=["full"], seed=2)
    plan = model.solve(time_limit=5, warm_start=False, workers=1)
    assert plan.proof.status == "heuristic"
    assert not plan.proven
    assert np.isinf(plan.proof.gap)
    check_plan(model, plan)


def test_input_forms_agree():
    kw = random_instance(6, 3, seed=4, minimum=50, density=0.7)
    cost = kw.pop("cost")
    dense = ConsolidationModel.from_cost_matrix(cost, **kw).solve(gap=0)
    mask = ~np.isnan(cost)
    masked = ConsolidationModel.from_cost_matrix(np.nan_to_num(cost, nan=1e9), allowed=mask,
                                                 **kw).solve(gap=0)
    ii, jj = np.nonzero(mask)
    sp = sparse.coo_matrix((cost[ii, jj], (ii, jj)), shape=cost.shape)
    sparse_plan = ConsolidationModel.from_cost_matrix(sp, **kw).solve(gap=0)
    long = pd.DataFrame({"origin": [f"o{i}" for i in ii], "destination": [f"d{j}" for j in jj],
                         "cost": cost[ii, jj]})
    kw_long = dict(kw, demand=pd.Series(kw["demand"], index=[f"o{i}" for i in range(6)]),
                   capacity=pd.Series(kw["capacity"], index=[f"d{j}" for j in range(3)]))
    long_plan = ConsolidationModel.from_cost_matrix(long, **kw_long).solve(gap=0)
    objs = [p.proof.objective for p in (dense, masked, sparse_plan, long_plan)]
    assert objs == pytest.approx([objs[0]] * 4)


def test_ids_from_dataframe():
    cost = pd.DataFrame([[1.0, 2.0], [2.0, 1.0]], index=["h1", "h2"], columns=["S1", "S2"])
    plan = ConsolidationModel.from_cost_matrix(cost, demand=[30, 30], capacity=[100, 100],
                                               fixed_cost=[5, 5], minimum=50).solve()
    assert plan.moves["destination"].unique().tolist() in (["S1"], ["S2"])
    assert list(plan.sites["destination"]) == ["S1", "S2"]


def test_willing_households_split_between_moves_and_stays():
    model = ConsolidationModel.from_cost_matrix(
        np.array([[1.0], [1.0]]), demand=[30, 25], households=[40, 25], capacity=[100],
        fixed_cost=[0], minimum=50, origin_town=["T", "T"])
    plan = model.solve()
    assert plan.moves["households"].sum() == 55
    rest = plan.stays.set_index("origin")
    assert rest.loc["o0", "households"] == 10
    assert rest.loc["o0", "reason"] == "not willing to move"
    assert plan.summary.loc["T", ["households", "households_moved", "households_stayed"]
                            ].tolist() == [65, 55, 10]
    check_plan(model, plan)


def test_group_rule_limits_villages():
    # three villages, each alone can fill the site; the rule allows exactly one
    cost = np.ones((3, 1))
    rule = GroupRule.from_labels("pilot", ["o0", "o1", "o2"], ["v1", "v2", "v3"], 1, 1)
    model = ConsolidationModel.from_cost_matrix(
        -cost * np.array([[3.0], [2.0], [1.0]]), demand=[50, 50, 50], capacity=[200],
        fixed_cost=[0], minimum=50, stay_cost=[0, 0, 0], group_rules=[rule])
    plan = model.solve(gap=0)
    assert plan.moves["origin"].tolist() == ["o0"]


def test_objective_signs_and_offsets():
    # all origins may stay; staying is free; moving costs: nothing moves
    model = ConsolidationModel.from_cost_matrix(np.full((3, 2), 10.0), demand=[30, 30, 30],
                                                capacity=[100, 100], fixed_cost=[1, 1],
                                                minimum=50, stay_cost=[0, 0, 0])
    plan = model.solve()
    assert len(plan.moves) == 0 and plan.proof.objective == 0
    check_plan(model, plan)
