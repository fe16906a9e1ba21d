"""Greedy open-and-assign plus local search: a fast feasible plan, never a proof.

The heuristic serves twice: as the MILP's starting plan (handed to HiGHS with
``setSolution``), and as the answer when the time limit ends before the solver
has found a plan of its own; such a plan is marked unproven.

Algorithm, per independent component:

1. *Greedy opening.* Repeatedly open the closed site whose best fill earns the
   most: its candidates are the origins still in place, ranked by saving per
   household (cost of staying minus cost of moving there); the site takes the
   earning ones that fit its capacity, then, if it is still under its minimum,
   the least costly others until the minimum is reached. An origin that must
   move counts as a very costly stay, so it is placed first.
2. *Local search* until no move improves: move one origin (to another site
   with room, to a site it can start alone, or back in place), swap two
   origins between sites (or between a site and staying), close a site and
   re-place its origins, open a new site. Every move keeps each opened site
   between its minimum and its capacity and every count rule within bounds.
3. *Count rules* (e.g. a pilot town's 1 to 2 villages): the groups allowed to
   take part are chosen greedily, one at a time, by the cost of the best plan
   found with them; groups needed to reach a rule's minimum are first made to
   move whole, then local search sends back what need not move.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ._core import STAY, Instance

__all__ = ["heuristic_plan"]

logger = logging.getLogger(__name__)


def heuristic_plan(model, time_limit: float = 10.0):
    """Solve a model with the heuristic alone (no proof).

    Parameters
    ----------
    model : ConsolidationModel
        The model to solve.
    time_limit : float, default 10
        Seconds for the whole heuristic, shared across the model's components.

    Returns
    -------
    ConsolidationPlan or None
        A feasible plan marked unproven (its ``proof.bound`` is NaN), or None when
        the heuristic finds no feasible plan (which proves nothing: the MILP may
        still find one, or prove there is none).

    Examples
    --------
    >>> import numpy as np
    >>> from landplan.consolidate import ConsolidationModel, heuristic_plan
    >>> cost = np.array([[10.0, 40.0], [12.0, 30.0], [50.0, 11.0]])
    >>> model = ConsolidationModel.from_cost_matrix(
    ...     cost, demand=[30, 30, 60], capacity=[100, 100], fixed_cost=[5, 5], minimum=50)
    >>> plan = heuristic_plan(model, time_limit=1)
    >>> plan.proven, plan.proof.status
    (False, 'heuristic')
    >>> plan.moves[["origin", "destination"]].values.tolist()
    [['o0', 'd0'], ['o1', 'd0'], ['o2', 'd1']]
    """
    return model.solve_heuristic(time_limit=time_limit)


# --------------------------------------------------------------------------- the search
class _Search:
    """Mutable state of the heuristic on one instance (positions only)."""

    def __init__(self, inst: Instance, deadline: float):
        self.inst = inst
        self.deadline = deadline
        n, m = inst.n, inst.m
        self.optr = inst.origin_ptr()
        self.dorder, self.dptr = inst.dest_order()
        self.lookup = inst.pair_lookup()
        self.d = inst.demand.astype(float)
        self.cap = inst.capacity.astype(float)
        self.low = inst.minimum.astype(float)
        self.f = inst.fixed.astype(float)
        scale = (np.abs(inst.pc).sum() + np.nansum(np.abs(inst.stay)) + np.abs(self.f).sum() + 1.0)
        self.big = 1e3 * scale
        self.true_stay = np.where(np.isnan(inst.stay), self.big, inst.stay)
        self.assign = np.full(n, STAY)
        self.pidx = np.full(n, -1)
        self.load = np.zeros(m)
        self.rules = [r for r in inst.rules]
        self.cnt = [np.zeros(len(r.labels), dtype=int) for r in self.rules]
        self.movable = np.ones(n, dtype=bool)
        self.integral = bool(np.all(np.abs(self.d - np.round(self.d)) < 1e-9)
                             and np.all(self.cap[np.isfinite(self.cap)] < 1e6))

    # ---------------------------------------------------------------- basics
    def timed_out(self) -> bool:
        return time.perf_counter() > self.deadline

    def cost_of(self, i: int) -> float:
        p = self.pidx[i]
        return float(self.inst.pc[p]) if p >= 0 else float(self.true_stay[i])

    def can_leave_group(self, i: int) -> bool:
        """Whether origin i may go back in place without breaking a count rule's minimum."""
        for r, rule in enumerate(self.rules):
            g = rule.group_of[i]
            if g < 0:
                continue
            if self.cnt[r][g] == 1 and np.count_nonzero(self.cnt[r]) - 1 < rule.min_groups:
                return False
        return True

    def can_join_group(self, i: int) -> bool:
        for r, rule in enumerate(self.rules):
            g = rule.group_of[i]
            if g < 0:
                continue
            if self.cnt[r][g] == 0 and np.count_nonzero(self.cnt[r]) + 1 > rule.max_groups:
                return False
        return True

    def set(self, i: int, j: int) -> None:
        """Move origin i to destination j (or STAY), keeping loads and counts."""
        old = self.assign[i]
        if old == j:
            return
        if old != STAY:
            self.load[old] -= self.d[i]
        else:
            for r, rule in enumerate(self.rules):
                if rule.group_of[i] >= 0:
                    self.cnt[r][rule.group_of[i]] += 1
        if j != STAY:
            self.load[j] += self.d[i]
            self.pidx[i] = self.lookup[(i, j)]
        else:
            self.pidx[i] = -1
            for r, rule in enumerate(self.rules):
                if rule.group_of[i] >= 0:
                    self.cnt[r][rule.group_of[i]] -= 1
        self.assign[i] = j

    def leave_ok(self, a: int, di: float) -> tuple[bool, float]:
        """Whether site a may lose di households; the fixed cost saved if it closes."""
        rest = self.load[a] - di
        if rest <= 1e-9:
            return True, self.f[a]
        return rest >= self.low[a] - 1e-9, 0.0

    def join_ok(self, b: int, di: float) -> tuple[bool, float]:
        """Whether site b may take di more households; the fixed cost paid if it opens."""
        new = self.load[b] + di
        if new > self.cap[b] + 1e-9 or new < self.low[b] - 1e-9:
            return False, 0.0
        return True, (self.f[b] if self.load[b] <= 1e-9 else 0.0)

    # ---------------------------------------------------------------- greedy opening
    def greedy_open(self, stay_cost: np.ndarray) -> bool:
        """Open sites one by one while one earns something; True if any opened."""
        inst = self.inst
        opened_any = False
        while not self.timed_out():
            best_val, best_j, best_take = 0.0, -1, None
            for j in range(inst.m):
                if self.load[j] > 1e-9 or self.cap[j] < self.low[j]:
                    continue
                ps = self.dorder[self.dptr[j]:self.dptr[j + 1]]
                if len(ps) == 0:
                    continue
                o = inst.po[ps]
                ok = (self.assign[o] == STAY) & self.movable[o] & (self.d[o] <= self.cap[j])
                ok &= np.array([self.can_join_group(int(i)) for i in o]) if self.rules else True
                if not ok.any():
                    continue
                ps, o = ps[ok], o[ok]
                gain = stay_cost[o] - inst.pc[ps]
                dd = self.d[o]
                take = _fill(gain, dd, self.cap[j], self.low[j])
                if take is None:
                    continue
                val = gain[take].sum() - self.f[j]
                if val > best_val + 1e-9:
                    best_val, best_j, best_take = val, j, o[take]
            if best_j < 0:
                break
            for i in best_take:
                self.set(int(i), best_j)
            opened_any = True
        return opened_any

    # ---------------------------------------------------------------- local search
    def relocate_pass(self) -> bool:
        inst = self.inst
        improved = False
        for i in range(inst.n):
            if self.timed_out():
                break
            if not self.movable[i]:
                continue
            a = self.assign[i]
            di = self.d[i]
            cur = self.cost_of(i)
            saved = 0.0
            if a != STAY:
                ok, saved = self.leave_ok(a, di)
                if not ok:
                    continue
            best_delta, best_to = -1e-7, None
            if a != STAY and not np.isnan(inst.stay[i]) and self.can_leave_group(i):
                delta = inst.stay[i] - cur - saved
                if delta < best_delta:
                    best_delta, best_to = delta, STAY
            if a == STAY and not self.can_join_group(i):
                continue
            for p in range(self.optr[i], self.optr[i + 1]):
                b = int(inst.pd[p])
                if b == a:
                    continue
                ok, opened = self.join_ok(b, di)
                if not ok:
                    continue
                delta = inst.pc[p] + opened - cur - saved
                if delta < best_delta:
                    best_delta, best_to = delta, b
            if best_to is not None:
                self.set(i, best_to)
                improved = True
        return improved

    def swap_pass(self) -> bool:
        """Exchange two origins between two opened sites, or between a site and staying."""
        inst = self.inst
        improved = False
        members: dict[int, list[int]] = {}
        for i, j in enumerate(self.assign):
            if j != STAY:
                members.setdefault(int(j), []).append(i)
        for i in range(inst.n):
            if self.timed_out():
                break
            if not self.movable[i]:
                continue
            a = int(self.assign[i])
            di = self.d[i]
            ci = self.cost_of(i)
            done = False
            for p in range(self.optr[i], self.optr[i + 1]):
                b = int(inst.pd[p])
                if b == a or self.load[b] <= 1e-9:
                    continue
                for k in members.get(b, ()):
                    dk = self.d[k]
                    newb = self.load[b] - dk + di
                    if newb > self.cap[b] + 1e-9 or newb < self.low[b] - 1e-9:
                        continue
                    if a == STAY:
                        if np.isnan(inst.stay[k]):
                            continue
                        ck_new = inst.stay[k]
                    else:
                        q = self.lookup.get((k, a))
                        if q is None:
                            continue
                        newa = self.load[a] - di + dk
                        if newa > self.cap[a] + 1e-9 or newa < self.low[a] - 1e-9:
                            continue
                        ck_new = inst.pc[q]
                    delta = inst.pc[p] + ck_new - ci - self.cost_of(k)
                    if delta < -1e-7:
                        if self.rules and a == STAY and not self._swap_rules_ok(i, k, b):
                            continue
                        self.set(k, STAY)
                        self.set(i, b)
                        if a != STAY:
                            self.set(k, a)
                        members[b].remove(k)
                        members[b].append(i)
                        if a != STAY:
                            members[a].remove(i)
                            members[a].append(k)
                        improved = done = True
                        break
                if done:
                    break
        return improved

    def _swap_rules_ok(self, i: int, k: int, b: int) -> bool:
        """Whether staying i may replace k at site b (k goes back in place) under the rules."""
        saved = (self.assign.copy(), self.pidx.copy(), self.load.copy(), [c.copy() for c in self.cnt])
        self.set(k, STAY)
        self.set(i, b)
        ok = all(r.min_groups <= np.count_nonzero(c) <= r.max_groups
                 for r, c in zip(self.rules, self.cnt))
        self.assign, self.pidx, self.load, self.cnt = saved
        return ok

    def close_pass(self) -> bool:
        """Close an opened site when re-placing its origins elsewhere costs less."""
        inst = self.inst
        improved = False
        for j in np.flatnonzero(self.load > 1e-9):
            if self.timed_out():
                break
            who = np.flatnonzero(self.assign == j)
            saved = (self.assign.copy(), self.pidx.copy(), self.load.copy(), [c.copy() for c in self.cnt])
            before = sum(self.cost_of(i) for i in who) + self.f[j]
            after = 0.0
            ok = True
            for i in sorted(who, key=lambda i: -self.d[i]):
                options = []
                if not np.isnan(inst.stay[i]):
                    options.append((inst.stay[i], STAY))
                for p in range(self.optr[i], self.optr[i + 1]):
                    b = int(inst.pd[p])
                    if b == j or self.load[b] <= 1e-9:
                        continue
                    if self.load[b] + self.d[i] <= self.cap[b] + 1e-9:
                        options.append((inst.pc[p], b))
                placed = False
                for c, b in sorted(options, key=lambda t: t[0]):
                    if b == STAY:
                        self.set(i, STAY)
                        if any(np.count_nonzero(cn) < r.min_groups for r, cn in zip(self.rules, self.cnt)):
                            self.set(i, j)
                            continue
                    else:
                        self.set(i, b)
                    after += c
                    placed = True
                    break
                if not placed:
                    ok = False
                    break
            if ok and after < before - 1e-7:
                improved = True
            else:
                self.assign, self.pidx, self.load, self.cnt = saved
        return improved

    def knapsack_pass(self) -> bool:
        """Refill each site optimally from the origins in place and its own (0/1 knapsack).

        For site j the pool is the origins that may move there and either stay or are at
        j now; the best subset by total saving (cost of staying minus cost of moving to j)
        with households between the minimum and the capacity replaces j's current one,
        when it saves more. Households must be whole numbers (else the pass is skipped).
        """
        inst = self.inst
        if not self.integral:
            return False
        improved = False
        for j in range(inst.m):
            if self.timed_out():
                break
            cap = int(round(min(self.cap[j], 1e6)))
            if cap <= 0 or self.cap[j] < self.low[j]:
                continue
            ps = self.dorder[self.dptr[j]:self.dptr[j + 1]]
            o = inst.po[ps]
            ok = self.movable[o] & ((self.assign[o] == STAY) | (self.assign[o] == j)) \
                & (self.d[o] <= self.cap[j])
            if self.rules:
                ok &= np.array([self.assign[i] == j or self.can_join_group(int(i)) for i in o])
            ps, o = ps[ok], o[ok]
            if len(o) == 0:
                continue
            members = o[self.assign[o] == j]
            if len(members) == 0 and self.low[j] > 0 and self.d[o].sum() < self.low[j]:
                continue
            # a must-move origin already at j must stay at j (it has nowhere else here)
            value = self.true_stay[o] - inst.pc[ps]
            w = np.round(self.d[o]).astype(np.int64)
            cur = value[self.assign[o] == j].sum() - (self.f[j] if len(members) else 0.0)
            take = _knapsack(value, w, cap, int(np.ceil(self.low[j] - 1e-9)))
            if take is None:
                new_val = 0.0
                chosen = np.zeros(len(o), dtype=bool)
            else:
                chosen = take
                new_val = value[chosen].sum() - (self.f[j] if chosen.any() else 0.0)
            if new_val > cur + 1e-6 * max(1.0, abs(cur)):
                # must-move origins dropped from j would be left unplaced: keep them
                dropped = o[(self.assign[o] == j) & ~chosen]
                if np.isnan(inst.stay[dropped]).any():
                    continue
                saved = (self.assign.copy(), self.pidx.copy(), self.load.copy(),
                         [c.copy() for c in self.cnt])
                for i in dropped:
                    self.set(int(i), STAY)
                for i in o[chosen & (self.assign[o] != j)]:
                    self.set(int(i), j)
                if any(not r.min_groups <= np.count_nonzero(c) <= r.max_groups
                       for r, c in zip(self.rules, self.cnt)):
                    self.assign, self.pidx, self.load, self.cnt = saved
                    continue
                improved = True
        return improved

    def run_local_search(self, full: bool = True) -> None:
        while not self.timed_out():
            changed = self.relocate_pass()
            if full:
                changed |= self.swap_pass()
                changed |= self.close_pass()
                changed |= self.knapsack_pass()
            stay_now = np.where(np.isnan(self.inst.stay), self.big, self.inst.stay)
            changed |= self.greedy_open(stay_now)
            if not changed:
                break


