"""Relax-and-pack: the relaxation's bound is valid, packings keep every rule, plans are feasible."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_consolidate_model import brute_force

from landplan.consolidate import ConsolidationModel
from landplan.consolidate._core import STAY
from landplan.consolidate._formulation import build, solve_highs
from landplan.consolidate._instances import random_instance, synthetic_district
from landplan.consolidate._pipeline import PACK_MIN_ORIGINS, solve_component
from landplan.consolidate.packing import pack, relax_and_pack, relax_sites


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("kw", [dict(stay=True), dict(stay=False, density=1.0),
                                dict(stay=True, pilot=True)])
def test_relaxation_bound_never_above_the_optimum(seed, kw):
    raw = random_instance(6, 3, seed=seed, minimum=50, **kw)
    best, _ = brute_force(**raw)
    inst = ConsolidationModel.from_cost_matrix(**raw)._inst
    opened, movers, bound = relax_sites(inst, time_limit=5)
    if best is None:
        return      # nothing to compare with (the relaxation may still find a plan)
    assert bound <= best + 1e-6 * max(1.0, abs(best))
    assert opened is not None and movers.shape == (inst.n,)


def test_relaxation_bound_beats_the_lp_on_a_town():
    """Whole sites cut off the LP's half-started sites: the bound rises, stays below plans."""
    import highspy

    from landplan.consolidate._formulation import to_highs

    inst = synthetic_district(1, 120, 16, modes=["full"], seed=4, capacity_ratio=1.3)._inst
    mm = build(inst, "strong")
    h = to_highs(mm)
    h.setOptionValue("solve_relaxation", True)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    lp = h.getInfo().objective_function_value
    opened, _, bound = relax_sites(inst, mm, time_limit=20)
    assert bound > lp
    plan = solve_highs(inst, formulation="strong", time_limit=20, gap=1e-4)
    assert plan.assign is not None and bound <= plan.objective + 1e-6 * plan.objective


def test_pack_keeps_capacities_movers_and_allowed_pairs():
    inst = synthetic_district(1, 150, 20, modes=["full"], seed=7, capacity_ratio=1.1)._inst
    opened = np.zeros(inst.m, dtype=bool)
    opened[::2] = True
    movers = np.ones(inst.n, dtype=bool)
    movers[:30] = False
    a = pack(inst, opened, movers=movers, time_limit=1.0, seed=3)
    assert np.all(a[:30] == STAY)
    moved = a != STAY
    assert moved.sum() > 0
    assert np.all(opened[a[moved]])
    pairs = set(zip(inst.po.tolist(), inst.pd.tolist()))
    assert all((i, int(a[i])) in pairs for i in np.flatnonzero(moved))
    load = np.bincount(a[moved], weights=inst.demand[moved], minlength=inst.m)
    assert np.all(load <= inst.capacity + 1e-9)


