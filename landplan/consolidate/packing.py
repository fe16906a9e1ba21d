"""Relax-and-pack: a starting plan from the relaxation with whole sites, its hamlets packed.

On the towns of the benchmark the hard part of the model is not which sites to start
but fitting whole hamlets into them: the cheapest set of sites holds the town's
households with a few households to spare, so the plan must fill every started site
almost exactly. Branch-and-bound finds such packings slowly (HiGHS leaves households
in place or in town apartments for minutes), while an exact packing is usually there.
So:

1. **relaxation**: the model with whole sites but divisible hamlets (``y`` and the
   count rules' ``z`` integer, ``x`` continuous) is solved with HiGHS. It is small
   (a few dozen integer columns per town) and its dual bound is a valid bound of the
   whole model, usually above what branch-and-bound on the whole model reaches in the
   same time;
2. **packing**: with the relaxation's sites started, whole hamlets are packed into them
   by simulated annealing on the plan's cost: move a hamlet to another started site,
   making room if needed by sending one hamlet of that site to its best other place
   (another site with room, or back in place); moves that raise the cost are taken
   with a probability that falls over time. A site under its minimum is penalised
   (not forbidden) while the search runs;
3. **polish**: the heuristic's local search (:func:`landplan.consolidate.heuristic.polish`)
   empties any site left under its minimum, and may start or close sites.

The result is a feasible plan or None; it only ever serves as a start (the caller keeps
the best plan it holds).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from ._core import STAY, Instance
from ._formulation import MatrixModel, build, to_highs

__all__ = ["relax_sites", "pack", "relax_and_pack"]

#: Share of the annealing's steps that pick an origin far from its cheapest place.
FOCUS = 0.5
#: The relaxation's ``mip_rel_gap`` when its bound is wanted (proven all but exactly).
RELAX_GAP = 1e-6

logger = logging.getLogger(__name__)


def relax_sites(inst: Instance, mm: MatrixModel | None = None, *, time_limit: float = 5.0,
                seed: int = 0, gap: float = RELAX_GAP):
    """Solve the model with whole sites and divisible hamlets.

    Parameters
    ----------
    inst : Instance
    mm : MatrixModel, optional
        The strong model of ``inst``, if already built.
    time_limit : float
        Seconds for HiGHS.
    seed : int
        HiGHS's ``random_seed``.
    gap : float, default ``RELAX_GAP`` (1e-6)
        HiGHS's ``mip_rel_gap``: the relaxation stops when its best solution is proven
        within it. Its sites are usually found long before they are proven (on the
        generated town 大桥镇: 1 s of 3.2 s); a caller that wants the sites rather than
        the bound may stop sooner.

    Returns
    -------
    opened : numpy.ndarray of bool or None
        The sites started in the relaxation's best solution (None if it found none).
    movers : numpy.ndarray of bool or None
        Origins allowed to move by the count rules' groups in that solution (all origins
        of groups taking part, and every origin outside a binding rule).
    bound : float
        HiGHS's dual bound of the relaxation: a valid lower bound of the whole model
        (``-inf`` if none).

    Examples
    --------
    >>> from landplan.consolidate._instances import synthetic_district
    >>> inst = synthetic_district(1, 40, 6, modes=["full"], seed=3)._inst
    >>> opened, movers, bound = relax_sites(inst, time_limit=5)
    >>> int(opened.sum()) >= 1, bool(movers.all()), bound > 0
    (True, True, True)
    """
    import highspy

    mm = mm if mm is not None else build(inst, "strong")
    h = to_highs(mm)
    cont = np.zeros(mm.n_x, dtype=np.uint8)          # kContinuous
    h.changeColsIntegrality(mm.n_x, np.arange(mm.n_x, dtype=np.int32), cont)
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("random_seed", int(seed))
    h.run()
    info = h.getInfo()
    bound = float(info.mip_dual_bound)
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and not np.isfinite(bound):
        bound = float(info.objective_function_value)
    bound = bound if np.isfinite(bound) else -np.inf
    if info.primal_solution_status != 2:
        return None, None, bound
    v = np.asarray(h.getSolution().col_value)
    opened = v[mm.n_x:mm.n_x + mm.n_y] > 0.5
    movers = np.ones(inst.n, dtype=bool)
    for k, (r, g) in enumerate(mm.groups):
        if v[mm.n_x + mm.n_y + k] < 0.5:
            movers &= inst.rules[r].group_of != g
    return opened, movers, bound


def pack(inst: Instance, opened: np.ndarray, *, movers: np.ndarray | None = None,
         time_limit: float = 5.0, seed: int = 0, target: float = -np.inf) -> np.ndarray:
    """Pack whole origins into the opened sites by simulated annealing (see the module notes).

    Parameters
    ----------
    inst : Instance
    opened : numpy.ndarray of bool
        The sites that may take origins.
    movers : numpy.ndarray of bool, optional
        Origins allowed to move (default all); the others stay.
    time_limit : float
        Seconds.
    seed : int
    target : float, optional
        Stop as soon as the packing costs no more than this (without the sites' fixed
        costs, which the packing does not change).

    Returns
    -------
    numpy.ndarray
        The cheapest packing seen: an assignment within every opened site's capacity;
        a site may be left under its minimum (:func:`relax_and_pack` polishes that
        away).

    Examples
    --------
    >>> import numpy as np
    >>> from landplan.consolidate._instances import random_instance
    >>> from landplan.consolidate import ConsolidationModel
    >>> inst = ConsolidationModel.from_cost_matrix(**random_instance(8, 3, seed=2))._inst
    >>> a = pack(inst, np.ones(3, dtype=bool), time_limit=0.5)
    >>> load = np.bincount(a[a >= 0], weights=inst.demand[a >= 0], minlength=3)
    >>> bool(np.all(load <= inst.capacity))
    True
    """
    rng = np.random.default_rng(seed)
    n = inst.n
    movers = np.ones(n, dtype=bool) if movers is None else movers
    d = inst.demand.astype(float)
    cap = inst.capacity.astype(float)
    low = np.where(opened, inst.minimum.astype(float), 0.0)
    stay_ok = ~np.isnan(inst.stay)
    scale = float(np.abs(inst.pc).sum() + np.nansum(np.abs(inst.stay)) + 1.0)
    stay = np.where(stay_ok, np.nan_to_num(inst.stay), 10.0 * scale)
    # a household short of a site's minimum costs more than any household's stay
    per_hh = np.where(d > 0, stay / np.maximum(d, 1e-9), 0.0)
    under = 2.0 * float(per_hh.max(initial=0.0)) + 1.0

    sel = opened[inst.pd] & movers[inst.po]
    po, pd, pc = inst.po[sel], inst.pd[sel], inst.pc[sel]
    ptr = np.searchsorted(po, np.arange(n + 1))
    sites_of = [pd[ptr[i]:ptr[i + 1]].tolist() for i in range(n)]
    cost_of = [dict(zip(pd[ptr[i]:ptr[i + 1]].tolist(), pc[ptr[i]:ptr[i + 1]].tolist()))
               for i in range(n)]
    movable = [i for i in range(n) if sites_of[i]]
    if not movable:
        return np.full(n, STAY)

    at = np.full(n, STAY)
    load = np.zeros(inst.m)
    members: list[set] = [set() for _ in range(inst.m)]

    def c(i, j):
        return stay[i] if j == STAY else cost_of[i][j]

    def short(j, ld):
        return under * max(0.0, low[j] - ld) if (j != STAY and low[j] > 0) else 0.0

    # greedy start: the least flexible origins first, each to its cheapest site with room
    for i in sorted(movable, key=lambda i: (len(sites_of[i]), -d[i])):
        bc, bj = stay[i], STAY
        for j in sites_of[i]:
            if load[j] + d[i] <= cap[j] + 1e-9 and cost_of[i][j] < bc:
                bc, bj = cost_of[i][j], j
        if bj != STAY:
            at[i] = bj
            load[bj] += d[i]
            members[bj].add(i)

    def place(i, j):
        a = at[i]
        if a != STAY:
            load[a] -= d[i]
            members[a].discard(i)
        if j != STAY:
            load[j] += d[i]
            members[j].add(i)
        at[i] = j

    spread = [max(cost_of[i].values()) - min(cost_of[i].values())
              for i in movable if len(cost_of[i]) > 1]
    t_hi = max(float(np.median(spread)) if spread else 1.0, 1.0)
    t_lo = t_hi * 1e-3
    t0 = time.perf_counter()
    end = t0 + max(time_limit, 0.0)
    temp = t_hi
    steps = 0
    mov = np.asarray(movable)
    cost = sum(c(i, at[i]) for i in range(n)) + sum(short(j, load[j]) for j in range(inst.m))
    best, best_cost = at.copy(), cost
    cheapest = np.array([min(cost_of[i].values()) if cost_of[i] else stay[i] for i in range(n)])
    unhappy = mov
    while True:
        if steps % 256 == 0:
            now = time.perf_counter()
            if now >= end or best_cost <= target:
                break
            temp = t_hi * (t_lo / t_hi) ** ((now - t0) / max(end - t0, 1e-9))
            # origins far from their cheapest place are picked more often
            regret = np.array([c(i, at[i]) for i in mov]) - cheapest[mov]
            unhappy = mov[regret > temp]
            if not len(unhappy):
                unhappy = mov
        steps += 1
        if rng.random() < FOCUS:
            i = int(unhappy[rng.integers(len(unhappy))])
        else:
            i = int(mov[rng.integers(len(mov))])
        opts = sites_of[i]
        a = at[i]
        if stay_ok[i] and rng.random() < 0.05:
            j = STAY
        else:
            j = opts[rng.integers(len(opts))]
        if j == a:
            continue
        delta = c(i, j) - c(i, a)
        la = load[a] - d[i] if a != STAY else 0.0
        if a != STAY:
            delta += short(a, la) - short(a, load[a])
        moves = [(i, j)]
        if j != STAY:
            need = load[j] + d[i] - cap[j]
            lj = load[j] + d[i]
            if need > 1e-9:
                # make room: one origin of j with at least `need` households goes to its
                # best other place (a site with room, i's old site, or back in place)
                fits = [k for k in members[j] if d[k] >= need - 1e-9]
                if not fits:
                    continue
                k = fits[rng.integers(len(fits))]
                lj -= d[k]
                bq, bc = STAY, stay[k]
                for q in sites_of[k]:
                    if q == j:
                        continue
                    lq = la if q == a else load[q]
                    if lq + d[k] <= cap[q] + 1e-9 and cost_of[k][q] < bc:
                        bq, bc = q, cost_of[k][q]
                delta += bc - c(k, j)
                if bq == a and a != STAY:
                    delta += short(a, la + d[k]) - short(a, la)
                elif bq != STAY:
                    delta += short(bq, load[bq] + d[k]) - short(bq, load[bq])
                moves.append((k, bq))
            delta += short(j, lj) - short(j, load[j])
        if delta <= 0 or rng.random() < math.exp(-delta / temp):
            for q, dest in moves:
                place(q, dest)
            cost += delta
            if cost < best_cost - 1e-6:
                best[:], best_cost = at, cost
    logger.debug("packing: %d steps in %.1f s, cost %.6g", steps, time.perf_counter() - t0,
                 best_cost)
    return best


def relax_and_pack(inst: Instance, mm: MatrixModel | None = None, *, time_limit: float = 10.0,
                   seed: int = 0, gap: float = 0.0, relax_limit: float | None = None,
                   relax_gap: float = RELAX_GAP) -> tuple[np.ndarray | None, float]:
    """A feasible plan by relax-and-pack (module notes), and the relaxation's bound.

    The relaxation has ``relax_limit`` seconds (it usually needs less: it stops when
    proven); the packing and its polish then have ``time_limit`` seconds. The packing
    stops early once the plan is within ``gap`` of the relaxation's bound.

    Parameters
    ----------
    inst : Instance
    mm : MatrixModel, optional
        The strong model of ``inst``, if already built.
    time_limit : float
        Seconds for the packing and the polish.
    seed : int
    gap : float
        Relative gap to the relaxation's bound at which the packing stops.
    relax_limit : float, optional
        Seconds for the relaxation (default: ``time_limit``). Given too little, HiGHS
        stops at a set of sites it has not proven the cheapest, and the packing fills
        those.
    relax_gap : float, default ``RELAX_GAP`` (1e-6)
        The relaxation's ``gap`` (:func:`relax_sites`): looser when the bound is proven
        elsewhere and only the sites are wanted.

    Returns
    -------
    assign : numpy.ndarray or None
        A feasible assignment, or None if none was found. None also when the instance
        has a binding count rule (a pilot town): only the bound is computed then.
    bound : float
        A valid lower bound of the model (``-inf`` if the relaxation gave none).

    Examples
    --------
    >>> from landplan.consolidate._instances import synthetic_district
    >>> inst = synthetic_district(1, 60, 8, modes=["full"], seed=5, capacity_ratio=1.3)._inst
    >>> assign, bound = relax_and_pack(inst, time_limit=2)
    >>> inst.violations(assign), bool(inst.objective(assign) >= bound)
    ([], True)
    """
    from .heuristic import polish

    t0 = time.perf_counter()
    relax_limit = time_limit if relax_limit is None else relax_limit
    opened, movers, bound = relax_sites(inst, mm, time_limit=relax_limit, seed=seed,
                                        gap=relax_gap)
    if opened is None or any(rule.binding for rule in inst.rules):
        # a count rule (pilot villages) wants its groups' hamlets moved although staying
        # costs less; the packing does not know that, the heuristic and HiGHS do
        return None, bound
    t1 = time.perf_counter()
    target = bound + gap * abs(bound) - float(inst.fixed[opened].sum())
    packed = pack(inst, opened, movers=movers, time_limit=0.85 * time_limit, seed=seed,
                  target=target)
    left = time_limit - (time.perf_counter() - t1)
    plan = polish(inst, packed, time_limit=max(left, 0.2))
    logger.debug("relax-and-pack: %d sites, plan %s, bound %.6g, %.1f s", int(opened.sum()),
                 "none" if plan is None else f"{inst.objective(plan):.6g}", bound,
                 time.perf_counter() - t0)
    return plan, bound
