"""The MILP as a sparse matrix, solver-neutral, and its HiGHS solve.

Two formulations of the same model:

``"strong"`` (the default): reduced capacities, the strengthened minimum row,
``x_ij <= y_j`` links, an aggregated capacity row and a site-count row per
component, and presolve (pairs that cannot fit, sites that can never gather
their minimum).

``"textbook"``: the plain capacitated model with ``sum_i d_i x_ij >= L_j y_j``,
kept only to measure what the strong formulation buys (benchmarks).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ._core import STAY, Instance

logger = logging.getLogger(__name__)

FORMULATIONS = ("strong", "textbook")

#: A rise of the dual bound smaller than this share of it does not count for ``settle``.
SETTLE_RISE = 1e-6
#: HiGHS options for a run that wants the bound only: no sub-MIP heuristics at the root
#: (on the generated town 大桥镇 the root takes 13 s with them, 5 s without, for the same
#: bound; their plans are 0.5 % above it, where the search finds 0.1 %), and no strong
#: branching to make the pseudocosts reliable (``mip_pscost_minreliable`` 0): it takes
#: most of the rest. With the other core busy, 大桥镇's root bound 1.119023e9 came at 3.5 s
#: rather than 11 s; the synthetic and tight towns' roots ended at 7-8 s, where with
#: strong branching they had not ended in 14 s.
ROOT_BOUND_OPTIONS = {"mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                      "mip_heuristic_run_root_reduced_cost": False,
                      "mip_pscost_minreliable": 0}


@dataclass
class MatrixModel:
    """``min c x + offset  s.t.  row_lo <= A x <= row_hi, col_lo <= x <= col_hi``, x integer."""

    c: np.ndarray
    offset: float
    A: sparse.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    pairs: np.ndarray        # pair position of each x column (x columns come first)
    n_x: int
    n_y: int
    groups: list             # (rule position, group) of each z column (after y)
    row_kind: list           # a label per row block, for inspection

    @property
    def n_cols(self) -> int:
        return len(self.c)

    def y_col(self, j: int) -> int:
        return self.n_x + j

    def start_vector(self, inst: Instance, assign: np.ndarray) -> np.ndarray | None:
        """Column values of an assignment, or None if it uses a pair the model dropped."""
        col = {int(p): k for k, p in enumerate(self.pairs)}
        lookup = inst.pair_lookup()
        v = np.zeros(self.n_cols)
        for i, j in enumerate(assign):
            if j == STAY:
                continue
            k = col.get(lookup[(i, int(j))])
            if k is None:
                return None
            v[k] = 1.0
            v[self.n_x + j] = 1.0
        for k, (r, g) in enumerate(self.groups):
            rule = inst.rules[r]
            if np.any((rule.group_of == g) & (assign != STAY)):
                v[self.n_x + self.n_y + k] = 1.0
        if np.any(v > self.col_hi + 1e-9):
            return None
        return v

    def assignment(self, inst: Instance, values: np.ndarray) -> np.ndarray:
        assign = np.full(inst.n, STAY)
        xs = np.flatnonzero(values[: self.n_x] > 0.5)
        p = self.pairs[xs]
        assign[inst.po[p]] = inst.pd[p]
        return assign


def build(inst: Instance, formulation: str = "strong") -> MatrixModel:
    """The MILP of an instance.

    Columns: ``x_p`` per allowed pair (origin moves whole to that destination),
    ``y_j`` per destination (opened), ``z_g`` per group of a binding count rule
    (group takes part). Staying is implicit: ``s_i = 1 - sum_j x_ij``, its cost moved
    into the objective's constant and the x costs.
    """
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, not {formulation!r}")
    strong = formulation == "strong"
    n, m = inst.n, inst.m
    d = inst.demand.astype(float)
    must = np.isnan(inst.stay)
    stay0 = np.where(must, 0.0, inst.stay)
    cap = inst.capacity.astype(float)
    low = inst.minimum.astype(float)

    keep = np.ones(inst.npairs, dtype=bool)
    capeff = cap.copy()
    site_ok = np.ones(m, dtype=bool)
    if strong:
        keep &= d[inst.po] <= cap[inst.pd] + 1e-9
        reach = np.bincount(inst.pd[keep], weights=d[inst.po[keep]], minlength=m)
        capeff = np.minimum(cap, reach)
        site_ok = (capeff >= low - 1e-9) & (reach > 0)
        keep &= site_ok[inst.pd]
    pairs = np.flatnonzero(keep)
    po, pd = inst.po[pairs], inst.pd[pairs]
    nx = len(pairs)

    binding = [r for r in range(len(inst.rules)) if inst.rules[r].binding]
    groups = []
    for r in binding:
        rule = inst.rules[r]
        for g in np.unique(rule.group_of[rule.group_of >= 0]):
            groups.append((r, int(g)))
    nz = len(groups)
    ncol = nx + m + nz

    c = np.concatenate([inst.pc[pairs] - stay0[po], inst.fixed.astype(float), np.zeros(nz)])
    col_lo = np.zeros(ncol)
    col_hi = np.ones(ncol)
    col_hi[nx:nx + m][~site_ok] = 0.0

    rows, cols, vals, lo, hi, kinds = [], [], [], [], [], []
    nrow = 0

    def block(r_idx, c_idx, v, rlo, rhi, kind):
        nonlocal nrow
        rows.append(np.asarray(r_idx, dtype=np.int64) + nrow)
        cols.append(np.asarray(c_idx, dtype=np.int64))
        vals.append(np.asarray(v, dtype=float))
        lo.append(np.asarray(rlo, dtype=float))
        hi.append(np.asarray(rhi, dtype=float))
        kinds.append((kind, len(rlo)))
        nrow += len(rlo)

    # 1. each origin moves at most once (exactly once when it must move)
    has = np.zeros(n, dtype=bool)
    has[po] = True
    rows_o = np.flatnonzero(has | must)
    omap = np.full(n, -1)
    omap[rows_o] = np.arange(len(rows_o))
    block(omap[po], np.arange(nx), np.ones(nx),
          np.where(must[rows_o], 1.0, 0.0), np.ones(len(rows_o)), "assign")

    # 2. capacity: sum_i d_i x_ij <= C'_j y_j
    sites = np.flatnonzero(np.bincount(pd, minlength=m) > 0)
    smap = np.full(m, -1)
    smap[sites] = np.arange(len(sites))
    block(np.concatenate([smap[pd], np.arange(len(sites))]),
          np.concatenate([np.arange(nx), nx + sites]),
          np.concatenate([d[po], -capeff[sites]]),
          np.full(len(sites), -np.inf), np.zeros(len(sites)), "capacity")

    # 3. minimum: sum_i min(d_i, L_j) x_ij >= L_j y_j  (textbook: d_i)
    lsites = sites[low[sites] > 0]
    if len(lsites):
        lmap = np.full(m, -1)
        lmap[lsites] = np.arange(len(lsites))
        sel = lmap[pd] >= 0
        coef = np.minimum(d[po], low[pd]) if strong else d[po]
        block(np.concatenate([lmap[pd[sel]], np.arange(len(lsites))]),
              np.concatenate([np.flatnonzero(sel), nx + lsites]),
              np.concatenate([coef[sel], -low[lsites]]),
              np.zeros(len(lsites)), np.full(len(lsites), np.inf), "minimum")
    # Textbook: a site with no minimum still needs y_j linked only through capacity.

    if strong:
        # 4. links x_ij <= y_j
        block(np.concatenate([np.arange(nx), np.arange(nx)]),
              np.concatenate([np.arange(nx), nx + pd]),
              np.concatenate([np.ones(nx), -np.ones(nx)]),
              np.full(nx, -np.inf), np.zeros(nx), "link")
        # 5. per component: opened capacity covers the demand that must move,
        #    and at least ceil(demand / largest capacity) sites open
        sub = inst.subset(np.arange(n), np.arange(m), [])
        sub.po, sub.pd, sub.pc = po, pd, inst.pc[pairs]
        for o_idx, d_idx, _ in sub.components():
            dm = d[o_idx][must[o_idx]].sum()
            if dm <= 0 or len(d_idx) == 0:
                continue
            ce = capeff[d_idx]
            block(np.zeros(len(d_idx)), nx + d_idx, ce, [dm], [np.inf], "aggregate")
            cmax = ce.max()
            if cmax > 0:
                k = math.ceil(dm / cmax - 1e-9)
                if k > 1:
                    block(np.zeros(len(d_idx)), nx + d_idx, np.ones(len(d_idx)), [k], [np.inf],
                          "site_count")

    # 6. count rules: x_ij <= z_g (per origin), z_g <= sum_{i in g} x_i., min <= sum z <= max
    if nz:
        zcol = {grp: nx + m + k for k, grp in enumerate(groups)}
        for r in binding:
            rule = inst.rules[r]
            g_of = rule.group_of[po]
            sel = np.flatnonzero(g_of >= 0)
            members = np.unique(po[sel])
            mm = np.full(n, -1)
            mm[members] = np.arange(len(members))
            zc_members = np.array([zcol[(r, int(rule.group_of[i]))] for i in members], dtype=np.int64)
            block(np.concatenate([mm[po[sel]], np.arange(len(members))]),
                  np.concatenate([sel, zc_members]),
                  np.concatenate([np.ones(len(sel)), -np.ones(len(members))]),
                  np.full(len(members), -np.inf), np.zeros(len(members)), "group_link")
            gl = [(g, zcol[(r, g)]) for (rr, g) in groups if rr == r]
            gmap = {g: k for k, (g, _) in enumerate(gl)}
            block(np.concatenate([[gmap[int(g)] for g in g_of[sel]], np.arange(len(gl))]).astype(int),
                  np.concatenate([sel, [zc for _, zc in gl]]).astype(int),
                  np.concatenate([-np.ones(len(sel)), np.ones(len(gl))]),
                  np.full(len(gl), -np.inf), np.zeros(len(gl)), "group_participates")
            block(np.zeros(len(gl)), [zc for _, zc in gl], np.ones(len(gl)),
                  [rule.min_groups], [rule.max_groups], "group_count")
            if strong:
                # a group takes part only if a site it reaches starts:
                # sum_{j in N(g)} y_j >= z_g; and with a minimum of groups, some site
                # the rule's origins reach starts: sum_{j in N(r)} y_j >= 1
                for g, zc in gl:
                    reach = np.unique(pd[sel][g_of[sel] == g])
                    if not len(reach):
                        continue
                    block(np.zeros(len(reach) + 1), np.concatenate([nx + reach, [zc]]),
                          np.concatenate([np.ones(len(reach)), [-1.0]]), [0.0], [np.inf],
                          "group_site")
                reach = np.unique(pd[sel])
                if rule.min_groups >= 1 and len(reach):
                    block(np.zeros(len(reach)), nx + reach, np.ones(len(reach)), [1.0],
                          [np.inf], "rule_site")
            # a group none of whose origins can move cannot take part
        for k, (r, g) in enumerate(groups):
            rule = inst.rules[r]
            if not np.any(rule.group_of[po] == g):
                col_hi[nx + m + k] = 0.0

    A = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, ncol))
    return MatrixModel(c=c, offset=float(stay0.sum()), A=A, row_lo=np.concatenate(lo),
                       row_hi=np.concatenate(hi), col_lo=col_lo, col_hi=col_hi, pairs=pairs,
                       n_x=nx, n_y=m, groups=groups, row_kind=kinds)


def to_highs(mm: MatrixModel, *, col_lo: np.ndarray | None = None,
             col_hi: np.ndarray | None = None):
    """A ``highspy.Highs`` holding the model (all columns integer), logging off.

    ``col_lo``/``col_hi`` replace the model's column bounds (e.g. to fix columns).
    """
    import highspy

    from .._highs import new_highs

    h = new_highs()
    lp = highspy.HighsLp()
    lp.num_col_ = mm.n_cols
    lp.num_row_ = mm.A.shape[0]
    lp.col_cost_ = mm.c
    lp.offset_ = mm.offset
    lp.col_lower_ = mm.col_lo if col_lo is None else col_lo
    lp.col_upper_ = mm.col_hi if col_hi is None else col_hi
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isneginf(mm.row_lo), -inf, mm.row_lo)
    lp.row_upper_ = np.where(np.isposinf(mm.row_hi), inf, mm.row_hi)
    csc = mm.A.tocsc()
    csc.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    lp.a_matrix_.num_col_ = mm.n_cols
    lp.a_matrix_.num_row_ = mm.A.shape[0]
    lp.integrality_ = [highspy.HighsVarType.kInteger] * mm.n_cols
    h.passModel(lp)
    return h


@dataclass
class ComponentResult:
    """What one solve of one instance produced (positions)."""

    assign: np.ndarray | None
    objective: float
    bound: float
    status: str            # HiGHS's own model status string, or a note for trivial parts
    source: str            # "highs", "heuristic", "no choice"
    time_s: float
    n_cols: int = 0
    n_rows: int = 0
    nodes: int = 0
    infeasible: bool = False


def solve_highs(inst: Instance, *, formulation: str, time_limit: float, gap: float,
                start: np.ndarray | None = None, seed: int = 0, mm: MatrixModel | None = None,
                stall: float | None = None, stop=None, on_solution=None,
                incoming=None, keep_going=None, settle: float | None = None,
                settle_when=None, options: dict | None = None) -> ComponentResult:
    """Solve an instance with HiGHS; report HiGHS's status, objective and dual bound.

    Parameters
    ----------
    inst : Instance
    formulation : {"strong", "textbook"}
    time_limit, gap : float
        HiGHS's ``time_limit`` and ``mip_rel_gap``.
    start : numpy.ndarray, optional
        A feasible assignment handed to HiGHS (``setSolution``).
    seed : int
        HiGHS's ``random_seed``.
    mm : MatrixModel, optional
        The model, if already built (``formulation`` is then ignored).
    stall : float, optional
        Interrupt the search once the root node is done and it has found nothing better
        for this many seconds (the LNS then takes over).
    stop : callable, optional
        ``stop(objective, bound) -> bool``, asked during the search; True interrupts it
        (e.g. when another worker's plan already meets the gap).
    on_solution : callable, optional
        Called with each improving assignment HiGHS finds and its cost.
    incoming : callable, optional
        ``incoming(cost) -> assignment or None``: a plan cheaper than ``cost`` (HiGHS's
        best), found meanwhile by someone else; HiGHS is handed it during the run.
    keep_going : callable, optional
        ``keep_going() -> bool``; while true, ``stall`` does not apply (e.g. another
        worker is searching the neighbourhoods meanwhile).
    settle : float, optional
        Interrupt once the root node is done and the dual bound has not risen by more
        than ``SETTLE_RISE`` of itself for this many seconds (for a worker that wants the
        bound and leaves the plans to the search: the tree adds little bound for long).
    settle_when : callable, optional
        ``settle_when() -> bool``; ``settle`` applies only while true (e.g. once another
        worker has a plan to search from: until then the tree may as well raise the bound).
    options : dict, optional
        Further HiGHS options (e.g. ``ROOT_BOUND_OPTIONS``).

    Returns
    -------
    ComponentResult
        ``status`` is HiGHS's own model status (``"Interrupted by user"`` after a stall or
        a stop); ``bound`` its dual bound, valid whatever the status.
    """
    import highspy

    t0 = time.perf_counter()
    mm = mm if mm is not None else build(inst, formulation)
    h = to_highs(mm)
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("random_seed", int(seed))
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    # no "threads" option: HiGHS's thread pool is global to the process, and asking for a
    # different size than an earlier run makes run() fail
    if start is not None:
        v = mm.start_vector(inst, start)
        if v is not None:
            sol = highspy.HighsSolution()
            sol.col_value = v.tolist()
            sol.value_valid = True
            h.setSolution(sol)
        else:
            logger.debug("warm start uses a pair the model dropped; not given to HiGHS")
    last = [t0, float("inf")]          # time of the last improvement, best objective
    rise = [t0, -float("inf")]         # time the bound last rose markedly, that bound

    if incoming is not None:
        def user_solution(e):
            plan = incoming(last[1])
            if plan is None:
                return
            v = mm.start_vector(inst, plan)
            if v is not None:
                e.data_in.setSolution(v)

        h.cbMipUserSolution.subscribe(user_solution)
    if stall is not None or on_solution is not None or stop is not None or settle is not None:
        def improving(e):
            last[0] = time.perf_counter()
            last[1] = float(e.data_out.objective_function_value)
            if on_solution is not None:
                a = mm.assignment(inst, np.asarray(e.data_out.mip_solution))
                on_solution(a, inst.objective(a))

        def interrupt(e):
            bound = float(e.data_out.mip_dual_bound)
            if settle is not None and np.isfinite(bound):
                now = time.perf_counter()
                if bound > rise[1] + SETTLE_RISE * max(1.0, abs(bound)):
                    rise[0], rise[1] = now, bound
                elif (e.data_out.mip_node_count > 0 and now - rise[0] > settle
                      and (settle_when is None or settle_when())):
                    e.interrupt()
                    return
            if not np.isfinite(bound):
                return
            # (a run for the bound only may find no plan: the others' plans still count)
            if stop is not None and stop(last[1], bound):
                e.interrupt()
            elif (stall is not None and np.isfinite(last[1]) and e.data_out.mip_node_count > 0
                  and time.perf_counter() - last[0] > stall
                  and not (keep_going is not None and keep_going())):
                # the root is done (its cuts and heuristics give most of the bound and
                # the first good plans); the tree search then finds plans slowly
                e.interrupt()

        h.cbMipImprovingSolution.subscribe(improving)
        h.cbMipInterrupt.subscribe(interrupt)
    run_status = h.run()
    status = h.getModelStatus()
    if run_status == highspy.HighsStatus.kError and status in (
            highspy.HighsModelStatus.kNotset, highspy.HighsModelStatus.kModelError,
            highspy.HighsModelStatus.kSolveError, highspy.HighsModelStatus.kPresolveError):
        raise RuntimeError(f"HiGHS failed to solve the model: {h.modelStatusToString(status)}")
    info = h.getInfo()
    text = h.modelStatusToString(status)
    has_solution = info.primal_solution_status == 2
    bound = float(info.mip_dual_bound)
    if status == highspy.HighsModelStatus.kOptimal and not np.isfinite(bound):
        bound = float(info.objective_function_value)
    result = ComponentResult(
        assign=None, objective=float("inf"), bound=bound if np.isfinite(bound) else -np.inf,
        status=text, source="highs", time_s=0.0, n_cols=mm.n_cols, n_rows=mm.A.shape[0],
        nodes=int(info.mip_node_count),
        infeasible=status == highspy.HighsModelStatus.kInfeasible)
    if has_solution:
        values = np.asarray(h.getSolution().col_value)
        result.assign = mm.assignment(inst, values)
        result.objective = inst.objective(result.assign)
    result.time_s = time.perf_counter() - t0
    return result


def lp_rounding(inst: Instance, time_limit: float = 5.0) -> np.ndarray | None:
    """A starting assignment from the strong LP relaxation, rounded down.

    Origins whose LP assignment is whole keep it; the others stay (the heuristic's local
    search then refills the sites). None when the LP does not solve in time.
    """
    import highspy

    mm = build(inst, "strong")
    h = to_highs(mm)
    h.setOptionValue("solve_relaxation", True)
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value)
    x[: mm.n_x] = np.where(x[: mm.n_x] > 1 - 1e-6, 1.0, 0.0)
    return mm.assignment(inst, x)