def _knapsack(value: np.ndarray, weight: np.ndarray, cap: int, low: int):
    """0/1 knapsack: the items maximising value with total weight in [low, cap].

    Returns a boolean mask, or None when no non-empty subset reaches ``low`` (or the
    best such subset is worth less than taking nothing, which the caller compares).
    """
    k = len(value)
    best = np.full(cap + 1, -np.inf)
    best[0] = 0.0
    took = np.zeros((k, cap + 1), dtype=bool)
    for t in range(k):
        w = int(weight[t])
        if w > cap:
            continue
        if w == 0:
            if value[t] > 0:
                best += value[t]
                took[t, :] = True
            continue
        cand = best[:-w] + value[t]
        better = cand > best[w:]
        best[w:][better] = cand[better]
        took[t, w:] = better
    lo = max(low, 1)
    if lo > cap or not np.isfinite(best[lo:]).any():
        return None
    wbest = lo + int(np.argmax(best[lo:]))
    chosen = np.zeros(k, dtype=bool)
    w = wbest
    for t in range(k - 1, -1, -1):
        if took[t, w]:
            chosen[t] = True
            w -= int(weight[t])
    return chosen


def _fill(gain: np.ndarray, dd: np.ndarray, cap: float, low: float):
    """Positions to take into a site: earning ones by gain per household, then the minimum."""
    ratio = gain / np.maximum(dd, 1e-9)
    order = np.argsort(-ratio, kind="stable")
    taken = np.zeros(len(gain), dtype=bool)
    total = 0.0
    for k in order:
        if gain[k] <= 0:
            break
        if total + dd[k] <= cap + 1e-9:
            taken[k] = True
            total += dd[k]
    if total < low - 1e-9:
        for k in order:
            if taken[k] or gain[k] > 0:
                continue
            if total + dd[k] <= cap + 1e-9:
                taken[k] = True
                total += dd[k]
                if total >= low - 1e-9:
                    break
    if total < low - 1e-9 or total <= 0:
        if total <= 0 and low <= 0 and taken.any():
            return np.flatnonzero(taken)
        return None
    return np.flatnonzero(taken)


