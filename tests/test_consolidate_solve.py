"""The solve pipeline: pilot-rule rows, neighbourhood search, shared plans, worker processes."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time

import numpy as np
import pytest
from test_consolidate_model import brute_force, check_plan

from landplan.consolidate import ConsolidationModel, lns
from landplan.consolidate._core import gap_of
from landplan.consolidate._formulation import build, to_highs
from landplan.consolidate._instances import random_instance, synthetic_district
from landplan.consolidate._pipeline import Board, solve_component
from landplan.consolidate.heuristic import solve_instance
from landplan.consolidate.lns import (MERGE_MAX_ORIGINS, POOL_ROOM, SCATTER_ROOMY,
                                     Neighbourhoods, improve_lns, merge_plans, pool_sites,
                                     scattered_sites, solve_neighbourhood)
from landplan.consolidate.packing import relax_and_pack


def _lp_bound(inst, formulation):
    h = to_highs(build(inst, formulation))
    h.setOptionValue("solve_relaxation", True)
    h.run()
    return h.getInfo().objective_function_value


def test_pilot_rows_charge_a_whole_site_in_the_relaxation():
    """A pilot town where every move costs and every site has the minimum: at least one
    village must take part, so some site starts. The strong model's relaxation pays a
    whole site's fixed cost and the minimum's households; the textbook one a fraction."""
    model = synthetic_district(1, 60, 8, modes=["pilot"], seed=11, apartments_per_town=0)
    inst = model._inst
    assert (inst.pc > 0).all() and np.nansum(inst.stay) == 0
    strong = _lp_bound(inst, "strong")
    textbook = _lp_bound(inst, "textbook")
    cheapest_site = inst.fixed[inst.minimum > 0].min()
    per_household = (inst.pc / inst.demand[inst.po]).min()
    assert strong >= cheapest_site + 50 * per_household - 1e-6
    assert textbook < 0.5 * strong
    plan = model.solve(time_limit=20, gap=1e-4)
    assert plan.proven and plan.proof.objective >= strong - 1e-6
    check_plan(model, plan)


def test_lns_keeps_count_rules_and_never_worsens():
    """From the heuristic's plans on pilot instances: feasible, no worse, never below the
    optimum found by enumeration; and the search does improve some of them."""
    tried = improved = 0
    for seed in range(40):
        kw = random_instance(8, 3, seed=seed, minimum=40, pilot=True)
        inst = ConsolidationModel.from_cost_matrix(**kw)._inst
        start = solve_instance(inst, 1)
        if start is None:                  # the heuristic found nothing (proves nothing)
            continue
        best, _ = brute_force(**kw)
        better = improve_lns(inst, start, 2, size=2, sub_time=0.3, seed=seed)
        assert inst.violations(better) == []
        assert best - 1e-6 <= inst.objective(better) <= inst.objective(start) + 1e-6
        # scattered neighbourhoods (sites picked at random) keep the rules too
        scattered = improve_lns(inst, start, 1, sub_time=0.3, seed=seed, scatter=1.0)
        assert inst.violations(scattered) == []
        assert best - 1e-6 <= inst.objective(scattered) <= inst.objective(start) + 1e-6
        # keeping the sites (the helper's search): no site starts, hamlets only re-packed
        kept = improve_lns(inst, start, 1, sub_time=0.3, seed=seed, scatter=0.5,
                           keep_sites=True)
        assert inst.violations(kept) == []
        assert set(kept[kept >= 0]) <= set(start[start >= 0])
        assert best - 1e-6 <= inst.objective(kept) <= inst.objective(start) + 1e-6
        tried += 1
        improved += inst.objective(better) < inst.objective(start) - 1e-6
    assert tried >= 8 and improved >= 1


def _two_clusters(seed_a: int, seed_b: int) -> dict:
    """Two random instances side by side, no pair between them; every hamlet may stay."""
    a = random_instance(5, 2, seed=seed_a, stay=False)
    b = random_instance(5, 2, seed=seed_b, stay=False)
    cost = np.full((10, 4), np.nan)
    cost[:5, :2], cost[5:, 2:] = a["cost"], b["cost"]
    demand = np.concatenate([a["demand"], b["demand"]])
    return dict(cost=cost, demand=demand,
                capacity=np.concatenate([a["capacity"], b["capacity"]]),
                fixed_cost=np.concatenate([a["fixed_cost"], b["fixed_cost"]]), minimum=50,
                stay_cost=demand * 40.0)


@pytest.mark.parametrize("seeds", [(1, 2), (3, 4), (5, 6)])
def test_merging_two_workers_plans_keeps_the_gains_of_both(seeds):
    """Two workers each improved the all-stay plan in one of two separate clusters: the
    merge of their plans is the optimum of both (checked by enumeration), below each."""
    kw = _two_clusters(*seeds)
    inst = ConsolidationModel.from_cost_matrix(**kw)._inst
    best, best_assign = brute_force(**kw)
    best_assign = np.array(best_assign)
    stay = np.full(10, -1)
    one, two = stay.copy(), stay.copy()
    one[:5], two[5:] = best_assign[:5], best_assign[5:]
    # both clusters must gain by moving, or the case proves nothing
    assert inst.objective(one) < inst.objective(stay) - 1e-6
    assert inst.objective(two) < inst.objective(stay) - 1e-6
    mm = build(inst)
    for own, other in ((one, two), (two, one)):
        plan, cost = merge_plans(mm, inst, mm.start_vector(inst, other), own, other,
                                 time_limit=5)
        assert inst.violations(plan) == []
        assert cost == pytest.approx(best) == pytest.approx(inst.objective(plan))
        assert cost < min(inst.objective(one), inst.objective(two)) - 1e-6
    # nothing to merge: the same plan, or plans too far apart for a quick MILP
    assert merge_plans(mm, inst, mm.start_vector(inst, one), one, one, time_limit=5) is None
    far = synthetic_district(1, 2 * MERGE_MAX_ORIGINS, 30, modes=["full"], seed=3)._inst
    plan = solve_instance(far, 1)
    moved = np.roll(plan, 1)          # not a plan: every origin placed differently
    fmm = build(far)
    assert merge_plans(fmm, far, fmm.start_vector(far, plan), moved, plan,
                       time_limit=5) is None


def test_a_neighbourhood_returns_the_plan_it_reports():
    """HiGHS 1.16, given a start that its presolve's reduced problem finds optimal, reports
    the better objective but returns the start's values: the neighbourhood's MILP must
    return the better plan and that plan's own cost (the enumerated optimum here)."""
    kw = _two_clusters(3, 4)
    inst = ConsolidationModel.from_cost_matrix(**kw)._inst
    best, best_assign = brute_force(**kw)
    start = np.full(10, -1)
    start[5:] = np.array(best_assign)[5:]         # the second cluster at its optimum
    mm = build(inst)
    values, cost = solve_neighbourhood(mm, inst, mm.start_vector(inst, start),
                                       np.arange(4), np.arange(10), time_limit=5)
    plan = mm.assignment(inst, values)
    assert cost == pytest.approx(float(mm.c @ values) + mm.offset)
    assert cost == pytest.approx(best) == pytest.approx(inst.objective(plan))


