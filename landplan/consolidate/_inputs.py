"""Reading and validating the inputs of :meth:`ConsolidationModel.from_cost_matrix`.

Every problem found is collected and raised once as a
:class:`landplan.errors.ValidationError` naming the rows and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import Problem, ValidationError
from ._core import Instance, Rule


@dataclass
class GroupRule:
    """A count rule over groups of origins: between ``min_groups`` and ``max_groups`` take part.

    A group *takes part* when at least one of its origins moves. The 2008 plan's pilot
    towns (凤桥镇, 七星镇: "各选择1—2个村先行试点") are one rule per town whose groups are
    the town's villages, with ``min_groups=1, max_groups=2``.

    Parameters
    ----------
    name : str
        Used in messages (e.g. the town's name).
    groups : mapping
        Group label -> the ids of the origins in that group. An origin belongs to at
        most one group of a rule.
    min_groups : int, default 0
    max_groups : int, optional
        Default: the number of groups (no upper limit).

    Examples
    --------
    >>> r = GroupRule.from_labels("凤桥镇", ["h1", "h2", "h3"], ["v1", "v1", "v2"], 1, 2)
    >>> r.groups
    {'v1': ['h1', 'h2'], 'v2': ['h3']}
    """

    name: str
    groups: Mapping
    min_groups: int = 0
    max_groups: int | None = None

    @classmethod
    def from_labels(cls, name, origin_ids, labels, min_groups=0, max_groups=None) -> "GroupRule":
        """A rule from a group label per origin (e.g. each hamlet's village).

        Examples
        --------
        >>> GroupRule.from_labels("pilot", ["a", "b"], ["x", "y"], max_groups=1).max_groups
        1
        """
        groups: dict = {}
        for o, g in zip(origin_ids, labels):
            groups.setdefault(g, []).append(o)
        return cls(name=name, groups=groups, min_groups=min_groups, max_groups=max_groups)


@dataclass
class Parsed:
    instance: Instance
    problems: list = field(default_factory=list)


def _ids(explicit, *candidates, n: int, prefix: str) -> np.ndarray:
    if explicit is not None:
        return np.asarray([str(x) for x in explicit], dtype=object)
    for c in candidates:
        if isinstance(c, (pd.Series, pd.DataFrame)) and not isinstance(c.index, pd.RangeIndex):
            return np.asarray([str(x) for x in c.index], dtype=object)
    return np.asarray([f"{prefix}{k}" for k in range(n)], dtype=object)


def _vector(value, ids: np.ndarray, name: str, problems: list, layer: str) -> np.ndarray:
    """A per-origin or per-destination vector aligned on ids (Series by id, or in order)."""
    if np.isscalar(value) or value is None:
        return np.full(len(ids), np.nan if value is None else float(value))
    if isinstance(value, pd.Series) and not isinstance(value.index, pd.RangeIndex):
        s = value.copy()
        s.index = [str(x) for x in s.index]
        missing = [i for i in ids if i not in s.index]
        if missing:
            problems.append(Problem(layer, "missing_ids", missing,
                                    f"{name} has no value for these ids",
                                    f"give {name} for every id"))
            s = s.reindex(ids)
        return pd.to_numeric(s.reindex(ids), errors="coerce").to_numpy(dtype=float)
    arr = pd.to_numeric(pd.Series(np.asarray(value, dtype=object).ravel()), errors="coerce")
    arr = arr.to_numpy(dtype=float)
    if len(arr) != len(ids):
        problems.append(Problem(layer, "wrong_length", [],
                                f"{name} has {len(arr)} values for {len(ids)} ids",
                                f"give one {name} per id, in order, or a Series indexed by id"))
        return np.resize(arr, len(ids)) if len(arr) else np.full(len(ids), np.nan)
    return arr


def _check_finite(arr, ids, name, layer, problems, *, allow_nan=False, nonneg=True, what=""):
    bad_nan = np.isnan(arr) if not allow_nan else np.zeros(len(arr), dtype=bool)
    bad_inf = np.isinf(arr)
    if bad_nan.any():
        problems.append(Problem(layer, f"missing_{name}", list(ids[bad_nan]),
                                f"{name} is missing{what}", f"give a {name} for these rows"))
    if bad_inf.any():
        problems.append(Problem(layer, f"infinite_{name}", list(ids[bad_inf]),
                                f"{name} is infinite", f"give a finite {name}"))
    if nonneg:
        neg = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=-1.0) < 0
        if neg.any():
            problems.append(Problem(layer, f"negative_{name}", list(ids[neg]),
                                    f"{name} is negative", f"{name} must be >= 0"))


def _pairs_from(matrix, oids, dids, name, problems):
    """(origin pos, destination pos, value) of the entries an input lists, NaN kept.

    Dense input lists every cell; sparse input its stored entries; long input its rows.
    """
    n, m = len(oids), len(dids)
    if isinstance(matrix, pd.DataFrame) and {"origin", "destination"} <= set(matrix.columns):
        raise TypeError("long-format frames are read by _long_pairs")
    if sparse.issparse(matrix):
        coo = sparse.coo_matrix(matrix)
        if coo.shape != (n, m):
            problems.append(Problem(name, "wrong_shape", [], f"{name} is {coo.shape}, expected "
                                    f"{(n, m)} (origins x destinations)", "fix the shape"))
            return None
        order = np.lexsort((coo.col, coo.row))
        return coo.row[order].astype(np.int64), coo.col[order].astype(np.int64), \
            coo.data[order].astype(float)
    if isinstance(matrix, pd.DataFrame):
        arr = matrix.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    else:
        arr = np.asarray(matrix, dtype=float)
    if arr.ndim != 2 or arr.shape != (n, m):
        problems.append(Problem(name, "wrong_shape", [], f"{name} is {arr.shape}, expected "
                                f"{(n, m)} (origins x destinations)", "fix the shape"))
        return None
    ii, jj = np.indices((n, m))
    return ii.ravel().astype(np.int64), jj.ravel().astype(np.int64), arr.ravel()


def _pair_names(oids, dids, po, pd_):
    return [f"{oids[i]}->{dids[j]}" for i, j in zip(po, pd_)]


def parse(cost, demand, capacity, fixed_cost, minimum, *, stay_cost=None, allowed=None,
          distance=None, max_distance=None, group_rules=None, origin_ids=None,
          destination_ids=None) -> Instance:
    """Validate and flatten the inputs into an :class:`Instance` (raises ValidationError)."""
    problems: list[Problem] = []
    long = isinstance(cost, pd.DataFrame) and {"origin", "destination", "cost"} <= set(cost.columns)

    # ---- ids
    if long:
        oids = _ids(origin_ids, demand, n=0, prefix="o")
        dids = _ids(destination_ids, capacity, n=0, prefix="d")
        if len(oids) == 0 or len(dids) == 0:
            raise ValidationError([Problem(
                "cost", "ids_needed", [],
                "a long-format cost frame needs the origin and destination ids",
                "pass demand and capacity as Series indexed by id, or origin_ids/destination_ids")])
    else:
        shape = cost.shape if hasattr(cost, "shape") else np.asarray(cost).shape
        if len(shape) != 2:
            raise ValidationError([Problem("cost", "wrong_shape", [],
                                           f"cost has shape {shape}; expected origins x destinations",
                                           "give a 2-D matrix or a long frame")])
        oids = _ids(origin_ids, cost if isinstance(cost, pd.DataFrame) else None, demand,
                    n=shape[0], prefix="o")
        if isinstance(cost, pd.DataFrame) and destination_ids is None and not isinstance(
                cost.columns, pd.RangeIndex):
            dids = np.asarray([str(c) for c in cost.columns], dtype=object)
        else:
            dids = _ids(destination_ids, capacity, n=shape[1], prefix="d")
    for ids, layer in ((oids, "origins"), (dids, "destinations")):
        dup = pd.Index(ids)[pd.Index(ids).duplicated()].unique().tolist()
        if dup:
            problems.append(Problem(layer, "duplicate_ids", dup, "ids appear twice", "make ids unique"))
    n, m = len(oids), len(dids)

    # ---- vectors
    d = _vector(demand, oids, "demand", problems, "origins")
    _check_finite(d, oids, "demand", "origins", problems)
    cap = _vector(capacity, dids, "capacity", problems, "destinations")
    _check_finite(cap, dids, "capacity", "destinations", problems,
                  what=" (every site needs a capacity in households)")
    f = _vector(fixed_cost, dids, "fixed_cost", problems, "destinations")
    _check_finite(f, dids, "fixed_cost", "destinations", problems, nonneg=False)
    low = _vector(minimum, dids, "minimum", problems, "destinations")
    _check_finite(low, dids, "minimum", "destinations", problems)
    if stay_cost is None:
        stay = np.full(n, np.nan)
    else:
        stay = _vector(stay_cost, oids, "stay_cost", problems, "origins")
        inf = np.isinf(stay)
        if inf.any():
            problems.append(Problem("origins", "infinite_stay_cost", list(oids[inf]),
                                    "stay_cost is infinite",
                                    "mark an origin that must move with NaN, not inf"))
            stay[inf] = np.nan

    # ---- pairs
    if long:
        frame = cost
        o_map = {o: k for k, o in enumerate(oids)}
        d_map = {x: k for k, x in enumerate(dids)}
        os_ = frame["origin"].astype(str).map(o_map)
        ds_ = frame["destination"].astype(str).map(d_map)
        unknown = frame.index[os_.isna() | ds_.isna()]
        if len(unknown):
            problems.append(Problem("cost", "unknown_ids",
                                    _pair_names(frame.loc[unknown, "origin"].astype(str).tolist(),
                                                frame.loc[unknown, "destination"].astype(str).tolist(),
                                                range(len(unknown)), range(len(unknown))),
                                    "pairs name origins or destinations that are not given",
                                    "drop those rows or add the ids"))
        ok = ~(os_.isna() | ds_.isna())
        po = os_[ok].to_numpy(dtype=np.int64)
        pdd = ds_[ok].to_numpy(dtype=np.int64)
        pc = pd.to_numeric(frame.loc[ok, "cost"], errors="coerce").to_numpy(dtype=float)
        dist_col = None
        for col in ("distance", "distance_m"):
            if col in frame.columns:
                dist_col = pd.to_numeric(frame.loc[ok, col], errors="coerce").to_numpy(dtype=float)
        if distance is not None:
            problems.append(Problem("cost", "distance_twice", [],
                                    "with a long-format cost frame, give distance as its column",
                                    "add a 'distance' column instead of the distance argument"))
        key = po * max(m, 1) + pdd
        dupk = pd.Series(key).duplicated(keep=False).to_numpy()
        if dupk.any():
            problems.append(Problem("cost", "duplicate_pairs",
                                    sorted(set(_pair_names(oids, dids, po[dupk], pdd[dupk]))),
                                    "pairs appear more than once", "keep one row per pair"))
        if allowed is not None:
            problems.append(Problem("cost", "allowed_with_long", [],
                                    "a long-format frame lists the allowed pairs itself",
                                    "drop the allowed argument, or the rows not allowed"))
        order = np.lexsort((pdd, po))
        po, pdd, pc = po[order], pdd[order], pc[order]
        pdist = dist_col[order] if dist_col is not None else None
    else:
        got = _pairs_from(cost, oids, dids, "cost", problems)
        if got is None:
            raise ValidationError(problems)
        po, pdd, pc = got
        pdist = None
        if distance is not None:
            gd = _pairs_from(distance, oids, dids, "distance", problems)
            if gd is None:
                raise ValidationError(problems)
            dmat = np.full((n, m), np.nan)
            dmat[gd[0], gd[1]] = gd[2]
            pdist = dmat[po, pdd]
        if allowed is not None:
            mask = np.asarray(allowed.to_numpy() if isinstance(allowed, pd.DataFrame) else allowed)
            if mask.shape != (n, m) or mask.dtype != bool:
                problems.append(Problem("allowed", "wrong_mask", [],
                                        f"allowed must be a boolean {n}x{m} mask",
                                        "give True where the pair is allowed"))
                raise ValidationError(problems)
            elig = mask[po, pdd]
        else:
            # no mask: NaN marks a pair not allowed (a dense matrix's missing value)
            elig = ~np.isnan(pc) if not sparse.issparse(cost) else np.ones(len(pc), dtype=bool)
            if distance is not None and max_distance is not None:
                # a pair beyond the limit may have no cost; it is still known by its distance
                elig = elig | (~np.isnan(pdist) & (pdist > max_distance))
        po, pdd, pc = po[elig], pdd[elig], pc[elig]
        pdist = pdist[elig] if pdist is not None else None

    # ---- the distance limit
    far_po = far_pd = far_dist = None
    if max_distance is not None and pdist is None:
        problems.append(Problem("distance", "no_distance", [],
                                "max_distance needs distances",
                                "pass distance= (or a 'distance' column)"))
    if pdist is not None:
        missing = np.isnan(pdist) | np.isinf(pdist)
        if missing.any():
            problems.append(Problem("distance", "missing_distance",
                                    _pair_names(oids, dids, po[missing], pdd[missing]),
                                    "allowed pairs have a missing or infinite distance",
                                    "give the road distance of every allowed pair, or mark the "
                                    "pair not allowed"))
        if max_distance is not None:
            far = ~missing & (pdist > max_distance)
            far_po, far_pd, far_dist = po[far], pdd[far], pdist[far]
            keep = ~far
            po, pdd, pc, pdist = po[keep], pdd[keep], pc[keep], pdist[keep]

    inf = np.isinf(pc)
    if inf.any():
        problems.append(Problem("cost", "infinite_cost", _pair_names(oids, dids, po[inf], pdd[inf]),
                                "pairs have an infinite cost",
                                "mark a pair that is not allowed as such (NaN in a dense matrix, "
                                "False in allowed, or leave its row out), never with an infinite "
                                "cost"))
    nan = np.isnan(pc)
    if nan.any():
        problems.append(Problem("cost", "missing_cost", _pair_names(oids, dids, po[nan], pdd[nan]),
                                "allowed pairs have no cost",
                                "give their cost, or mark them not allowed"))

    # ---- rules
    rules = []
    o_map = {o: k for k, o in enumerate(oids)}
    for gr in group_rules or []:
        labels = list(gr.groups)
        group_of = np.full(n, -1)
        unknown, twice = [], []
        for k, lab in enumerate(labels):
            for o in gr.groups[lab]:
                pos = o_map.get(str(o))
                if pos is None:
                    unknown.append(str(o))
                elif group_of[pos] >= 0:
                    twice.append(str(o))
                else:
                    group_of[pos] = k
        if unknown:
            problems.append(Problem("group_rules", "unknown_origins", unknown,
                                    f"rule {gr.name!r} names origins that are not given",
                                    "correct the rule's groups"))
        if twice:
            problems.append(Problem("group_rules", "origin_in_two_groups", twice,
                                    f"rule {gr.name!r} puts origins in two groups",
                                    "give each origin one group per rule"))
        hi = len(labels) if gr.max_groups is None else int(gr.max_groups)
        if not 0 <= gr.min_groups <= hi:
            problems.append(Problem("group_rules", "bad_bounds", [gr.name],
                                    f"rule {gr.name!r}: {gr.min_groups} to {hi} groups is not a range",
                                    "make 0 <= min_groups <= max_groups"))
        rules.append(Rule(gr.name, labels, group_of, int(gr.min_groups), min(hi, len(labels))))

    if problems:
        raise ValidationError(problems)
    return Instance(origin_ids=oids, dest_ids=dids, demand=d, stay=stay, capacity=cap, fixed=f,
                    minimum=low, po=po, pd=pdd, pc=pc, pdist=pdist, rules=rules,
                    far_po=far_po, far_pd=far_pd, far_dist=far_dist,
                    max_distance=None if max_distance is None else float(max_distance))


def as_labels(value, ids: np.ndarray, default=None) -> np.ndarray:
    """Per-id labels (e.g. towns) aligned on ids; None -> the default for all."""
    if value is None:
        return np.full(len(ids), default, dtype=object)
    if isinstance(value, Mapping):
        return np.asarray([value.get(i, default) for i in ids], dtype=object)
    if isinstance(value, pd.Series) and not isinstance(value.index, pd.RangeIndex):
        s = value.copy()
        s.index = [str(x) for x in s.index]
        return s.reindex(ids).to_numpy(dtype=object)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray, pd.Series)):
        return np.full(len(ids), value, dtype=object)
    return np.asarray(list(value), dtype=object)