def _run(inst: Instance, deadline: float, movable: np.ndarray, forced: np.ndarray,
         full: bool) -> _Search:
    s = _Search(inst, deadline)
    s.movable = movable
    stay_phase = s.true_stay.copy()
    stay_phase[forced] = s.big
    s.greedy_open(stay_phase)
    s.run_local_search(full=full)
    return s


def polish(inst: Instance, assign: np.ndarray, time_limit: float = 5.0) -> np.ndarray | None:
    """Local search from a given (possibly partial) assignment; None if it ends infeasible.

    Sites left under their minimum are emptied first (their origins go back in place);
    origins that must move and stay are placed by the search.
    """
    s = _Search(inst, time.perf_counter() + max(time_limit, 0.0))
    assign = np.asarray(assign)
    load = inst.loads(assign)
    for i, j in enumerate(assign):
        if j == STAY or load[j] < inst.minimum[j] - 1e-9 or load[j] > inst.capacity[j] + 1e-9:
            continue
        if (i, int(j)) in s.lookup:
            s.set(i, int(j))
    s.greedy_open(s.true_stay)
    s.run_local_search(full=True)
    return s.assign if not inst.violations(s.assign, s.lookup) else None


def solve_instance(inst: Instance, time_limit: float = 5.0) -> np.ndarray | None:
    """Heuristic assignment for one instance (positions), or None if none was found."""
    start = time.perf_counter()
    deadline = start + max(time_limit, 0.0)
    binding = [r for r in range(len(inst.rules)) if inst.rules[r].binding]
    lookup = inst.pair_lookup()
    if not binding:
        s = _run(inst, deadline, np.ones(inst.n, dtype=bool), np.zeros(inst.n, dtype=bool), True)
        return s.assign if not inst.violations(s.assign, lookup) else None

    in_binding = np.zeros(inst.n, dtype=bool)
    for r in binding:
        in_binding |= inst.rules[r].group_of >= 0
    active: dict[int, set] = {r: set() for r in binding}

    def evaluate(act, full):
        movable = ~in_binding.copy()
        forced = np.zeros(inst.n, dtype=bool)
        for r in binding:
            rule = inst.rules[r]
            g = rule.group_of
            on = np.isin(g, list(act[r])) if act[r] else np.zeros(inst.n, dtype=bool)
            movable |= on
            if len(act[r]) <= rule.min_groups:
                forced |= on
        # an origin in several binding rules must be active in all of them
        for r in binding:
            g = inst.rules[r].group_of
            movable &= (g < 0) | np.isin(g, list(act[r]) or [-2])
        s = _run(inst, deadline, movable, forced, full)
        bad = inst.violations(s.assign, lookup)
        return s, bad

    best_assign, best_cost = None, np.inf
    if all(inst.rules[r].min_groups == 0 for r in binding):
        s, bad = evaluate(active, True)
        if not bad:
            best_assign, best_cost = s.assign.copy(), inst.objective(s.assign, lookup)
    while time.perf_counter() < deadline:
        below_min = any(len(active[r]) < inst.rules[r].min_groups for r in binding)
        trial_best = (np.inf, None, None, None)
        for r in binding:
            rule = inst.rules[r]
            if len(active[r]) >= rule.max_groups:
                continue
            present = set(np.unique(rule.group_of[rule.group_of >= 0]).tolist())
            for g in sorted(present - active[r]):
                act = {k: set(v) for k, v in active.items()}
                act[r].add(g)
                s, bad = evaluate(act, False)
                only_min = all("take part" in b for b in bad)
                if bad and not (below_min and only_min):
                    continue
                c = inst.objective(s.assign, lookup) + (0 if not bad else s.big)
                if c < trial_best[0]:
                    trial_best = (c, r, g, act)
                if time.perf_counter() > deadline:
                    break
        c, r, g, act = trial_best
        if act is None:
            break
        if not below_min and c >= best_cost - 1e-7:
            break
        active = act
        s, bad = evaluate(active, True)
        if not bad:
            cost = inst.objective(s.assign, lookup)
            if cost < best_cost:
                best_assign, best_cost = s.assign.copy(), cost
    return best_assign