def test_a_search_taking_over_anothers_plan_merges_its_own_gains(monkeypatch):
    """A search handed a plan (as from another worker) that lacks the search's own gains
    merges them in at once, before its next step: a plan below the one handed over. Two
    separate clusters: the search starts with every hamlet in place and is handed, once it
    has gained in the first cluster, a plan that gains in the second only."""
    kw = _two_clusters(3, 4)
    inst = ConsolidationModel.from_cost_matrix(**kw)._inst
    best, best_assign = brute_force(**kw)
    stay = np.full(10, -1)
    other = stay.copy()
    other[5:] = np.array(best_assign)[5:]
    events, current = [], [stay]

    def first_cluster_gains(plan):
        alone = stay.copy()
        alone[:5] = plan[:5]
        return inst.objective(alone) < inst.objective(stay) - 1e-6

    def adopt(cost):
        if "handed" in events or not first_cluster_gains(current[0]):
            return None
        events.append("handed")
        return other.copy(), inst.objective(other)

    def on_improve(plan, cost):
        current[0] = plan.copy()
        events.append(("better", cost, inst.violations(plan)))

    def merge(*args, **kw):
        out = merge_plans(*args, **kw)
        events.append(("merge", None if out is None else out[1]))
        return out

    monkeypatch.setattr(lns, "merge_plans", merge)
    found = improve_lns(inst, stay, 3, size=2, seed=1, adopt=adopt, on_improve=on_improve)
    assert "handed" in events, "the search never gained in the first cluster"
    k = events.index("handed")
    merged, offered = events[k + 1], events[k + 2]
    assert merged[0] == "merge", "no merge right after taking the plan over"
    assert merged[1] < inst.objective(other) - 1e-6
    assert offered == ("better", merged[1], [])
    assert inst.objective(found) == pytest.approx(best)


