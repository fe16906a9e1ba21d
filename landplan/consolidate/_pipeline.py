"""How one independent part of the model is solved: starts, HiGHS, neighbourhood search.

The gap on these models is in finding good plans, not in the bound: the strong
formulation's root bound is within a few hundredths of a percent of the best bound
branch-and-bound reaches in minutes, while plans keep improving for minutes. So each
part runs:

1. *starts*: the greedy heuristic, and relax-and-pack (:mod:`landplan.consolidate.packing`:
   the relaxation with whole sites, whose dual bound is kept, and its sites packed with
   whole hamlets) for parts of at least ``PACK_MIN_ORIGINS`` origins, else the LP
   relaxation rounded and polished (the best of them goes to HiGHS);
2. *HiGHS* on the strong model from that start, until it proves the requested gap, or
   has done its root node (bound, cuts, its own sub-MIP heuristics) and then finds
   nothing better for a while (``stall``);
3. *large-neighbourhood search* (:mod:`landplan.consolidate.lns`) from the best plan,
   half its steps on nearby sites, half on sites scattered across the part (``SCATTER``),
   until it stops finding better plans;
4. HiGHS again from the improved plan (another seed), then the search again, and so on
   until the deadline or until the best plan is within the gap of the best bound.

When a second worker joins a part (see :mod:`landplan.consolidate._schedule`), it runs
the search first (``search_first``) while the first runs HiGHS, and the two share a
:class:`Board`: the best plan, its cost and the best bound. HiGHS is handed the search's
better plans during its run (HiGHS's user-solution callback), so neither waits for the
other. The helper's search keeps the sites of its plan (``keep_sites``: it only re-packs
them; over 11 runs of 30 s, 大桥镇's median gap 0.13 % against 0.19 % over 22 runs
letting them close, the synthetic town's 0.10 % against 0.12 %), and takes over only
shared plans that start the same sites (:func:`same_sites_adopter`): HiGHS's often
start other sites than the relaxation's, and from there a search that re-packs started
sites rarely finds its way back (measured on the generated town 大桥镇). Its start is
the packing alone (no greedy plan unless the packing gives none), from a relaxation
stopped within a quarter of the requested gap (``HELPER_RELAX_GAP``: it wants the
relaxation's sites, found long before they are proven, while the first worker proves
the bound), so its search begins 3 to 4 s sooner (on 大桥镇 at 6.9 s rather than 9.6 s
of 30).

When the helper joins at once (one town on two cores), the first worker shares the
search (``share_search``). It builds no start (the helper packs one); it takes the
bounds: the relaxation's, proven (1.4 to 3.4 s on the towns measured; on the synthetic
town it is the better bound), then HiGHS's for the bound only (no start, no root
heuristics, no strong branching, ``ROOT_BOUND_OPTIONS``), ended once the helper has its
start and the bound has settled (``SETTLE``) or is still no better than the
relaxation's, or at ``BOUND_SHARE`` of the time. Then it re-packs the sites of the
helper's plan beside the helper, each taking over the other's better plans on those
sites and merging its own gains into them (:func:`landplan.consolidate.lns.merge_plans`).
On 大桥镇 HiGHS's root takes 13 s with its sub-MIP heuristics and strong branching,
3.5 s without, for the same bound; their plans are 0.5 % above it, where the search finds
0.1 %. So both workers search from about 7 s of 30 (the first worker used to pack briefly
itself and join at 12-18 s). Runs of 30 s, ``solve_parts`` on one town, 22 seeds each,
within 0.1 %:

- brief packing, HiGHS's root with strong branching: 大桥镇 18 of 22, synthetic 19 of 22;
- the same, HiGHS's root without strong branching: 20 and 19;
- no packing, HiGHS's root only: 20 and 16;
- no packing, the relaxation, then HiGHS's root: 20 and 19;
- the same, the root ended while below the relaxation (final): **22 and 20**.

Without the relaxation the synthetic town's bound is HiGHS's root, 0.008 % lower; the
final row's misses there are 0.102 and 0.158 %, on 大桥镇 every run is within 0.1 %
(0.063-0.100 %).

(The search's own figures, with its scattered neighbourhoods aimed at sites with room and
at pool sites, are in :mod:`landplan.consolidate.lns`.) The part reports the best plan of
either worker.

A part is reported ``"Optimal"`` only when its best plan is proven within the requested
gap by a HiGHS dual bound (any run's, the relaxation's included: each is valid).
Otherwise it carries the last HiGHS status ("Time limit reached", ...).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from . import heuristic as _heur
from ._core import Instance, cheaper, gap_of, started_sites
from ._formulation import ROOT_BOUND_OPTIONS, ComponentResult, build, lp_rounding, solve_highs
from .lns import improve_lns
from .packing import RELAX_GAP, relax_and_pack, relax_sites

__all__ = ["Board", "solve_component"]

logger = logging.getLogger(__name__)

#: Relax-and-pack (:mod:`landplan.consolidate.packing`) starts parts of at least this many
#: origins (smaller ones HiGHS proves quickly); its relaxation may take this share of the
#: part's time (it stops when proven, usually in a few seconds), its packing the same share
#: but at most this many seconds per origin.
PACK_MIN_ORIGINS = 100
PACK_SHARE = 0.4
PACK_SECONDS_PER_ORIGIN = 0.02
#: Share of the search's steps on scattered neighbourhoods (:func:`improve_lns`'s ``scatter``).
SCATTER = 0.5
#: A helper's relaxation stops within this share of the requested gap: it wants the
#: relaxation's sites, found long before they are proven (the first worker proves the
#: bound). On 大桥镇 its search starts about 2.5 s sooner, from the same sites.
HELPER_RELAX_GAP = 0.25
#: A first worker sharing the search with a helper (``share_search``) runs HiGHS for the
#: bound only: without its root heuristics (``ROOT_BOUND_OPTIONS``), interrupted once the
#: root is done and the bound has not risen for ``SETTLE`` seconds, for at most
#: ``BOUND_SHARE`` of the part's time.
SETTLE = 1.0
BOUND_SHARE = 0.4


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Board:
    """The best plan, its cost and the best bound of one part, maybe shared between processes.

    Parameters
    ----------
    values : mutable sequence of three floats, optional
        ``[best cost, best bound, helpers]`` (a view of a ``multiprocessing.Array`` when
        several workers solve the part; ``helpers`` counts the workers searching the
        part besides the first). A ``stopped`` attribute, when true, makes :meth:`met`
        true (the caller asks every worker to stop).
    plan : numpy.ndarray of int32, optional
        Where the best plan is kept (a view of shared memory between processes).
    lock : context manager, optional
        Guards ``values`` and ``plan`` together.
    """

    def __init__(self, values=None, plan: np.ndarray | None = None, lock=None):
        self.values = values if values is not None else [np.inf, -np.inf, 0.0]
        self.plan = plan
        self.lock = lock if lock is not None else _NoLock()

    def get(self) -> tuple[float, float]:
        return float(self.values[0]), float(self.values[1])

    def offer(self, objective: float | None = None, bound: float | None = None,
              assign: np.ndarray | None = None) -> None:
        """Record a plan's cost (and the plan) if it is the best, a bound if it is the best."""
        with self.lock:
            if objective is not None and objective < self.values[0]:
                self.values[0] = objective
                if self.plan is not None and assign is not None:
                    self.plan[:] = assign
            if bound is not None and bound > self.values[1]:
                self.values[1] = bound

    def fetch(self, than: float) -> tuple[np.ndarray, float] | None:
        """The shared plan and its cost, if one costs less than ``than``; else None."""
        if self.plan is None or not cheaper(self.values[0], than):
            return None
        with self.lock:
            return np.asarray(self.plan, dtype=np.int64).copy(), float(self.values[0])

    @property
    def helped(self) -> bool:
        """Whether another worker is searching this part too."""
        return bool(self.values[2] > 0)

    def join(self, count: int) -> None:
        with self.lock:
            self.values[2] = self.values[2] + count

    def met(self, gap: float, objective: float | None = None, bound: float | None = None) -> bool:
        """Whether the best cost and bound meet the gap (or the caller said stop)."""
        if getattr(self.values, "stopped", False):
            return True
        o, b = self.get()
        o = o if objective is None else min(o, objective)
        b = b if bound is None else max(b, bound)
        return bool(np.isfinite(o) and np.isfinite(b) and gap_of(o, b) <= gap)


