"""Sharing the time limit and the processor cores among the independent parts of a model.

The parts (towns, usually) are independent, so they run in parallel: each in its own
worker process (``concurrent.futures.ProcessPoolExecutor``, one worker per core by
default; each builds its own HiGHS model, and HiGHS's ``threads`` option is never
set). The time is shared by difficulty:

* **first pass**, smallest parts first: each part gets a share of the time left in
  proportion to its size; easy parts prove their gap well within it and hand the rest
  back;
* **second pass**: the parts still open get the rest of the time, in proportion to
  their open gap in yuan (what they add to the whole model's gap), continuing from
  their best plan and bound;
* **spare cores**: when fewer parts are open than there are workers, a free worker
  joins the part with the largest open gap: it builds the relax-and-pack start and runs
  the neighbourhood search while the first runs HiGHS, and the two share their best
  plan, its cost and the best bound (shared memory,
  :class:`~landplan.consolidate._pipeline.Board`), so each builds on the other's plans
  and both stop as soon as together they meet the gap. When the helper joins at once
  (fewer parts than workers from the start, e.g. one town), the first worker builds no
  start: it takes the bounds (the relaxation's, HiGHS's root without heuristics or
  strong branching) while the helper packs, then searches beside the helper
  (``share_search``).

Small models (or ``workers=1``) run in this process, the same way, one part at a time.
If a worker process dies (killed, out of memory, a crash in the solver) or hangs, the
solve goes on in this process with the time left, each part from the best plan and bound
its workers had shared (a part without a shared plan starts again).
Worker processes are started with the ``forkserver`` method: a process forked from one
that has already run HiGHS could inherit its thread pool in a broken state.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from ._core import Instance, gap_of
from ._formulation import ComponentResult
from ._pipeline import Board, solve_component

__all__ = ["solve_parts"]

logger = logging.getLogger(__name__)

#: Below this many allowed pairs in all (or this many seconds), parts run in-process:
#: starting worker processes costs about a second.
PARALLEL_MIN_PAIRS = 1000
PARALLEL_MIN_SECONDS = 4.0

_SHARED = None         # in a worker: (costs and bounds, plans, plan offsets) of every part


class _Slot:
    """Three entries of a shared array, seen as a Board's values."""

    def __init__(self, array, k: int):
        self.array, self.k = array, k

    def __getitem__(self, i):
        return self.array[3 * self.k + i]

    def __setitem__(self, i, value):
        self.array[3 * self.k + i] = value

    def get_lock(self):
        return self.array.get_lock()

    @property
    def stopped(self) -> bool:
        """The caller has asked every worker to stop (the last entry of the array)."""
        return bool(self.array[len(self.array) - 1])


def _init_worker(values, plans, offsets) -> None:
    global _SHARED
    _SHARED = (values, plans, offsets)


def _task(k: int, inst: Instance, deadline_wall: float, gap: float, formulation: str,
          warm_start: bool, seed: int, start, bound: float,
          search_first: bool, share_search: bool = False) -> tuple[int, ComponentResult]:
    board = None
    if _SHARED is not None:
        values, plans, offsets = _SHARED
        plan = np.frombuffer(plans, dtype=np.int32)[offsets[k]:offsets[k] + inst.n]
        board = Board(_Slot(values, k), plan=plan, lock=values.get_lock())
    res = solve_component(inst, deadline=deadline_wall, deadline_is_wall=True, gap=gap,
                          formulation=formulation, warm_start=warm_start, seed=seed,
                          start=start, bound=bound, board=board, search_first=search_first,
                          share_search=share_search)
    return k, res


def _merge(old: ComponentResult | None, new: ComponentResult, gap: float) -> ComponentResult:
    """The better plan of two runs on one part, with the better bound."""
    if old is None:
        return new
    if new.infeasible or old.infeasible:
        return new if new.infeasible else old
    best = new if (new.assign is not None and new.objective < old.objective) else old
    bound = max(old.bound, new.bound)
    proven = best.assign is not None and gap_of(best.objective, bound) <= gap * (1 + 1e-9) + 1e-12
    status = "Optimal" if proven else (best.status if best.status != "Optimal"
                                       else "Time limit reached")
    return ComponentResult(assign=best.assign, objective=best.objective, bound=bound,
                           status=status, source=best.source,
                           time_s=old.time_s + new.time_s, n_cols=best.n_cols or old.n_cols,
                           n_rows=best.n_rows or old.n_rows, nodes=old.nodes + new.nodes)


class _WorkersLost(Exception):
    """A worker process ended abnormally; ``results`` holds what the parts had found."""

    def __init__(self, results: dict[int, ComponentResult]):
        super().__init__(f"{len(results)} parts rescued")
        self.results = results