def test_scattered_neighbourhoods_improve_a_packed_town():
    """On a town whose started sites are nearly full, re-packing sites picked at random
    across the town improves the packing start, feasibly, above the relaxation's bound."""
    inst = synthetic_district(1, 160, 18, modes=["full"], seed=11, capacity_ratio=1.1)._inst
    start, bound = relax_and_pack(inst, time_limit=1, seed=0)
    assert start is not None and inst.violations(start) == []
    better = improve_lns(inst, start, 6, seed=0, scatter=1.0)
    assert inst.violations(better) == []
    assert bound - 1e-6 <= inst.objective(better) < inst.objective(start) - 1e-6
    # re-packing only (the helper's search) keeps the packing's sites and improves too
    kept = improve_lns(inst, start, 6, seed=0, scatter=0.5, keep_sites=True)
    assert inst.violations(kept) == []
    assert set(kept[kept >= 0]) <= set(start[start >= 0])
    assert bound - 1e-6 <= inst.objective(kept) < inst.objective(start) - 1e-6


def test_scattered_neighbourhoods_always_hold_sites_with_room():
    """Every scattered neighbourhood holds started sites only, as many as the share says,
    and up to ``SCATTER_ROOMY`` of the sites with room to spare (when the plan has any):
    those are where a nearly full packing loses. With every site full, any started sites."""
    inst = synthetic_district(1, 160, 18, modes=["full"], seed=11, capacity_ratio=1.1)._inst
    plan, _ = relax_and_pack(inst, time_limit=1, seed=0)
    started = np.unique(plan[plan >= 0])
    moved = plan >= 0
    load = np.bincount(plan[moved], weights=inst.demand[moved], minlength=inst.m)
    roomy = started[load[started] < inst.capacity[started]]
    assert len(started) >= 6 and len(roomy) >= 1
    k = max(2, round(0.3 * len(started)))
    rng = np.random.default_rng(0)
    seen = np.zeros(inst.m)
    for _ in range(200):
        sites = scattered_sites(inst, plan, started, rng)
        assert len(sites) == k == len(np.unique(sites)) and np.isin(sites, started).all()
        assert np.isin(roomy, sites).sum() >= min(SCATTER_ROOMY, len(roomy), k)
        seen[sites] += 1
    # the full sites are all picked too, now and then
    assert (seen[started] > 0).all()
    # every started site filled to its load: no site has room, k sites picked anywhere
    full = dataclasses.replace(inst, capacity=np.where(load > 0, load, inst.capacity))
    sites = scattered_sites(full, plan, started, rng)
    assert len(sites) == k and np.isin(sites, started).all()


def test_scattered_neighbourhoods_free_the_hamlets_of_sites_with_much_room():
    """A started site with ``POOL_ROOM`` free places or more (a town-apartment block that
    takes a town's overflow) is a pool: a scattered neighbourhood frees its hamlets that
    could move in, as it frees the staying ones; no other hamlet outside it is freed."""
    inst = synthetic_district(1, 160, 18, modes=["full"], seed=11, capacity_ratio=1.3)._inst
    plan, _ = relax_and_pack(inst, time_limit=1, seed=0)
    moved = plan >= 0
    load = np.bincount(plan[moved], weights=inst.demand[moved], minlength=inst.m)
    pool = pool_sites(inst, plan)
    roomy = (load > 0) & (inst.capacity - load >= POOL_ROOM)
    assert pool.tolist() == np.flatnonzero(roomy).tolist()
    assert len(pool) >= 1
    hoods = Neighbourhoods(inst)
    started = np.unique(plan[moved])
    rng = np.random.default_rng(1)
    grew = 0
    for _ in range(20):
        sites = scattered_sites(inst, plan, started, rng)
        plain = hoods.origins(sites, plan, "repack")
        freed = hoods.origins(sites, plan, "repack", pool)
        assert set(plain) <= set(freed)
        reach = hoods.inc[:, sites].any(axis=1)
        extra = np.setdiff1d(freed, plain)
        assert np.isin(plan[extra], pool).all() and reach[extra].all()
        # every hamlet of a pool site that could move in is freed
        assert set(np.flatnonzero(reach & np.isin(plan, pool))) <= set(freed)
        grew += len(extra) > 0
    assert grew > 0