class _Incumbent:
    """The best plan one worker holds for a part, offered to the board when it improves."""

    def __init__(self, inst: Instance, board: Board):
        self.inst, self.board = inst, board
        self.assign: np.ndarray | None = None
        self.cost = np.inf
        self.source = "highs"

    def consider(self, assign, source: str) -> bool:
        """Keep ``assign`` if it costs less than the plan held; True if kept."""
        if assign is None:
            return False
        cost = self.inst.objective(assign)
        scale = max(1.0, abs(self.cost) if np.isfinite(self.cost) else 1.0)
        if cost < self.cost - 1e-9 * scale:
            self.assign, self.cost, self.source = np.asarray(assign).copy(), cost, source
            self.board.offer(objective=cost, assign=self.assign)
            return True
        return False

    def adopt(self, current: float):
        """The other worker's plan and its cost, if cheaper than ``current`` and feasible."""
        got = self.board.fetch(current)
        if got is None or len(got[0]) != self.inst.n or self.inst.violations(got[0]):
            return None
        return got

    def take_shared(self) -> None:
        got = self.adopt(self.cost)
        if got is not None:
            self.consider(got[0], "shared")


def solve_component(inst: Instance, *, deadline: float, gap: float, formulation: str = "strong",
                    warm_start: bool = True, seed: int = 0, start: np.ndarray | None = None,
                    bound: float = -np.inf, board: Board | None = None,
                    search_first: bool = False, deadline_is_wall: bool = False,
                    stall: float = 1.5, share_search: bool = False) -> ComponentResult:
    """Solve one part until ``deadline`` (a ``time.perf_counter()`` value) or the gap is met.

    Parameters
    ----------
    inst : Instance
        The part.
    deadline : float
        When to stop. With ``deadline_is_wall`` it is a ``time.time()`` value instead
        (for worker processes, whose ``perf_counter`` is not the caller's).
    gap : float
        The requested relative gap.
    formulation : {"strong", "textbook"}
        "textbook" runs HiGHS alone (no search), for benchmarks.
    warm_start : bool
        Build the heuristic starts.
    seed : int
        HiGHS's and the search's seed (a second worker on the same part uses another).
    start : numpy.ndarray, optional
        A plan found earlier (e.g. by a first, shorter pass).
    bound : float
        A bound proven earlier.
    board : Board, optional
        Shared best plan and bound (several workers on one part help each other and stop
        together).
    search_first : bool
        Begin with the neighbourhood search rather than HiGHS (a second worker).
    stall : float
        Seconds without a better plan, after HiGHS's root node, before the search takes
        over from HiGHS.
    share_search : bool
        A helper searches this part from the start (``solve_parts`` with fewer parts than
        workers): this worker builds no start (the helper packs one) but takes the
        bounds: the relaxation's, then HiGHS's root (no start, no root heuristics, no
        strong branching, ``ROOT_BOUND_OPTIONS``; interrupted once the root is done, the
        helper has its start and the bound settles, ``SETTLE``, or at ``BOUND_SHARE`` of
        the time); then it re-packs the sites of the helper's plan beside it, each taking
        over the other's better plans on those sites.

    Returns
    -------
    ComponentResult
    """
    t0 = time.perf_counter()
    if deadline_is_wall:
        deadline = t0 + (deadline - time.time())
    budget = max(deadline - t0, 0.0)
    board = board if board is not None else Board()
    search = formulation == "strong"
    mm = build(inst, formulation)
    best = _Incumbent(inst, board)

    if start is not None and not inst.violations(start):
        best.consider(start, "earlier pass")
    board.offer(bound=bound)
    if search and share_search:
        # a first worker sharing the search leaves the start to the helper and takes the
        # bounds: the relaxation's here (on some towns above HiGHS's root bound), HiGHS's
        # in its first round
        if inst.n >= PACK_MIN_ORIGINS:
            board.offer(bound=relax_sites(inst, mm, time_limit=PACK_SHARE * budget,
                                          seed=seed)[2])
    elif warm_start and best.assign is None:
        _warm_start(inst, mm, best, budget, gap=gap, seed=seed, pack=True, search=search,
                    search_first=search_first)
    logger.debug("part of %d origins, seed %d: start %.6g at %.1f s", inst.n, seed, best.cost,
                 time.perf_counter() - t0)

    if search_first:
        board.join(1)
    try:
        return _rounds(inst, mm, best, deadline, gap, formulation, seed, stall, search,
                       search_first, t0, share_search)
    finally:
        if search_first:
            board.join(-1)


