"""Why a plan cannot meet the rules, and why it leaves households in place, in a planner's words.

The checks run before every solve (and alone through
:meth:`ConsolidationModel.diagnose`). Each finding is one row of a DataFrame:

``severity``
    ``"infeasible"`` (no plan can meet the rules: :meth:`ConsolidationModel.solve`
    raises :class:`landplan.errors.InfeasibleError` carrying the findings as its
    ``diagnosis``) or ``"warning"`` (a plan exists, but a rule the planners care about
    cannot be met, e.g. a full-start town where no site can start: its households all
    stay, at the stay cost). Warnings are logged and kept in ``plan.diagnosis``.
``scope``
    The town (its name when the model knows it), rule or ``"(all)"``.
``rule``
    A short name: ``minimum_above_every_capacity``, ``minimum_above_capacity``,
    ``town_too_small``, ``no_site_can_start``, ``no_reachable_site``, ``capacity_short``,
    ``too_few_groups``, ``groups_cannot_gather``, ``cannot_place``, and the warning
    ``staying_is_cheaper`` (every hamlet of a town pays less to stay than the cheapest
    move costs: the plan moves no one there; with the 2008 scenario's weights this is
    the case in the full-start towns).

After a solve, :func:`plan_findings` adds warnings about the households a plan leaves in
place in towns where staying has a cost (full start, 全面启动): ``out_of_reach`` (no site
within the distance limit; which longer limit reaches them), ``sites_full`` (every site
within reach is started and full; which sites need room) and ``sites_not_started`` (a site
within reach is not started: it costs more than their staying, or cannot gather its
minimum from them).
``items``
    The ids of the hamlets (origins) or sites concerned, comma-separated.
``message``, ``fix``
    What is wrong, and which change of which setting would make it feasible, e.g.
    "凤桥镇: no candidate site within 3 km can gather 50 households; the best (S7) gathers
    41; a 4 km limit makes 2 sites feasible".

Bad input (sites without a capacity, infinite or missing costs and distances, unknown
ids) is not a finding: the model's constructors refuse it with a
:class:`landplan.errors.ValidationError` naming the rows.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ._core import Instance

__all__ = ["diagnose", "plan_findings", "FINDING_COLUMNS"]

logger = logging.getLogger(__name__)

FINDING_COLUMNS = ["severity", "scope", "rule", "items", "message", "fix"]


def diagnose(model) -> pd.DataFrame:
    """Check a model for rules no plan can meet, without solving it.

    Parameters
    ----------
    model : ConsolidationModel

    Returns
    -------
    pandas.DataFrame
        One row per finding, columns ``severity, scope, rule, items, message, fix``
        (see the module docstring); empty when nothing is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from landplan.consolidate import ConsolidationModel, diagnose
    >>> model = ConsolidationModel.from_cost_matrix(
    ...     np.ones((2, 1)), demand=[20, 21], capacity=[100], fixed_cost=[0], minimum=50,
    ...     origin_town=["凤桥镇", "凤桥镇"])
    >>> print(diagnose(model).loc[0, "message"])
    凤桥镇: only 41 households can move in all, fewer than the minimum of 50 per started site
    """
    return model.diagnose()


# --------------------------------------------------------------------------- helpers
def _km(metres: float) -> str:
    return f"{metres / 1000:g} km"


def _ids(arr, limit=None) -> str:
    arr = list(arr)
    return ", ".join(str(a) for a in arr)


def _finding(severity, scope, rule, items, message, fix) -> dict:
    return dict(severity=severity, scope=scope, rule=rule, items=_ids(items), message=message,
                fix=fix)


class _Reach:
    """Households each site could gather (alone, ignoring competition), and at other limits."""

    def __init__(self, inst: Instance):
        self.inst = inst
        d = inst.demand
        self.d = d
        fits = d[inst.po] <= inst.capacity[inst.pd] + 1e-9
        self.po, self.pd = inst.po[fits], inst.pd[fits]
        self.dist = (inst.pdist[fits] if inst.pdist is not None else np.zeros(fits.sum()))
        if inst.far_po is not None and len(inst.far_po):
            ff = d[inst.far_po] <= inst.capacity[inst.far_pd] + 1e-9
            self.fpo, self.fpd, self.fdist = inst.far_po[ff], inst.far_pd[ff], inst.far_dist[ff]
        else:
            self.fpo = self.fpd = self.fdist = np.zeros(0, dtype=np.int64)
        reach = np.bincount(self.pd, weights=d[self.po], minlength=inst.m)
        self.gather = np.minimum(inst.capacity, reach)
        self.can_open = (self.gather >= inst.minimum - 1e-9) & (reach > 0)

    def gather_at(self, limit: float | None, origins: np.ndarray, group_of=None, k=None):
        """Per site: households gatherable from ``origins`` (bool mask) within ``limit``.

        With ``group_of`` and ``k``: only from the best ``k`` groups at that site.
        """
        inst = self.inst
        po = np.concatenate([self.po, self.fpo])
        pd_ = np.concatenate([self.pd, self.fpd])
        dist = np.concatenate([self.dist, self.fdist])
        sel = origins[po]
        if limit is not None:
            sel &= dist <= limit + 1e-9
        else:
            sel[len(self.po):] = False
        po, pd_ = po[sel], pd_[sel]
        if group_of is None:
            reach = np.bincount(pd_, weights=self.d[po], minlength=inst.m)
        else:
            g = group_of[po]
            ok = g >= 0
            frame = pd.DataFrame({"site": pd_[ok], "group": g[ok], "d": self.d[po[ok]]})
            per = frame.groupby(["site", "group"])["d"].sum()
            reach = np.zeros(inst.m)
            for site, s in per.groupby(level=0):
                reach[site] = np.sort(s.to_numpy())[::-1][:k].sum()
        gather = np.minimum(inst.capacity, reach)
        ok = (gather >= inst.minimum - 1e-9) & (reach > 0)
        return gather, ok

    def limit_that_helps(self, origins, group_of=None, k=None):
        """The shortest longer distance limit (500 m steps) at which some site can start."""
        inst = self.inst
        if inst.max_distance is None or len(self.fdist) == 0:
            return None
        sel = origins[self.fpo]
        if not sel.any():
            return None
        top = self.fdist[sel].max()
        lim = inst.max_distance
        while lim < top:
            lim = (np.floor(lim / 500.0) + 1) * 500.0
            _, ok = self.gather_at(lim, origins, group_of, k)
            if ok.any():
                return lim, int(ok.sum())
        return None


def presolve_findings(inst: Instance, origin_town=None, town_names=None,
                      group_word: str = "groups") -> pd.DataFrame:
    """Findings for an instance (see :func:`diagnose`); positions in, ids out."""
    out: list[dict] = []
    names = town_names or {}
    if inst.m == 0 and inst.n == 0:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    R = _Reach(inst)
    low, cap, d = inst.minimum, inst.capacity, inst.demand
    must = np.isnan(inst.stay) & (d > 0)
    binding = [r for r in inst.rules if r.binding]
    forced = np.zeros(inst.n, dtype=bool)
    for r in binding:
        if r.min_groups > 0:
            forced |= r.group_of >= 0
    lim_txt = f" within {_km(inst.max_distance)}" if inst.max_distance is not None else ""

    # A. the minimum against capacities
    over = low > cap + 1e-9
    if inst.m and over.all():
        sev = "infeasible" if (must.any() or forced.any()) else "warning"
        out.append(_finding(
            sev, "(all)", "minimum_above_every_capacity", inst.dest_ids[over],
            f"the minimum of {low.min():g} households per started site is above every site's "
            f"capacity (the largest holds {cap.max():g}): no site can ever start",
            f"lower the minimum to at most {cap.max():g} households, or raise site capacities"))
    elif over.any():
        out.append(_finding(
            "warning", "(all)", "minimum_above_capacity", inst.dest_ids[over],
            f"{over.sum()} site(s) hold fewer households than their minimum and can never start",
            "raise their capacity or lower their minimum, or drop them"))

    # B. per town: can any site there start at all?
    towns = (np.asarray(origin_town, dtype=object) if origin_town is not None
             else np.full(inst.n, "(all)", dtype=object))
    in_play = np.zeros(inst.n, dtype=bool)
    in_play[inst.po] = True
    if inst.far_po is not None:
        in_play[inst.far_po] = True
    in_play &= d > 0
    town_flagged = set()
    for t in pd.unique(towns[in_play]):
        mask = in_play & (towns == t)
        label = names.get(t, t) if t is not None else "(no town)"
        total = d[mask].sum()
        sites_t = np.unique(R.pd[mask[R.po]])
        hard = (must & mask).any() or (forced & mask).any()
        sev = "infeasible" if hard else "warning"
        consequence = "" if hard else "; all its households stay"
        lows = low[sites_t] if len(sites_t) else low
        need = lows[lows > 0].min() if (lows > 0).any() else 0
        if len(sites_t) and R.can_open[sites_t].any():
            continue
        town_flagged.add(t)
        if over.all() and inst.m:
            continue  # said once above
        if need > 0 and total < need:
            out.append(_finding(
                sev, label, "town_too_small", inst.origin_ids[mask],
                f"{label}: only {total:g} households can move in all, fewer than the minimum of "
                f"{need:g} per started site{consequence}",
                f"lower the minimum (sites.min_households) to {total:g}, or let its hamlets move "
                f"to sites in other towns (sites.within_town = false)"))
            continue
        if len(sites_t):
            best = sites_t[np.argmax(R.gather[sites_t])]
            best_txt = f"the best ({inst.dest_ids[best]}) gathers {R.gather[best]:g}"
        else:
            best_txt = "no site is within reach"
        msg = (f"{label}: no candidate site{lim_txt} can gather {need:g} households; "
               f"{best_txt}")
        fixes = []
        helps = R.limit_that_helps(mask)
        if helps:
            msg += f"; a {_km(helps[0])} limit makes {helps[1]} site(s) feasible"
            fixes.append(f"raise the distance limit (sites.max_relocation_distance_m) to "
                         f"{helps[0]:g}")
        if len(sites_t) and R.gather[best] > 0:
            fixes.append(f"lower the minimum to {R.gather[best]:g}")
        fixes.append("add candidate sites nearer its hamlets")
        out.append(_finding(sev, label, "no_site_can_start", inst.origin_ids[mask],
                            msg + consequence, "; or ".join(fixes)))

    # B2. towns where staying is cheaper than any move: the plan will move no one there
    pair_ph = inst.pc / np.maximum(d[inst.po], 1e-9)
    for t in pd.unique(towns[in_play]):
        if t in town_flagged:
            continue
        mask = in_play & (towns == t)
        if (must & mask).any() or (forced & mask).any():
            continue
        sel = mask[inst.po]
        if not sel.any():
            continue
        stay_ph = inst.stay[mask] / np.maximum(d[mask], 1e-9)
        if not np.all(np.isfinite(stay_ph)) or stay_ph.max() <= 0:
            continue
        cheapest = pair_ph[sel].min()
        if stay_ph.max() <= cheapest:
            label = names.get(t, t) if t is not None else "(no town)"
            out.append(_finding(
                "warning", label, "staying_is_cheaper", [],
                f"{label}: leaving a household in place costs at most {stay_ph.max():,.0f} "
                f"yuan, less than the cheapest move ({cheapest:,.0f} yuan per household): "
                "the plan will move no one there",
                f"raise the stay penalty (costs.stay_penalty_per_household) above "
                f"{cheapest:,.0f} yuan per household if the town is to start fully"))

    # C. hamlets that must move but reach no site that can start
    reach_ok = np.zeros(inst.n, dtype=bool)
    ok_pair = R.can_open[R.pd]
    reach_ok[R.po[ok_pair]] = True
    explained = np.isin(towns, list(town_flagged))
    lost = must & ~reach_ok & ~explained
    explained |= lost
    if lost.any():
        helps = R.limit_that_helps(lost)
        fix = "allow them to stay (a stay cost), or add sites within reach"
        if helps:
            fix = (f"raise the distance limit to {helps[0]:g} m, or " + fix)
        out.append(_finding(
            "infeasible", "(all)" if origin_town is None else ", ".join(
                sorted({str(names.get(t, t)) for t in towns[lost]})),
            "no_reachable_site", inst.origin_ids[lost],
            f"{lost.sum()} hamlet(s) ({d[lost].sum():g} households) must move but no site"
            f"{lim_txt} that can start is within their reach", fix))

    # D. per component: capacity against what must move
    for o_idx, d_idx, _ in inst.components():
        dm = d[o_idx][must[o_idx]].sum()
        if dm <= 0 or explained[o_idx][must[o_idx]].all():
            continue
        capsum = R.gather[d_idx][R.can_open[d_idx]].sum()
        if dm > capsum + 1e-9:
            t = pd.unique(towns[o_idx])
            scope = ", ".join(str(names.get(x, x)) for x in t)
            out.append(_finding(
                "infeasible", scope, "capacity_short", inst.dest_ids[d_idx],
                f"{scope}: {dm:g} households must move but the sites within their reach can "
                f"take {capsum:g} at most",
                f"add {dm - capsum:g} households of capacity, or allow staying"))

    # E. count rules (pilot villages)
    for r in binding:
        if r.min_groups <= 0:
            continue
        members = r.group_of >= 0
        g_ok = np.unique(r.group_of[R.po[ok_pair & members[R.po]]])
        if len(g_ok) < r.min_groups:
            out.append(_finding(
                "infeasible", r.name, "too_few_groups", [r.labels[g] for g in g_ok],
                f"{r.name}: at least {r.min_groups} {group_word} must take part, but only "
                f"{len(g_ok)} have hamlets within reach of a site that can start",
                "lower the minimum number, or raise the distance limit"))
            continue
        gather, ok = R.gather_at(None, members, r.group_of, r.max_groups)
        if ok.any():
            continue
        cand = np.unique(R.pd[members[R.po]])
        best = cand[np.argmax(gather[cand])] if len(cand) else None
        need = low[cand][low[cand] > 0].min() if len(cand) and (low[cand] > 0).any() else low.max()
        best_txt = (f"the best ({inst.dest_ids[best]}) gathers {gather[best]:g}"
                    if best is not None else "no site is within reach")
        msg = (f"{r.name}: no candidate site{lim_txt} can gather {need:g} households from at most "
               f"{r.max_groups} {group_word}; {best_txt}")
        fixes = []
        helps = R.limit_that_helps(members, r.group_of, r.max_groups)
        if helps:
            msg += f"; a {_km(helps[0])} limit makes {helps[1]} site(s) feasible"
            fixes.append(f"raise the distance limit to {helps[0]:g} m")
        for k in range(r.max_groups + 1, len(r.labels) + 1):
            _, okk = R.gather_at(None, members, r.group_of, k)
            if okk.any():
                fixes.append(f"allow {k} {group_word}")
                break
        if best is not None and gather[best] > 0:
            fixes.append(f"lower the minimum to {gather[best]:g}")
        out.append(_finding("infeasible", r.name, "groups_cannot_gather",
                            inst.origin_ids[members], msg, "; or ".join(fixes) or
                            "add candidate sites"))
    return pd.DataFrame(out, columns=FINDING_COLUMNS)


def _no_room(inst: Instance, assign: np.ndarray) -> np.ndarray:
    """Per origin: it has destinations, all started, none with room for it."""
    load = inst.loads(assign)
    started = load > 0
    room = inst.capacity[inst.pd] - load[inst.pd]
    fits = started[inst.pd] & (room >= inst.demand[inst.po] - 1e-9)
    blocked = ~started[inst.pd] | fits       # a pair that is not full: closed, or with room
    has = np.bincount(inst.po, minlength=inst.n) > 0
    open_pair = np.bincount(inst.po, weights=blocked.astype(float), minlength=inst.n) > 0
    return has & ~open_pair


def plan_findings(inst: Instance, assign: np.ndarray, origin_town=None,
                  town_names=None, earlier=None) -> pd.DataFrame:
    """Warnings about the households a plan leaves in place where staying has a cost.

    Parameters
    ----------
    inst : Instance
    assign : numpy.ndarray
        Destination position per origin, -1 where it stays.
    origin_town : array-like, optional
    town_names : mapping, optional
    earlier : pandas.DataFrame, optional
        Findings made before the solve: the origins they name, or whose every site they
        name, are explained already and left out here.

    Returns
    -------
    pandas.DataFrame
        Rows of :data:`FINDING_COLUMNS`, severity ``"warning"``, one per town and cause
        (``out_of_reach``, ``sites_full``, ``sites_not_started``).

    Examples
    --------
    >>> import numpy as np
    >>> from landplan.consolidate import ConsolidationModel
    >>> from landplan.consolidate.diagnose import plan_findings
    >>> m = ConsolidationModel.from_cost_matrix(
    ...     np.array([[1.0], [1.0], [np.nan]]), demand=[40, 30, 20], capacity=[60],
    ...     fixed_cost=[0], minimum=30, stay_cost=[1e6, 1e6, 1e6], origin_town=["新丰镇"] * 3)
    >>> plan = m.solve(time_limit=5)
    >>> plan_findings(m._inst, plan.assignment, m.origin_town)["rule"].tolist()
    ['out_of_reach', 'sites_full']
    """
    names = dict(town_names or {})
    towns = (np.asarray(origin_town, dtype=object) if origin_town is not None
             else np.full(inst.n, "(all)", dtype=object))
    stay = np.nan_to_num(inst.stay, nan=0.0) if inst.stay is not None else np.zeros(inst.n)
    left = (assign < 0) & (stay > 0) & (inst.demand > 0)
    if earlier is not None and len(earlier):
        named = list({x for items in earlier["items"] for x in str(items).split(", ") if x})
        other_site = ~np.isin(inst.dest_ids, named)[inst.pd]
        all_sites_named = (np.bincount(inst.po, minlength=inst.n) > 0) & (
            np.bincount(inst.po, weights=other_site.astype(float), minlength=inst.n) == 0)
        left &= ~(np.isin(inst.origin_ids, named) | all_sites_named)
    if not left.any():
        return pd.DataFrame(columns=FINDING_COLUMNS)
    d = inst.demand
    has = np.bincount(inst.po, minlength=inst.n) > 0
    full = _no_room(inst, assign)
    load = np.bincount(assign[assign >= 0], weights=d[assign >= 0], minlength=inst.m)
    lim = inst.max_distance
    lim_txt = f" within {_km(lim)}" if lim is not None else ""
    out = []
    for t in pd.unique(towns[left]):
        scope = str(names.get(t, t))
        here = left & (towns == t)
        lost = here & ~has
        if lost.any():
            fix = "add a site near them, or mark them retained (保留)"
            if inst.far_po is not None and len(inst.far_po):
                near = pd.Series(inst.far_dist).groupby(inst.far_po).min()
                near = near[near.index.isin(np.flatnonzero(lost))]
                if len(near):
                    reach_m = float(np.ceil(near.max() / 500.0) * 500.0)
                    fix = (f"a {_km(reach_m)} limit reaches {d[near.index].sum():g} of them "
                           f"(sites.max_relocation_distance_m = {reach_m:g}); "
                           + ("otherwise " if d[near.index].sum() < d[lost].sum() else "or ")
                           + fix)
            out.append(_finding(
                "warning", scope, "out_of_reach", inst.origin_ids[lost],
                f"{scope}: {d[lost].sum():g} households in {lost.sum()} hamlet(s) stay: no site"
                f"{lim_txt}", fix))
        jam = here & has & full
        if jam.any():
            sites = np.unique(inst.pd[np.isin(inst.po, np.flatnonzero(jam))])
            fill = ", ".join(f"{inst.dest_ids[j]} {load[j]:g}/{inst.capacity[j]:g}" for j in sites)
            out.append(_finding(
                "warning", scope, "sites_full", inst.origin_ids[jam],
                f"{scope}: {d[jam].sum():g} households in {jam.sum()} hamlet(s) stay although "
                f"sites are within reach: every one of them is full ({fill})",
                "raise the capacity of those sites, or add a site near these hamlets"))
        idle = here & has & ~full
        if idle.any():
            out.append(_finding(
                "warning", scope, "sites_not_started", inst.origin_ids[idle],
                f"{scope}: {d[idle].sum():g} households in {idle.sum()} hamlet(s) stay: a site "
                f"within their reach is not started (starting it costs more than their staying, "
                f"or it cannot gather its minimum from them)",
                "raise costs.stay_penalty_per_household, lower the cost of the sites within "
                "their reach, or lower their minimum"))
    return pd.DataFrame(out, columns=FINDING_COLUMNS)


def elastic_findings(inst: Instance, solve_relaxed, origin_town=None, town_names=None
                     ) -> pd.DataFrame:
    """When the checks pass but the solver proves the part infeasible.

    Solves a relaxation where every hamlet that must move may stay at a very high cost
    and count rules have no minimum, and names the hamlets it still leaves in place.
    ``solve_relaxed(instance) -> assignment or None``.
    """
    names = town_names or {}
    must = np.isnan(inst.stay) & (inst.demand > 0)
    big = 1e3 * (np.abs(inst.pc).sum() + np.abs(inst.fixed).sum() + 1.0)
    relaxed = inst.subset(np.arange(inst.n), np.arange(inst.m), list(range(len(inst.rules))))
    relaxed.stay = np.where(np.isnan(inst.stay), big, inst.stay)
    for r in relaxed.rules:
        r.min_groups = 0
    assign = solve_relaxed(relaxed)
    towns = (np.asarray(origin_town, dtype=object) if origin_town is not None
             else np.full(inst.n, "(all)", dtype=object))
    scope = ", ".join(str(names.get(t, t)) for t in pd.unique(towns))
    rows = []
    if assign is not None:
        left = must & (assign < 0)
        if left.any():
            rows.append(_finding(
                "infeasible", scope, "cannot_place", inst.origin_ids[left],
                f"{scope}: {left.sum()} hamlet(s) ({inst.demand[left].sum():g} households) that "
                "must move cannot all be placed: the sites within reach cannot take them while "
                "every started site keeps its minimum and capacity",
                "allow them to stay, raise the distance limit, or add capacity"))
        for r in inst.rules:
            if r.min_groups > 0:
                count = len(np.unique(r.group_of[(assign >= 0) & (r.group_of >= 0)]))
                if count < r.min_groups:
                    rows.append(_finding(
                        "infeasible", r.name, "too_few_groups", [],
                        f"{r.name}: at most {count} groups can take part while every started "
                        f"site keeps its minimum; the rule asks for {r.min_groups}",
                        "lower the rule's minimum, or raise the distance limit"))
    if not rows:
        rows.append(_finding("infeasible", scope, "infeasible", [],
                             f"{scope}: the solver proved that no plan meets every rule",
                             "relax the minimum per site, the distance limit or the count rules"))
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def summarise(findings: pd.DataFrame) -> str:
    """The infeasible findings as one message."""
    bad = findings[findings["severity"] == "infeasible"]
    lines = [f"no plan meets the rules ({len(bad)} finding(s)):"]
    for _, f in bad.iterrows():
        lines.append(f"  - {f['message']}")
        if f["fix"]:
            lines.append(f"    fix: {f['fix']}")
    return "\n".join(lines)