def test_helper_reports_a_better_plan_from_the_board():
    """A second worker searching first keeps to its own plans while it searches (the
    first worker's may start other sites), but reports the best plan shared with it."""
    model = synthetic_district(1, 40, 6, modes=["full"], seed=7)
    inst = model._inst
    optimum = model.solve(time_limit=30, gap=0)
    assert optimum.proven
    shared = np.asarray(optimum.assignment, dtype=np.int32)
    board = Board([float(inst.objective(shared)), -np.inf, 0.0], plan=shared.copy())
    res = solve_component(inst, deadline=time.perf_counter() + 5, gap=0, board=board,
                          search_first=True, warm_start=True)
    assert res.objective == pytest.approx(optimum.proof.objective, rel=1e-12)
    assert inst.violations(res.assign) == []


def test_component_is_optimal_only_within_the_gap():
    inst = synthetic_district(1, 150, 16, modes=["full"], seed=5)._inst
    res = solve_component(inst, deadline=time.perf_counter() + 1.5, gap=0)
    assert inst.violations(res.assign) == []
    assert res.bound <= res.objective + 1e-6
    if res.status == "Optimal":
        assert gap_of(res.objective, res.bound) <= 1e-12
    else:
        assert gap_of(res.objective, res.bound) > 0


def test_parallel_solve_in_worker_processes():
    """Big enough to use the worker processes: every rule holds, the proof is honest."""
    model = synthetic_district(3, 110, 12, seed=9, capacity_ratio=1.3)
    assert model.n_pairs >= 1000
    plan = model.solve(time_limit=8, gap=1e-3, workers=2)
    check_plan(model, plan)
    comps = plan.components[plan.components["origins"] > 0]
    assert len(comps) >= 3
    assert plan.proof.bound == pytest.approx(plan.components["bound"].sum())
    assert plan.proof.time_s < 8 + 10
    if plan.proof.status == "optimal":
        assert plan.proof.gap <= 1e-3 * (1 + 1e-6)
    else:
        assert not plan.proven and plan.proof.gap > 1e-3
    # the same model in this process, one part at a time, agrees within the gaps
    serial = model.solve(time_limit=8, gap=1e-3, workers=1)
    check_plan(model, serial)
    assert serial.proof.bound <= plan.proof.objective + 1e-6
    assert plan.proof.bound <= serial.proof.objective + 1e-6


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux ``/proc``)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_a_worker_killed_late_leaves_the_shared_plan_and_bound(caplog):
    """A worker process that dies (here: killed 13 s into a 16 s solve) does not throw
    away what the part's workers had shared: the solve goes on in this process from the
    shared plan and bound, and the plan holds every rule. Started again from nothing in
    the 3 s left, it gave a plan 12 % above its bound (measured), here 0.1 %."""
    model = synthetic_district(1, 200, 24, modes=["full"], seed=11, capacity_ratio=1.1)
    assert model.n_pairs >= 1000
    killed = []

    def kill_a_worker():
        # the workers are forked by the forkserver, a child of this process
        servers = [c for c in _children(os.getpid()) if "forkserver" in _cmdline(c)]
        workers = [w for srv in servers for w in _children(srv)]
        if workers:
            os.kill(workers[-1], signal.SIGKILL)
            killed.append(workers[-1])

    timer = threading.Timer(13.0, kill_a_worker)
    timer.start()
    with caplog.at_level(logging.WARNING, logger="landplan.consolidate._schedule"):
        plan = model.solve(time_limit=16, gap=1e-5, workers=2)
    timer.cancel()
    assert killed, "no worker process to kill"
    assert any("ended abnormally" in r.getMessage() for r in caplog.records)
    check_plan(model, plan)
    assert np.isfinite(plan.proof.bound)
    assert plan.proof.gap < 0.01
