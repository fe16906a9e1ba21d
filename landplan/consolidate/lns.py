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

from ._core import STAY, Instance, started_sites
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


def solve_neighbourhood(mm: MatrixModel, inst: Instance, v: np.ndarray, free_sites: np.ndarray,
                        free_origins: np.ndarray, *, time_limit: float, seed: int = 0,
                        keep_sites: bool = False):
    """Solve the MILP with everything outside the neighbourhood fixed; (values, objective).

    With ``keep_sites`` no site starts or closes (only the hamlets move).

    Returns ``(None, inf)`` when HiGHS found nothing (it is given the current plan, so
    that only happens when the time is too short to read it).
    """
    import highspy

    lo, hi = _fixings(mm, inst, v, free_sites, free_origins, keep_sites)
    h = to_highs(mm, col_lo=lo, col_hi=hi)
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    for key, value in SUB_OPTIONS.items():
        h.setOptionValue(key, value)
    h.setOptionValue("random_seed", int(seed))
    sol = highspy.HighsSolution()
    sol.col_value = v.tolist()
    sol.value_valid = True
    h.setSolution(sol)
    h.run()
    info = h.getInfo()
    if info.primal_solution_status != 2:
        return None, float("inf")
    values = np.asarray(h.getSolution().col_value)
    return values, float(info.objective_function_value)


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
        someone else (another worker); the search continues from it.
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
    steps = accepted = scattered = 0
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
                    best, best_cost = got[0].copy(), got[1]
                    v = mm.start_vector(inst, best)
                    improved = True
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
            if cost < best_cost - 1e-9 * max(1.0, abs(best_cost)):
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
    logger.debug("LNS: %d neighbourhoods (%d scattered), %d improvements, cost %.6g", steps,
                 scattered, accepted, best_cost)
    return best