def test_pack_stops_at_its_target():
    inst = synthetic_district(1, 150, 20, modes=["full"], seed=7, capacity_ratio=1.3)._inst
    opened = np.ones(inst.m, dtype=bool)
    # any packing meets a target of +inf: the greedy start is returned at once
    a = pack(inst, opened, time_limit=30.0, target=np.inf)
    load = np.bincount(a[a != STAY], weights=inst.demand[a != STAY], minlength=inst.m)
    assert np.all(load <= inst.capacity + 1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_relax_and_pack_gives_feasible_plans_above_its_bound(seed):
    inst = synthetic_district(1, 150, 20, modes=["full"], seed=seed, capacity_ratio=1.3)._inst
    assign, bound = relax_and_pack(inst, time_limit=4, seed=seed)
    assert assign is not None
    assert inst.violations(assign) == []
    assert inst.objective(assign) >= bound - 1e-6 * abs(bound)
    assert np.isfinite(bound)


def test_relax_and_pack_gives_only_a_bound_under_a_pilot_rule():
    inst = synthetic_district(1, 150, 20, modes=["pilot"], seed=1, capacity_ratio=1.3)._inst
    assign, bound = relax_and_pack(inst, time_limit=4)
    assert assign is None and np.isfinite(bound)
    plan = solve_highs(inst, formulation="strong", time_limit=10, gap=1e-4)
    assert plan.assign is not None and bound <= plan.objective + 1e-6 * abs(plan.objective)


def test_relax_and_pack_packs_a_tight_town_better_than_the_greedy_heuristic():
    """The case it is for: capacities ~1.3 x households, sites to be filled almost exactly."""
    from landplan.consolidate.heuristic import solve_instance

    inst = synthetic_district(1, 200, 27, modes=["full"], seed=1, capacity_ratio=1.3)._inst
    assign, bound = relax_and_pack(inst, time_limit=6)
    greedy = solve_instance(inst, time_limit=6)
    assert inst.violations(assign) == [] and inst.violations(greedy) == []
    assert inst.objective(assign) < inst.objective(greedy)
    # within half a percent of the relaxation's bound (greedy alone is over 1 % off)
    assert (inst.objective(assign) - bound) / inst.objective(assign) < 5e-3


def test_solve_component_takes_the_relaxations_bound():
    inst = synthetic_district(1, PACK_MIN_ORIGINS + 20, 16, modes=["full"], seed=4,
                              capacity_ratio=1.3)._inst
    import time

    res = solve_component(inst, deadline=time.perf_counter() + 8, gap=1e-6)
    _, _, bound = relax_sites(inst, time_limit=20)
    assert res.assign is not None and inst.violations(res.assign) == []
    # the part's bound is at least the relaxation's (HiGHS's own may be higher still)
    assert res.bound >= bound - 1e-6 * abs(bound)
    assert res.bound <= res.objective + 1e-6 * abs(res.objective)


def test_relaxation_stopped_at_a_looser_gap_keeps_a_valid_bound():
    """A helper stops the relaxation early (it wants the sites): its bound is still valid,
    no higher than the proven one, and its solution is within the gap of that bound."""
    inst = synthetic_district(1, 120, 16, modes=["full"], seed=4, capacity_ratio=1.3)._inst
    mm = build(inst, "strong")
    _, _, proven = relax_sites(inst, mm, time_limit=20)
    opened, movers, bound = relax_sites(inst, mm, time_limit=20, gap=2.5e-4)
    assert opened is not None and opened.any() and movers.all()
    assert bound <= proven + 1e-6 * abs(proven)
    assign, _ = relax_and_pack(inst, mm, time_limit=3, relax_gap=2.5e-4)
    assert inst.violations(assign) == [] and inst.objective(assign) >= proven - 1e-6


@pytest.mark.parametrize("mode", ["full", "pilot"])
def test_a_helper_alone_gives_a_feasible_plan_and_a_valid_bound(mode):
    """A helper (``search_first``) skips the greedy start when the packing gives a plan and
    stops its relaxation early; in a pilot town the packing gives none and it starts from
    the greedy plan. Either way: a feasible plan, a bound below it."""
    inst = synthetic_district(1, PACK_MIN_ORIGINS + 20, 16, modes=[mode], seed=2,
                              capacity_ratio=1.3)._inst
    res = solve_component(inst, deadline=time.perf_counter() + 6, gap=1e-3,
                          search_first=True)
    assert res.assign is not None and inst.violations(res.assign) == []
    assert np.isfinite(res.bound) and res.bound <= res.objective + 1e-6 * abs(res.objective)


def test_highs_for_the_bound_only_gives_a_valid_bound_above_the_lp():
    """A first worker sharing the search runs HiGHS without a start or root heuristics and
    stops once the root is done and the bound settles: the bound is valid (below the
    proven optimum) and at least the LP relaxation's."""
    import highspy

    from landplan.consolidate._formulation import ROOT_BOUND_OPTIONS, to_highs

    model = synthetic_district(1, 60, 8, modes=["full"], seed=6, capacity_ratio=1.2)
    inst = model._inst
    optimum = model.solve(time_limit=60, gap=0)
    assert optimum.proven
    mm = build(inst, "strong")
    res = solve_highs(inst, formulation="strong", time_limit=30, gap=0, mm=mm, settle=0.2,
                      options=ROOT_BOUND_OPTIONS)
    assert res.status in ("Interrupted by user", "Optimal")
    lp = to_highs(mm)
    lp.setOptionValue("solve_relaxation", True)
    lp.run()
    assert lp.getModelStatus() == highspy.HighsModelStatus.kOptimal
    relaxed = lp.getInfo().objective_function_value
    assert relaxed - 1e-6 * abs(relaxed) <= res.bound
    assert res.bound <= optimum.proof.objective + 1e-6 * abs(optimum.proof.objective)


def test_same_sites_adopter_takes_only_cheaper_plans_on_the_same_sites():
    """A search that only re-packs its sites takes over the board's plan only when it is
    cheaper, feasible and starts exactly those sites."""
    from landplan.consolidate._pipeline import Board, _Incumbent, same_sites_adopter
    from landplan.consolidate.heuristic import solve_instance

    inst = synthetic_district(1, 60, 8, modes=["full"], seed=6, capacity_ratio=1.2)._inst
    packed = relax_and_pack(inst, time_limit=1)[0]
    greedy = solve_instance(inst, 1)
    for plan in (packed, greedy):
        assert plan is not None and inst.violations(plan) == []
    assert set(packed[packed != STAY]) != set(greedy[greedy != STAY])
    board = Board([np.inf, -np.inf, 0.0], plan=np.zeros(inst.n, dtype=np.int32))
    adopt = same_sites_adopter(_Incumbent(inst, board), packed)
    cost = inst.objective(packed)
    assert adopt(cost) is None                      # nothing on the board yet
    board.offer(objective=cost - 1.0, assign=greedy)
    assert adopt(cost) is None                      # cheaper, but on other sites
    board.values[0] = np.inf
    board.offer(objective=cost - 2.0, assign=packed)
    got = adopt(cost)
    assert got is not None and np.array_equal(got[0], packed) and got[1] == cost - 2.0
    assert adopt(cost - 3.0) is None                # not cheaper than the searcher's own


@pytest.mark.parametrize("mode", ["full", "pilot"])
def test_a_first_worker_sharing_the_search_gives_a_feasible_plan_and_a_valid_bound(mode):
    """The first worker beside a helper (``share_search``): the relaxation's bound, HiGHS
    for the bound only, then the search. Even when no helper comes (it died), a feasible
    plan, a bound at least the relaxation's and below the plan."""
    inst = synthetic_district(1, PACK_MIN_ORIGINS + 20, 16, modes=[mode], seed=2,
                              capacity_ratio=1.3)._inst
    _, _, relaxed = relax_sites(inst, time_limit=20)
    res = solve_component(inst, deadline=time.perf_counter() + 8, gap=1e-4,
                          share_search=True)
    assert res.assign is not None and inst.violations(res.assign) == []
    assert res.bound >= relaxed - 1e-6 * abs(relaxed)
    assert res.bound <= res.objective + 1e-6 * abs(res.objective)


def test_a_first_worker_sharing_the_search_searches_from_the_helpers_plan(monkeypatch):
    """With a helper's plan on the board (the helper has joined), the first worker builds
    no start of its own: it takes the bound and re-packs the sites of the helper's plan,
    ending no worse than it, with a bound at least the relaxation's. (Its later HiGHS rounds
    may still find a plan on other sites: the searches are what keep to the helper's.)"""
    from landplan.consolidate import _pipeline
    from landplan.consolidate._core import started_sites
    from landplan.consolidate._pipeline import Board

    inst = synthetic_district(1, PACK_MIN_ORIGINS + 20, 16, modes=["full"], seed=2,
                              capacity_ratio=1.3)._inst
    _, _, relaxed = relax_sites(inst, time_limit=20)
    helpers_plan = relax_and_pack(inst, time_limit=0.5, relax_gap=1e-2)[0]
    cost = inst.objective(helpers_plan)
    searches, starts_built = [], []
    real_search = _pipeline.improve_lns

    def recording_search(inst_, start, *args, **kwargs):
        out = real_search(inst_, start, *args, **kwargs)
        searches.append((np.array(start), kwargs["keep_sites"], np.array(out)))
        return out

    monkeypatch.setattr(_pipeline, "improve_lns", recording_search)
    monkeypatch.setattr(_pipeline, "_warm_start", lambda *a, **k: starts_built.append(1))
    board = Board([cost, -np.inf, 1.0], plan=helpers_plan.astype(np.int32))
    res = solve_component(inst, deadline=time.perf_counter() + 8, gap=1e-5, board=board,
                          share_search=True, seed=3)
    assert inst.violations(res.assign) == []
    assert res.objective <= cost
    assert res.bound >= relaxed - 1e-6 * abs(relaxed)
    assert starts_built == []
    if res.status != "Optimal" or searches:     # a proof in the first round ends the run
        assert searches, "the first worker never searched"
        first_start = searches[0][0]
        assert np.array_equal(started_sites(first_start), started_sites(helpers_plan))
        assert inst.objective(first_start) <= cost
        for start, keep_sites, out in searches:
            assert keep_sites
            assert np.array_equal(started_sites(out), started_sites(start))
            assert inst.objective(out) <= inst.objective(start) + 1e-9 * abs(cost)


def test_highs_settles_only_when_told():
    """``settle`` interrupts a run for the bound only once ``settle_when`` says so: asked
    at each check after the root, false the first times, the run goes on meanwhile."""
    inst = synthetic_district(1, PACK_MIN_ORIGINS + 20, 16, modes=["full"], seed=2,
                              capacity_ratio=1.3)._inst
    from landplan.consolidate._formulation import ROOT_BOUND_OPTIONS

    asked = []

    def when():
        asked.append(time.perf_counter())
        return len(asked) > 5

    res = solve_highs(inst, formulation="strong", time_limit=60, gap=0, settle=0.0,
                      settle_when=when, options=ROOT_BOUND_OPTIONS)
    assert res.status in ("Interrupted by user", "Optimal")
    if res.status == "Interrupted by user":
        assert len(asked) == 6       # interrupted at the first check told yes
    never = solve_highs(inst, formulation="strong", time_limit=1.5, gap=0, settle=0.0,
                        settle_when=lambda: False, options=ROOT_BOUND_OPTIONS)
    assert never.status in ("Time limit reached", "Optimal")
