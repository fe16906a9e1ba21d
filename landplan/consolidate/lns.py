"""MIP-based large-neighbourhood search: improve a plan by re-solving a few sites at a time.

A classic fix-and-solve scheme on the whole model's MILP. Each step picks a
*neighbourhood*: a seed site and the sites that share the most candidate hamlets
with it (one of them now and then swapped for a farther one). Sites outside it
stay started or closed as they are; the sites in it may start or close. Two kinds
of step alternate:

* *re-pack* (two steps in three): the hamlets now at one of the sites, and those
  in place that could move there, are freed: each may stay or go to any site of
  the neighbourhood; every other hamlet keeps its place;
* *reach* (one step in three): also the hamlets now at other sites that could move
  into the neighbourhood are freed, to move in or keep their place.

With ``scatter`` a share of the steps instead re-packs a *scattered* neighbourhood:
three in ten of the started sites picked at random wherever they are, with their hamlets
and the staying hamlets that reach them (``SCATTER_SHARE``, ``SCATTER_TIME``). On towns
whose started sites must be filled almost exactly, a better packing moves hamlets
through many sites across the town; nearby sites alone rarely hold such a chain
(measured on the generated town 大桥镇: from the same packing start, 30 s of nearby
neighbourhoods gave 0.62 %, half of them scattered 0.04 to 0.05 %).

Two of a scattered neighbourhood's sites are picked among those with room to spare
(``SCATTER_ROOMY``, :func:`scattered_sites`): there such a plan loses most (on 大桥镇
every household that does not fit stays, at 200,000 yuan; a plan 0.16 % above the bound
leaves 26 places free in its sites, the best known 11), and the others, picked anywhere,
hold the chains of moves that fill them. From the same packing start, 20 s of the search
reached 0.1 % of the best bound in 14 runs of 20 against 8 picking every site alike
(median 0.08 % against 0.11 %). Picking the roomy sites more often but not always
(three or ten times as often) did as well on most runs and left 1 or 3 of 20 stuck at
0.6 %: with most picks on roomy sites, the full sites that would pass hamlets on are
rarely in the neighbourhood.

A started site with many free places (``POOL_ROOM``: a town-apartment block taking the
town's overflow, often) is treated like staying: a scattered neighbourhood also frees its
hamlets that could move in (:func:`pool_sites`). On the synthetic town, where nobody
stays and the overflow goes to the apartments, 20 s of the search from the same packing
start reached 0.1 % in 14 runs of 20 against 6 without; on 大桥镇, whose packed sites
have few free places, it rarely applies (11 of 20 against 14, within the noise).

With ``keep_sites`` no step starts or closes a site: the steps only re-pack the plan's
started sites (every ``y`` fixed), and their MILPs are easier. From a packing of the
relaxation's sites (:mod:`landplan.consolidate.packing`) that is what the plan needs:
on 大桥镇, from the same packing start, 30 s gave 0.050 to 0.064 % keeping the sites
against 0.057 to 0.165 % letting them close (4 seeds).

When two workers search one part (:mod:`landplan.consolidate._pipeline`), each takes
over the other's better plans (``adopt``). A plan taken over may lack what the taking
worker found since it last took one over, usually elsewhere in the town; when it places
any of those hamlets otherwise, the search first *merges* the two (:func:`merge_plans`):
a MILP that frees only the hamlets the two plans place differently, among the sites
either sends them to, and so holds both workers' gains together wherever they do not
meet. Runs of 30 s of ``solve_parts`` (two workers), 22 seeds, within 0.1 %: on the
synthetic town 22 of 22 against 21 without merging (the mean run done at 14.3 s against
16.8 s; two more batches of 22 while tuning also all within); on 大桥镇 21 of 22 against
22 (mean 19.0 s both; the miss at 0.107 %). A merge takes 0.1 to 0.3 s; on 大桥镇 a worker
makes 3 to 7 in a run, half of them gaining.

HiGHS solves that small MILP (every other column fixed at the current plan, so its
presolve removes them), started from the current plan (``setSolution``), so a step
never makes the plan worse. Neighbourhoods start at 3 sites and grow by one after a
sweep over every seed site finds nothing better, up to 8; a sweep at 8 without gain
ends the search.

Count rules (pilot villages) need no special care: the neighbourhood MILP carries all
the model's rows. The search only ever returns feasible plans: each accepted plan is
checked against every rule of the instance.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ._core import STAY, Instance, cheaper, started_sites
from ._formulation import MatrixModel, build, to_highs

__all__ = ["improve_lns"]

logger = logging.getLogger(__name__)


class Neighbourhoods:
    """Sites ranked by the candidate hamlets they share (the search's notion of nearness)."""

    def __init__(self, inst: Instance):
        self.inst = inst
        inc = np.zeros((inst.n, inst.m), dtype=np.float32)
        inc[inst.po, inst.pd] = 1.0
        share = inc.T @ inc
        np.fill_diagonal(share, np.inf)
        # ties broken by position, so the order is deterministic
        self.order = np.argsort(-share, axis=1, kind="stable")
        self.inc = inc

    def sites(self, seed_site: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """The seed and its nearest sites; one of the nearest is swapped at random for variety."""
        near = self.order[seed_site]
        size = min(size, self.inst.m)
        pick = near[:size].copy()
        if size < self.inst.m and size > 2 and rng.random() < 0.5:
            pick[rng.integers(1, size)] = near[min(self.inst.m - 1, size + rng.integers(0, size))]
        return np.unique(pick)

    def origins(self, sites: np.ndarray, assign: np.ndarray | None = None,
                mode: str = "reach", pool: np.ndarray | None = None) -> np.ndarray:
        """Origins with a pair to any of the sites; with ``mode="repack"`` only those at
        one of the sites or staying (or, given, at one of the ``pool`` sites)."""
        reach = self.inc[:, sites].any(axis=1)
        if mode == "repack":
            at = np.isin(assign, sites) | (assign == STAY)
            if pool is not None and len(pool):
                at |= np.isin(assign, pool)
            reach &= at
        return np.flatnonzero(reach)


def _fixings(mm: MatrixModel, inst: Instance, v: np.ndarray, free_sites: np.ndarray,
             free_origins: np.ndarray, keep_sites: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Column bounds that fix everything outside the neighbourhood at the current plan
    (with ``keep_sites``, every site's ``y`` too: the step only re-packs)."""
    lo, hi = mm.col_lo.copy(), mm.col_hi.copy()
    nx, m = mm.n_x, mm.n_y
    site_free = np.zeros(m, dtype=bool)
    site_free[free_sites] = True
    origin_free = np.zeros(inst.n, dtype=bool)
    origin_free[free_origins] = True
    po, pd = inst.po[mm.pairs], inst.pd[mm.pairs]
    # a freed origin may move into the neighbourhood, keep its place, or stay home
    x_free = origin_free[po] & (site_free[pd] | (v[:nx] > 0.5))
    fix = ~x_free
    lo[:nx][fix] = hi[:nx][fix] = np.round(v[:nx][fix])
    ys = np.arange(m) if keep_sites else np.flatnonzero(~site_free)
    lo[nx + ys] = hi[nx + ys] = np.round(v[nx + ys])
    # group columns stay free: the rows tie them to the moves
    lo = np.minimum(lo, mm.col_hi)
    return lo, np.maximum(hi, lo)


#: HiGHS options of the neighbourhood MILPs (tuned on the benchmark's instances).
SUB_OPTIONS = {"mip_rel_gap": 1e-6}


def _run_sub(mm: MatrixModel, lo: np.ndarray, hi: np.ndarray, start: np.ndarray | None,
             time_limit: float, seed: int):
    """One neighbourhood MILP; (values, HiGHS's objective) or (None, inf)."""
    import highspy

    h = to_highs(mm, col_lo=lo, col_hi=hi)
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    for key, value in SUB_OPTIONS.items():
        h.setOptionValue(key, value)
    h.setOptionValue("random_seed", int(seed))
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = start.tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        return None, float("inf")
    return np.asarray(h.getSolution().col_value), float(info.objective_function_value)


def solve_neighbourhood(mm: MatrixModel, inst: Instance, v: np.ndarray, free_sites: np.ndarray,
                        free_origins: np.ndarray, *, time_limit: float, seed: int = 0,
                        keep_sites: bool = False):
    """Solve the MILP with everything outside the neighbourhood fixed; (values, objective).

    With ``keep_sites`` no site starts or closes (only the hamlets move). The objective
    is that of the values returned.

    HiGHS (1.16) can report a better objective than the values it returns: when its
    presolve leaves a problem that the start, mapped into it, already solves, the values
    returned are the start's, not the better plan it found (seen on small merges,
    :func:`merge_plans`). Then the MILP is solved again without the start.

    Returns ``(None, inf)`` when HiGHS found nothing (it is given the current plan, so
    that only happens when the time is too short to read it).
    """
    lo, hi = _fixings(mm, inst, v, free_sites, free_origins, keep_sites)
    t0 = time.perf_counter()
    values, reported = _run_sub(mm, lo, hi, v, time_limit, seed)
    if values is None:
        return None, float("inf")
    cost = float(mm.c @ values) + mm.offset
    if cheaper(reported, cost):
        left = time_limit - (time.perf_counter() - t0)
        again, _ = _run_sub(mm, lo, hi, None, max(left, 0.1), seed)
        again_cost = np.inf if again is None else float(mm.c @ again) + mm.offset
        if again_cost < cost:
            values, cost = again, again_cost
    return values, cost


#: Scattered neighbourhoods: this share of the plan's started sites, picked at random
#: (at least two), of them up to ``SCATTER_ROOMY`` with room to spare, and seconds per
#: neighbourhood MILP.
SCATTER_SHARE = 0.3
SCATTER_ROOMY = 2
SCATTER_TIME = 1.5
#: A started site with at least this many free places (a town-apartment block, often)
#: is a *pool*: its hamlets that could move into a scattered neighbourhood are freed with
#: it, as the staying ones are (:func:`pool_sites`).
POOL_ROOM = 50


def pool_sites(inst: Instance, assign: np.ndarray) -> np.ndarray:
    """Started sites with at least ``POOL_ROOM`` free places (sorted positions).

    A hamlet there can leave without another taking its place, like a staying hamlet: a
    scattered neighbourhood frees the hamlets of these sites that could move into it.

    Examples
    --------
    >>> from landplan.consolidate._instances import random_instance
    >>> from landplan.consolidate import ConsolidationModel
    >>> inst = ConsolidationModel.from_cost_matrix(**random_instance(8, 3, seed=2))._inst
    >>> inst.capacity.tolist(), inst.demand[:2].tolist()
    ([93.0, 120.0, 141.0], [51.0, 19.0])
    >>> plan = np.full(inst.n, STAY)
    >>> plan[0], plan[1] = 0, 2          # site 0: 42 places left; site 2: 122
    >>> pool_sites(inst, plan).tolist()
    [2]
    """
    load = inst.loads(assign)
    return np.flatnonzero((load > 0) & (inst.capacity - load >= POOL_ROOM))


def scattered_sites(inst: Instance, assign: np.ndarray, started: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """The sites of a scattered neighbourhood (sorted positions).

    ``SCATTER_SHARE`` of the started sites (at least two): up to ``SCATTER_ROOMY`` of
    them picked among the sites with room to spare (load under capacity), the rest among
    all the others. Room left in a started site is what a plan loses most on when sites
    must be filled almost exactly (every household that does not fit stays, at the stay
    cost); the other sites, picked anywhere, give the chains of moves that fill it.

    Examples
    --------
    >>> from landplan.consolidate._instances import synthetic_district
    >>> from landplan.consolidate.heuristic import solve_instance
    >>> inst = synthetic_district(1, 40, 6, modes=["full"], seed=3)._inst
    >>> plan = solve_instance(inst, 1)
    >>> started = started_sites(plan)
    >>> sites = scattered_sites(inst, plan, started, np.random.default_rng(0))
    >>> bool(np.isin(sites, started).all()), len(sites) == max(2, round(0.3 * len(started)))
    (True, True)
    """
    k = min(max(2, round(SCATTER_SHARE * len(started))), len(started))
    load = inst.loads(assign)
    roomy = started[load[started] < inst.capacity[started] - 1e-9]
    first = rng.choice(roomy, size=min(SCATTER_ROOMY, len(roomy), k), replace=False)
    rest = np.setdiff1d(started, first)
    more = rng.choice(rest, size=k - len(first), replace=False)
    return np.sort(np.concatenate([first, more]).astype(np.int64))


#: Merging a plan taken over from another worker with one's own: at most this many
#: origins placed differently, and seconds for the MILP.
MERGE_MAX_ORIGINS = 150
MERGE_TIME = 0.5


def merge_plans(mm: MatrixModel, inst: Instance, v: np.ndarray, own: np.ndarray,
                other: np.ndarray, *, time_limit: float, seed: int = 0,
                keep_sites: bool = False):
    """The best plan combining ``other`` (whose column values are ``v``) with ``own``.

    The origins the two plans place differently are freed, with the sites either plan
    sends them to; everything else stays as in ``other``. When two workers improved one
    plan in different places, the MILP finds both improvements together: it holds
    ``other`` and, where the changes do not meet, each origin's place in ``own`` too.

    Returns ``(plan, cost)``, or None when the plans place more than
    ``MERGE_MAX_ORIGINS`` origins differently (or HiGHS found nothing).

    Examples
    --------
    >>> from landplan.consolidate._instances import synthetic_district
    >>> from landplan.consolidate.heuristic import solve_instance
    >>> inst = synthetic_district(1, 40, 6, modes=["full"], seed=3)._inst
    >>> a = solve_instance(inst, 1)
    >>> b = improve_lns(inst, a, 2, seed=1)
    >>> mm = build(inst, "strong")
    >>> plan, cost = merge_plans(mm, inst, mm.start_vector(inst, b), a, b, time_limit=2)
    >>> inst.violations(plan), bool(cost <= inst.objective(b) + 1e-6)
    ([], True)
    """
    differ = np.flatnonzero(np.asarray(own) != np.asarray(other))
    if not len(differ) or len(differ) > MERGE_MAX_ORIGINS:
        return None
    # every differing origin is at a site in one plan at least
    sites = np.unique(np.concatenate([own[differ], other[differ]]))
    sites = sites[sites >= 0]
    values, _ = solve_neighbourhood(mm, inst, v, sites, differ, time_limit=time_limit,
                                    seed=seed, keep_sites=keep_sites)
    if values is None:
        return None
    plan = mm.assignment(inst, values)
    if inst.violations(plan):          # never expected; refuse rather than trust
        return None
    return plan, inst.objective(plan)


def improve_lns(inst: Instance, assign: np.ndarray, time_limit: float, *, size: int = 3,
                max_size: int = 8, sub_time: float = 0.5, seed: int = 0,
                mm: MatrixModel | None = None, deadline: float | None = None,
                stop=None, on_improve=None, adopt=None, scatter: float = 0.0,
                keep_sites: bool = False) -> np.ndarray:
    """Improve a feasible assignment by large-neighbourhood search (see the module notes).

    Parameters
    ----------
    inst : Instance
        The instance (positions).
    assign : numpy.ndarray
        A feasible assignment (destination position per origin, -1 = stays).
    time_limit : float
        Seconds.
    size : int, default 3
        Sites per neighbourhood at first; it grows by one after a sweep over every seed
        site without gain, up to ``max_size``; the search ends after a sweep at
        ``max_size`` without gain.
    max_size : int, default 8
    sub_time : float, default 0.5
        Seconds per neighbourhood MILP.
    seed : int
        Order of the sweeps and HiGHS's seed.
    mm : MatrixModel, optional
        The instance's strong model, if already built.
    deadline : float, optional
        ``time.perf_counter()`` value to stop at (overrides ``time_limit``).
    stop : callable, optional
        ``stop(cost) -> bool``, asked before each step; True ends the search (e.g. the
        gap is met).
    on_improve : callable, optional
        Called with each better assignment and its cost.
    adopt : callable, optional
        ``adopt(cost) -> (assignment, cost) or None``: a better plan found meanwhile by
        someone else (another worker); the search continues from it, having first
        merged into it the gains of its own that it lacks (:func:`merge_plans`).
    scatter : float, default 0
        Share of the steps that re-pack a *scattered* neighbourhood (module notes):
        ``SCATTER_SHARE`` of the started sites picked at random, with ``SCATTER_TIME``
        seconds for its MILP.
    keep_sites : bool, default False
        Only re-pack: no step starts or closes a site (module notes).

    Returns
    -------
    numpy.ndarray
        An assignment no worse than ``assign``, feasible.

    Examples
    --------
    >>> from landplan.consolidate._instances import synthetic_district
    >>> from landplan.consolidate.heuristic import solve_instance
    >>> inst = synthetic_district(1, 40, 6, modes=["full"], seed=3)._inst
    >>> start = solve_instance(inst, 1)
    >>> better = improve_lns(inst, start, 3, size=3, sub_time=0.5)
    >>> inst.violations(better), bool(inst.objective(better) <= inst.objective(start))
    ([], True)
    >>> better = improve_lns(inst, start, 2, scatter=1.0)
    >>> inst.violations(better), bool(inst.objective(better) <= inst.objective(start))
    ([], True)
    """
    stop_at = deadline if deadline is not None else time.perf_counter() + time_limit
    mm = mm if mm is not None else build(inst, "strong")
    v = mm.start_vector(inst, assign)
    if v is None or inst.m < 2:
        return assign
    best = np.asarray(assign).copy()
    best_cost = inst.objective(best)
    hoods = Neighbourhoods(inst)
    rng = np.random.default_rng(seed)
    max_size = max(2, min(max_size, inst.m))
    size = max(2, min(size, max_size))
    steps = accepted = scattered = merged = 0
    synced = best                  # the plan last taken over (or the start)
    done = False
    while not done and time.perf_counter() < stop_at:
        improved = False
        for j in rng.permutation(inst.m):
            left = stop_at - time.perf_counter()
            if left <= 0.02 or (stop is not None and stop(best_cost)):
                done = True
                break
            if adopt is not None:
                got = adopt(best_cost)
                if got is not None:
                    own = best
                    best, best_cost = got[0].copy(), got[1]
                    v = mm.start_vector(inst, best)
                    improved = True
                    # the other worker's plan is better; ours may hold gains it lacks:
                    # hamlets we placed anew since we last took a plan over, placed
                    # otherwise in the other plan
                    mine = own != synced
                    if np.any(best[mine] != own[mine]):
                        out = merge_plans(mm, inst, v, own, best,
                                          time_limit=min(MERGE_TIME, left), seed=seed + steps,
                                          keep_sites=keep_sites)
                        if out is not None and cheaper(out[1], best_cost):
                            best, best_cost = out
                            v = mm.start_vector(inst, best)
                            merged += 1
                            if on_improve is not None:
                                on_improve(best, best_cost)
                    synced = best
            started = started_sites(best) if scatter > 0 else ()
            if len(started) >= 2 and rng.random() < scatter:
                # a scattered neighbourhood: started sites picked at random, wherever
                # they are, a few of them with room to spare; their hamlets and the
                # staying ones (or at a pool site) that reach them are re-packed
                sites = scattered_sites(inst, best, started, rng)
                mode, limit = "repack", SCATTER_TIME
                pool = pool_sites(inst, best)
                scattered += 1
            else:
                sites = hoods.sites(int(j), size, rng)
                # mostly re-pack the sites with their own and the staying hamlets; now and
                # then also free the hamlets of other sites that could move in
                mode = "reach" if steps % 3 == 2 else "repack"
                limit, pool = sub_time, None
            origins = hoods.origins(sites, best, mode, pool)
            steps += 1
            if not len(origins):
                continue
            values, _ = solve_neighbourhood(mm, inst, v, sites, origins,
                                            time_limit=min(limit, left), seed=seed + steps,
                                            keep_sites=keep_sites)
            if values is None:
                continue
            cand = mm.assignment(inst, values)
            cost = inst.objective(cand)
            if cheaper(cost, best_cost):
                bad = inst.violations(cand)
                if bad:                      # never expected; refuse rather than trust
                    logger.debug("LNS step gave an infeasible plan: %s", bad[0])
                    continue
                best, best_cost = cand, cost
                v = mm.start_vector(inst, best)
                improved = True
                accepted += 1
                if on_improve is not None:
                    on_improve(best, best_cost)
        if not improved and not done:
            if size >= max_size:
                break
            size += 1
    logger.debug("LNS: %d neighbourhoods (%d scattered), %d improvements, %d merges, cost %.6g",
                 steps, scattered, accepted, merged, best_cost)
    return best
