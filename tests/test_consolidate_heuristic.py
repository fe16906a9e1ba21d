"""The greedy-plus-local-search heuristic: feasible, never better than the optimum."""

from __future__ import annotations

import numpy as np
import pytest
from test_consolidate_model import brute_force, check_plan

from landplan.consolidate import ConsolidationModel, heuristic_plan
from landplan.consolidate._instances import random_instance, synthetic_district
from landplan.consolidate.heuristic import _knapsack, solve_instance
from landplan.consolidate.lns import improve_lns


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kw", [dict(stay=True), dict(stay=False, density=1.0),
                                dict(stay=True, pilot=True)])
def test_heuristic_feasible_and_not_better_than_optimum(seed, kw):
    inst = random_instance(6, 3, seed=seed, minimum=50, **kw)
    best, _ = brute_force(**inst)
    model = ConsolidationModel.from_cost_matrix(**inst)
    plan = heuristic_plan(model, time_limit=2)
    if plan is None:
        return  # allowed: the heuristic proves nothing (the MILP tests cover feasibility)
    assert best is not None
    assert plan.proof.objective >= best - 1e-6
    assert not plan.proven and plan.proof.status == "heuristic" and np.isnan(plan.proof.bound)
    check_plan(model, plan)


def test_heuristic_finds_a_plan_most_of_the_time():
    found = feasible = 0
    for seed in range(12):
        inst = random_instance(6, 3, seed=seed, minimum=50)
        if brute_force(**inst)[0] is None:
            continue
        feasible += 1
        found += heuristic_plan(ConsolidationModel.from_cost_matrix(**inst), 2) is not None
    assert found >= 0.75 * feasible


def test_heuristic_on_district_respects_every_rule():
    model = synthetic_district(5, 60, 8, seed=4)
    plan = model.solve_heuristic(time_limit=10)
    assert plan is not None
    check_plan(model, plan)
    milp = model.solve(time_limit=30, gap=1e-3)
    assert plan.proof.objective >= milp.proof.bound - 1e-6


def test_heuristic_none_when_infeasible():
    model = ConsolidationModel.from_cost_matrix(np.ones((3, 1)), demand=[40, 40, 40],
                                                capacity=[100], fixed_cost=[0], minimum=50)
    assert heuristic_plan(model, 1) is None


def test_knapsack_exact():
    value = np.array([10.0, 7.0, 6.0, -1.0])
    weight = np.array([5, 4, 3, 2])
    take = _knapsack(value, weight, cap=7, low=0)
    assert take.tolist() == [True, False, False, True] or value[take].sum() == 13.0
    assert value[take].sum() == 13.0                 # 7 + 6 (weight 7) beats 10 (weight 5)
    # a minimum forces the filler in
    take = _knapsack(np.array([5.0, -1.0]), np.array([3, 2]), cap=10, low=5)
    assert take.tolist() == [True, True]
    assert _knapsack(np.array([1.0]), np.array([3]), cap=10, low=5) is None


def test_lns_never_worse():
    model = synthetic_district(1, 60, 8, modes=["full"], seed=7)
    inst = model._inst
    a = solve_instance(inst, 2)
    b = improve_lns(inst, a, 3, size=3, sub_time=1)
    assert inst.violations(b) == []
    assert inst.objective(b) <= inst.objective(a) + 1e-6
