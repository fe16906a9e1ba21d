"""The solver-neutral core: an instance as flat arrays, and checks of an assignment.

Everything here works on integer positions (origin ``i``, destination ``j``,
allowed pair ``p``); ids appear only in :mod:`landplan.consolidate.model`.
An *assignment* is an integer array of length ``n``: the destination position
an origin moves to, or ``-1`` when it stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

STAY = -1


def started_sites(plan: np.ndarray) -> np.ndarray:
    """The sites a plan starts (sorted positions).

    Examples
    --------
    >>> started_sites(np.array([2, -1, 0, 2]))
    array([0, 2])
    """
    plan = np.asarray(plan)
    return np.unique(plan[plan != STAY])


@dataclass
class Rule:
    """A count rule over groups of origins (positions), e.g. a pilot town's villages.

    ``group_of[i]`` is the group (0..len(labels)-1) origin ``i`` belongs to under this
    rule, or -1. A group *participates* when at least one of its origins moves.
    """

    name: str
    labels: list
    group_of: np.ndarray
    min_groups: int
    max_groups: int

    @property
    def binding(self) -> bool:
        return self.min_groups > 0 or self.max_groups < len(self.labels)


@dataclass
class Instance:
    """One consolidation instance as arrays (positions, not ids)."""

    origin_ids: np.ndarray
    dest_ids: np.ndarray
    demand: np.ndarray          # households that move if the origin moves
    stay: np.ndarray            # cost of staying; NaN = the origin must move
    capacity: np.ndarray
    fixed: np.ndarray
    minimum: np.ndarray
    po: np.ndarray              # allowed pairs, sorted by (origin, destination)
    pd: np.ndarray
    pc: np.ndarray              # cost of the pair (whole origin moved)
    pdist: np.ndarray | None = None
    rules: list = field(default_factory=list)
    # pairs excluded only by the distance limit (for diagnosis), and that limit
    far_po: np.ndarray | None = None
    far_pd: np.ndarray | None = None
    far_dist: np.ndarray | None = None
    max_distance: float | None = None

    # ------------------------------------------------------------------ shape
    @property
    def n(self) -> int:
        return len(self.demand)

    @property
    def m(self) -> int:
        return len(self.capacity)

    @property
    def npairs(self) -> int:
        return len(self.po)

    @property
    def must_move(self) -> np.ndarray:
        return np.isnan(self.stay)

    def origin_ptr(self) -> np.ndarray:
        """CSR pointer of the pairs by origin (pairs are sorted by origin)."""
        return np.searchsorted(self.po, np.arange(self.n + 1))

    def dest_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Pair positions sorted by destination and the CSR pointer into them."""
        order = np.argsort(self.pd, kind="stable")
        ptr = np.searchsorted(self.pd[order], np.arange(self.m + 1))
        return order, ptr

    def pair_lookup(self) -> dict:
        return {(int(i), int(j)): p for p, (i, j) in enumerate(zip(self.po, self.pd))}

    # ------------------------------------------------------------ components
    def components(self) -> list[tuple[np.ndarray, np.ndarray, list[int]]]:
        """Independent parts: connected components of origins, destinations and rules.

        Origins and destinations are joined by allowed pairs; the origins of one binding
        rule are joined through the rule. Returns ``(origins, destinations, rules)``
        position arrays per component, largest first.
        """
        n, m = self.n, self.m
        rules = [r for r in range(len(self.rules)) if self.rules[r].binding]
        nr = len(rules)
        rows = [self.po, ]
        cols = [n + self.pd]
        for k, r in enumerate(rules):
            members = np.flatnonzero(self.rules[r].group_of >= 0)
            rows.append(members)
            cols.append(np.full(len(members), n + m + k))
        rows = np.concatenate(rows).astype(np.int64)
        cols = np.concatenate(cols).astype(np.int64)
        size = n + m + nr
        g = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
        _, label = csgraph.connected_components(g, directed=False)
        comps = []
        for lab in np.unique(label):
            nodes = np.flatnonzero(label == lab)
            o = nodes[nodes < n]
            d = nodes[(nodes >= n) & (nodes < n + m)] - n
            rr = [rules[k - n - m] for k in nodes[nodes >= n + m]]
            comps.append((o, d, rr))
        comps.sort(key=lambda c: -(len(c[0]) + len(c[1])))
        return comps

    def subset(self, origins: np.ndarray, dests: np.ndarray, rules: list[int]) -> "Instance":
        """The sub-instance on the given origin, destination and rule positions."""
        omap = np.full(self.n, -1)
        omap[origins] = np.arange(len(origins))
        dmap = np.full(self.m, -1)
        dmap[dests] = np.arange(len(dests))
        keep = (omap[self.po] >= 0) & (dmap[self.pd] >= 0)
        far = {}
        if self.far_po is not None:
            fk = (omap[self.far_po] >= 0) & (dmap[self.far_pd] >= 0)
            far = dict(far_po=omap[self.far_po[fk]], far_pd=dmap[self.far_pd[fk]],
                       far_dist=self.far_dist[fk])
        new_rules = []
        for r in rules:
            rule = self.rules[r]
            new_rules.append(Rule(rule.name, rule.labels, rule.group_of[origins],
                                  rule.min_groups, rule.max_groups))
        return Instance(
            origin_ids=self.origin_ids[origins], dest_ids=self.dest_ids[dests],
            demand=self.demand[origins], stay=self.stay[origins],
            capacity=self.capacity[dests], fixed=self.fixed[dests], minimum=self.minimum[dests],
            po=omap[self.po[keep]], pd=dmap[self.pd[keep]], pc=self.pc[keep],
            pdist=None if self.pdist is None else self.pdist[keep],
            rules=new_rules, max_distance=self.max_distance, **far,
        )

    # ------------------------------------------------------------ evaluation
    def loads(self, assign: np.ndarray) -> np.ndarray:
        """Households each destination gathers under an assignment (0 where none).

        Examples
        --------
        >>> from landplan.consolidate._instances import random_instance
        >>> from landplan.consolidate import ConsolidationModel
        >>> inst = ConsolidationModel.from_cost_matrix(**random_instance(8, 3, seed=2))._inst
        >>> inst.loads([0, 2, STAY, STAY, STAY, STAY, STAY, STAY]).tolist()   # 51 and 19
        [51.0, 0.0, 19.0]
        """
        assign = np.asarray(assign)
        moved = assign != STAY
        return np.bincount(assign[moved], weights=self.demand[moved], minlength=self.m)

    def objective(self, assign: np.ndarray, lookup: dict | None = None) -> float:
        """Total cost of an assignment (fixed costs of used sites, moves, stays)."""
        lookup = lookup if lookup is not None else self.pair_lookup()
        total = 0.0
        used = set()
        for i, j in enumerate(assign):
            if j == STAY:
                total += 0.0 if np.isnan(self.stay[i]) else float(self.stay[i])
            else:
                total += float(self.pc[lookup[(i, int(j))]])
                used.add(int(j))
        return total + float(sum(self.fixed[j] for j in used))

    def violations(self, assign: np.ndarray, lookup: dict | None = None) -> list[str]:
        """Every rule an assignment breaks, as sentences (empty: the plan is feasible)."""
        lookup = lookup if lookup is not None else self.pair_lookup()
        out = []
        load = np.zeros(self.m)
        for i, j in enumerate(assign):
            if j == STAY:
                if np.isnan(self.stay[i]):
                    out.append(f"origin {self.origin_ids[i]} must move but stays")
                continue
            if (i, int(j)) not in lookup:
                out.append(f"origin {self.origin_ids[i]} moves to {self.dest_ids[j]}, "
                           "a pair that is not allowed")
                continue
            load[j] += self.demand[i]
        tol = 1e-6
        for j in np.flatnonzero(load > 0):
            if load[j] > self.capacity[j] + tol:
                out.append(f"site {self.dest_ids[j]} gathers {load[j]:g} over its capacity "
                           f"{self.capacity[j]:g}")
            if load[j] < self.minimum[j] - tol:
                out.append(f"site {self.dest_ids[j]} gathers {load[j]:g} under the minimum "
                           f"{self.minimum[j]:g}")
        for rule in self.rules:
            moved = rule.group_of[(assign != STAY) & (rule.group_of >= 0)]
            count = len(np.unique(moved))
            if not rule.min_groups <= count <= rule.max_groups:
                out.append(f"rule {rule.name}: {count} groups take part, allowed "
                           f"{rule.min_groups} to {rule.max_groups}")
        return out


def gap_of(objective: float, bound: float) -> float:
    """Relative gap ``(objective - bound) / max(|objective|, 1)``; inf without a bound."""
    if not np.isfinite(objective) or not np.isfinite(bound):
        return float("inf")
    return max(0.0, objective - bound) / max(abs(objective), 1.0)


def cheaper(cost: float, than: float) -> bool:
    """True if ``cost`` is below ``than`` by more than rounding (a relative 1e-9, at least
    1e-9 yuan): the test every search uses before it takes a plan as better.

    Examples
    --------
    >>> cheaper(99.0, 100.0), cheaper(100.0 - 1e-12, 100.0)
    (True, False)
    """
    return bool(cost < than - 1e-9 * max(1.0, abs(than)))