def _rescue(subs, keys, board, plans, offsets, results, gap) -> dict[int, ComponentResult]:
    """Each part's results so far, merged with the best plan and bound its workers shared
    on the board (parts with a feasible plan only: the others start again)."""
    lock = board.get_lock()
    # a worker that died holding the lock never releases it: read anyway, and trust no
    # plan that does not check out below
    locked = lock.acquire(timeout=1.0)
    try:
        values = np.array(board[:], dtype=float)
        shared = np.frombuffer(plans, dtype=np.int32).astype(np.int64)
    finally:
        if locked:
            lock.release()
    out: dict[int, ComponentResult] = {}
    for i, k in enumerate(keys):
        inst, res = subs[k], results[k]
        plan = shared[offsets[i]:offsets[i + 1]]
        if np.isfinite(values[3 * i]) and len(plan) == inst.n and not inst.violations(plan):
            res = _merge(res, ComponentResult(
                assign=plan.copy(), objective=inst.objective(plan), bound=values[3 * i + 1],
                status="Time limit reached", source="shared", time_s=0.0), gap)
        if res is not None and res.assign is not None:
            out[k] = res
    return out


def _open_gap(res: ComponentResult | None) -> float:
    if res is None or res.assign is None or not np.isfinite(res.bound):
        return np.inf
    return max(res.objective - res.bound, 0.0)


def _done(res: ComponentResult | None) -> bool:
    return res is not None and (res.status == "Optimal" or res.infeasible)


def solve_parts(subs: dict[int, Instance], *, time_limit: float, gap: float,
                formulation: str = "strong", warm_start: bool = True, seed: int = 0,
                workers: int | None = None, progress=None) -> dict[int, ComponentResult]:
    """Solve every part within ``time_limit`` seconds in all; results keyed like ``subs``.

    ``progress``, if given, is called with each part's key when it is proven.
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit)
    workers = max(1, int(workers or os.cpu_count() or 1))
    sizes = {k: s.npairs + s.n + s.m for k, s in subs.items()}
    pairs = sum(s.npairs for s in subs.values())
    parallel = (workers > 1 and pairs >= PARALLEL_MIN_PAIRS
                and time_limit >= PARALLEL_MIN_SECONDS and _main_importable())
    found: dict[int, ComponentResult] = {}
    if parallel:
        try:
            return _solve_parallel(subs, sizes, deadline, gap, formulation, warm_start, seed,
                                   workers, progress)
        except _WorkersLost as lost:
            found = lost.results
            logger.warning("a worker process ended abnormally (%s): going on in this process "
                           "from the plans and bounds the workers had shared (%d of %d parts)",
                           lost.__cause__, len(found), len(subs))
        except (OSError, BrokenProcessPool) as err:   # no worker processes on this host
            logger.warning("solving the parts one at a time: worker processes failed (%s)",
                           err)
    return _solve_serial(subs, sizes, deadline, gap, formulation, warm_start, seed, progress,
                         found)


def _main_importable() -> bool:
    """Whether a worker process can start: it re-imports the caller's main script, so a
    script piped in on stdin (``__file__ == "<stdin>"``) rules workers out."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or os.path.exists(path):
        return True
    logger.info("solving the parts one at a time: the main script %r cannot be re-imported "
                "by worker processes", path)
    return False


def _solve_serial(subs, sizes, deadline, gap, formulation, warm_start, seed, progress,
                  found=None):
    """One part at a time; parts in ``found`` (results of worker processes that were
    lost) skip the first pass and continue from their plan and bound in the second."""
    results: dict[int, ComponentResult] = dict(found or {})
    order = sorted(subs, key=lambda k: sizes[k])
    pending = sum(sizes[k] for k in order if k not in results)
    for k in order:
        if k in results:
            continue
        left = deadline - time.perf_counter()
        share = left * sizes[k] / max(pending, 1)
        pending -= sizes[k]
        res = solve_component(subs[k], deadline=time.perf_counter() + max(share, 0.05),
                              gap=gap, formulation=formulation, warm_start=warm_start,
                              seed=seed)
        results[k] = res
        if progress is not None and _done(res):
            progress(k)
    if formulation != "strong":
        return results
    # second pass: the time left to the parts still open, by the gap they leave
    while True:
        open_ = [k for k in order if not _done(results[k]) and results[k].assign is not None]
        left = deadline - time.perf_counter()
        if not open_ or left < 0.5:
            break
        k = max(open_, key=lambda k: _open_gap(results[k]))
        total = sum(min(_open_gap(results[q]), 1e300) for q in open_)
        share = left if len(open_) == 1 or total <= 0 else \
            max(left * _open_gap(results[k]) / total, min(left, 1.0))
        res = solve_component(subs[k], deadline=time.perf_counter() + share, gap=gap,
                              formulation=formulation, warm_start=False, seed=seed + 100,
                              start=results[k].assign, bound=results[k].bound)
        before = results[k]
        results[k] = _merge(before, res, gap)
        if progress is not None and _done(results[k]):
            progress(k)
        if len(open_) > 1 and not _done(results[k]) and \
                results[k].objective >= before.objective - 1e-9:
            # nothing gained: do not come back to it before the others
            order = [q for q in order if q != k] + [k]
            if all(_open_gap(results[q]) == 0 for q in open_ if q != k):
                break
    return results