def _warm_start(inst: Instance, mm, best: _Incumbent, budget: float, *, gap: float, seed: int,
                pack: bool, search: bool, search_first: bool) -> None:
    """The starts (module notes, step 1; relax-and-pack only with ``pack``) in a share of
    ``budget`` seconds, offered to ``best``."""
    slice_s = min(max(0.2, 0.05 * budget), 3.0)
    packed = None
    if search and pack and inst.n >= PACK_MIN_ORIGINS:
        pack_s = min(PACK_SHARE * budget, PACK_SECONDS_PER_ORIGIN * inst.n)
        packed, relaxed = relax_and_pack(
            inst, mm, time_limit=pack_s, seed=seed, gap=gap, relax_limit=PACK_SHARE * budget,
            relax_gap=HELPER_RELAX_GAP * gap if search_first else RELAX_GAP)
        best.board.offer(bound=relaxed)
        best.consider(packed, "relax-and-pack")
    # a helper's plan comes from the packing (the first worker has the greedy one)
    if not search_first or best.assign is None:
        best.consider(_heur.solve_instance(inst, time_limit=slice_s), "heuristic")
    if search and packed is None:
        lp = lp_rounding(inst, time_limit=slice_s)
        if lp is not None:
            best.consider(_heur.polish(inst, lp, time_limit=slice_s), "heuristic")