def _solve_parallel(subs, sizes, deadline, gap, formulation, warm_start, seed, workers,
                    progress):
    keys = list(subs)
    try:
        ctx = mp.get_context("forkserver")
        # the server imports the solver once; each worker is then a cheap fork of it
        ctx.set_forkserver_preload([__name__])
    except ValueError:                        # no forkserver on this platform
        ctx = mp.get_context("spawn")
    board = ctx.Array("d", [v for _ in keys for v in (np.inf, -np.inf, 0.0)] + [0.0])
    offsets = np.concatenate([[0], np.cumsum([subs[k].n for k in keys])]).astype(int).tolist()
    plans = ctx.Array("i", max(offsets[-1], 1), lock=False)
    slot = {k: i for i, k in enumerate(keys)}
    results: dict[int, ComponentResult | None] = {k: None for k in keys}
    running: dict = {}                         # future -> part key
    queue = sorted(keys, key=lambda k: sizes[k])
    pending = sum(sizes.values())
    wall_offset = time.time() - time.perf_counter()
    helpers = 0

    # with fewer parts than workers, a helper joins each part at once and packs at length
    # while the part's first worker takes the bounds and then searches too
    shared = len(keys) < workers

    def submit(ex, k, until, *, warm, seed_k, start=None, bound=-np.inf, helper=False):
        fut = ex.submit(_task, slot[k], subs[k], until + wall_offset, gap, formulation, warm,
                        seed_k, start, bound, helper, shared and not helper)
        running[fut] = k

    ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(board, plans, offsets))
    finished = False
    try:
        while True:
            now = time.perf_counter()
            left = deadline - now
            # fill free workers: first pass, then open parts, then helpers
            while len(running) < workers and left > 0.05:
                if queue:
                    k = queue.pop(0)
                    share = min(left, left * workers * sizes[k] / max(pending, 1))
                    pending -= sizes[k]
                    submit(ex, k, now + max(share, 0.05), warm=warm_start, seed_k=seed)
                    continue
                if formulation != "strong" or left < 1.0:
                    break
                busy = set(running.values())
                open_ = [k for k in keys if not _done(results[k]) and k not in busy
                         and results[k] is not None and results[k].assign is not None]
                if open_:
                    k = max(open_, key=lambda q: _open_gap(results[q]))
                    total = sum(min(_open_gap(results[q]), 1e300) for q in keys
                                if not _done(results[q]) and results[q] is not None)
                    mine = min(_open_gap(results[k]), 1e300)
                    share = left if total <= 0 else \
                        min(left, max(left * workers * mine / total, 1.0))
                    submit(ex, k, now + share, warm=False, seed_k=seed + 100,
                           start=results[k].assign, bound=results[k].bound)
                    continue
                # a spare worker: join the open part with the largest gap (another seed)
                cand = [k for k in busy if not _done(results[k])]
                if not cand or sizes[max(cand, key=lambda q: sizes[q])] < 200:
                    break
                k = max(cand, key=lambda q: (_open_gap(results[q]), sizes[q]))
                helpers += 1
                submit(ex, k, deadline, warm=True, seed_k=seed + 1000 * helpers,
                       start=None if results[k] is None else results[k].assign,
                       bound=-np.inf if results[k] is None else results[k].bound, helper=True)
            if not running:
                break
            done, _ = wait(list(running), timeout=max(left, 0.0) + 30.0,
                           return_when=FIRST_COMPLETED)
            if not done:                       # a worker overran the deadline badly
                raise TimeoutError("a worker process did not finish in time")
            for fut in done:
                k = running.pop(fut)
                _, res = fut.result()
                results[k] = _merge(results[k], res, gap)
                if progress is not None and _done(results[k]):
                    progress(k)
            if any(r is not None and r.infeasible for r in results.values()):
                # an infeasible part ends the solve: ask the others to stop now
                board[len(board) - 1] = 1.0
                for fut in running:
                    fut.cancel()
                break
        finished = True
    except (BrokenProcessPool, TimeoutError) as err:
        # a worker died (killed, out of memory, a crash in the solver) or hung: what the
        # workers shared so far is on the board; keep it rather than start again
        raise _WorkersLost(_rescue(subs, keys, board, plans, offsets, results, gap)) from err
    finally:
        # normally every worker has ended by the deadline; after an error, do not wait
        ex.shutdown(wait=finished, cancel_futures=True)
    logger.debug("solved %d parts in %d worker processes (%d helper runs)", len(keys), workers,
                 helpers)
    return {k: r for k, r in results.items() if r is not None}