def same_sites_adopter(best: _Incumbent, plan: np.ndarray):
    """``adopt(cost)`` for a search that only re-packs the sites ``plan`` starts: the
    board's plan if it is cheaper, feasible and starts exactly those sites, else None."""
    own = started_sites(plan)

    def adopt(cost: float):
        got = best.adopt(cost)
        if got is None or not np.array_equal(started_sites(got[0]), own):
            return None
        return got

    return adopt


def _rounds(inst, mm, best: _Incumbent, deadline, gap, formulation, seed, stall, search,
            search_first, t0, share_search=False) -> ComponentResult:
    """HiGHS rounds and searches, alternating (see the module notes)."""
    board = best.board

    # a worker that only re-packs its plan's sites (a helper, or a first worker sharing the
    # search) takes over only plans that start the same sites: the others' (HiGHS's) may
    # start other sites, and from there the search rarely finds its way back
    keep = search and (search_first or share_search)
    # the plan such a worker searches from: its last search's plan; at first its best
    # plan (a first worker sharing the search: the helper's, if better than its own)
    mine = [None]

    def run_search() -> None:
        if keep and mine[0] is not None:
            start = mine[0]
        else:
            if share_search or not keep:
                best.take_shared()
            start = best.assign
        if start is None:
            return
        adopt = same_sites_adopter(best, start) if keep else best.adopt
        improved = improve_lns(inst, start, 0.0, mm=mm, deadline=deadline,
                               seed=seed + 7 * rounds, stop=lambda c: board.met(gap, c),
                               on_improve=lambda a, c: board.offer(objective=c, assign=a),
                               adopt=adopt, scatter=SCATTER, keep_sites=keep)
        if keep:
            mine[0] = improved
        best.consider(improved, "lns")
        logger.debug("part of %d origins, seed %d: search ends at %.1f s: plan %.6g",
                     inst.n, seed, time.perf_counter() - t0, best.cost)

    def incoming(current: float):
        got = board.fetch(current)
        return None if got is None else got[0]

    def bound_stop(objective: float, bound: float) -> bool:
        # a run for the bound only also ends when the helper has its start and the run's
        # bound is still no better than the relaxation's (on the synthetic town HiGHS's
        # root ends below it, after 8 s)
        return board.met(gap, objective, bound) or (board.helped and bound <= board.get()[1])

    status, nodes, rounds = "Not solved", 0, 0
    if search and search_first and best is not None:
        run_search()
    while not board.met(gap, best.cost):
        left = deadline - time.perf_counter()
        if left <= 0.05 and rounds > 0:
            break
        # a first worker sharing the search takes HiGHS's root bound, then searches
        bound_only = share_search and search and rounds == 0
        limit = min(left, BOUND_SHARE * (deadline - t0)) if bound_only else left
        res = solve_highs(inst, formulation=formulation, time_limit=max(limit, 0.05), gap=gap,
                          start=None if bound_only else best.assign, seed=seed + rounds, mm=mm,
                          stall=stall if search and not bound_only else None,
                          stop=bound_stop if bound_only else lambda o, b: board.met(gap, o, b),
                          on_solution=lambda a, c: board.offer(objective=c, assign=a),
                          incoming=incoming if search and not bound_only else None,
                          # while another worker searches, HiGHS keeps to its tree
                          keep_going=None if search_first else (lambda: board.helped),
                          settle=SETTLE if bound_only else None,
                          # ... not before the helper has its start: until then the tree
                          # may as well raise the bound
                          settle_when=(lambda: board.helped) if bound_only else None,
                          options=ROOT_BOUND_OPTIONS if bound_only else None)
        rounds += 1
        nodes += res.nodes
        status = res.status
        logger.debug("part of %d origins, seed %d: HiGHS round %d ends at %.1f s: %s, "
                     "plan %.6g, bound %.6g", inst.n, seed, rounds, time.perf_counter() - t0,
                     status, res.objective, res.bound)
        if res.infeasible:
            res.time_s = time.perf_counter() - t0
            return res
        board.offer(bound=res.bound)
        best.consider(res.assign, "highs")
        if bound_only:
            best.take_shared()         # the helper's start, to search from
            if best.assign is None:    # no helper came (or it has no plan): a start of its own
                _warm_start(inst, mm, best, deadline - time.perf_counter(), gap=gap,
                            seed=seed, pack=False, search=search, search_first=False)
        if status == "Optimal" or best.assign is None or not search:
            break
        if board.met(gap, best.cost) or deadline - time.perf_counter() <= 0.2:
            break
        run_search()

    best.take_shared()
    _, bound = board.get()
    proven = best.assign is not None and gap_of(best.cost, bound) <= gap * (1 + 1e-9) + 1e-12
    return ComponentResult(
        assign=best.assign, objective=best.cost, bound=bound,
        status="Optimal" if proven else ("Time limit reached" if status in (
            "Interrupted by user", "Optimal", "Not solved") else status),
        source=best.source, time_s=time.perf_counter() - t0, n_cols=mm.n_cols,
        n_rows=mm.A.shape[0], nodes=nodes)

