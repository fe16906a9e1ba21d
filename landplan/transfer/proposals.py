r"""Proposals: which untransferred parcels a town short of its target should approach first.

For a town short of its transfer target, :func:`transfer_proposals` picks
untransferred parcels (of willing owners, or of all owners) so that the
target is met in the fewest and largest contiguous blocks, and orders them for
the transfer service centre: block by block, largest first, and within a
block from the parcels touching land already transferred outwards.

The model
---------
Let :math:`G` be the adjacency graph of the town's farmland (parcels within
the join gap with no water or barrier road between, as in
:func:`~landplan.transfer.farmland_adjacency`) restricted to the parcels
transferred in the year asked (:math:`T`) and the candidates (:math:`C`:
untransferred, owner willing). Every block the proposal can make lies in one
connected component :math:`k` of :math:`G`.

*Growth orders* (networkx). In each component a sequence
:math:`\pi_k = (p_{k,1}, \dots, p_{k,n_k})` of its candidates is grown from
the component's largest transferred block -- or, in a component without
transferred land, from the candidate nearest its centre -- always taking, of
the candidates adjacent to what is already in, the one nearest the start
(Prim's order on the distance to the start). Every prefix of
:math:`\pi_k` is therefore contiguous with the start block: choosing a prefix
never scatters parcels. A sequence is cut after the parcel that makes it
reach the shortfall :math:`S` alone.

*Choice* (HiGHS MIP). With :math:`C_{k,L}` the area of the first :math:`L`
parcels of :math:`\pi_k` (m2), :math:`A^0_k` the area of the start block (0
without one), :math:`\nu_k = 1` when component :math:`k` holds no transferred
land, thresholds :math:`\theta_t` (100 and 500 mu), and :math:`m^*` the fewest
components whose whole sequences cover :math:`S` (the largest first), choose
one prefix in each of exactly :math:`m^*` components -- a multiple-choice
knapsack:

.. math::

    \min \; & \sum_{k,L} c_{k,L}\, y_{k,L} \\
    \text{s.t. } & \textstyle\sum_L y_{k,L} \le 1 \quad \forall k
      && \text{(one contiguous growth per component)} \\
    & \textstyle\sum_{k,L} C_{k,L}\, y_{k,L} \ge S
      && \text{(the shortfall is covered)} \\
    & \textstyle\sum_{k,L} y_{k,L} = m^*
      && \text{(the fewest blocks)} \\
    & y_{k,L} \in \{0, 1\} \\
    c_{k,L} = \; & \beta \nu_k
      \;-\; \gamma \,\bigl|\{t : A^0_k < \theta_t \le A^0_k + C_{k,L}\}\bigr|
      \;+\; \delta\, \mathrm{mu}(C_{k,L})

:math:`y_{k,L} = 1` means the service centre approaches the first :math:`L`
parcels of :math:`\pi_k`. Fewest blocks come first (a constraint: no proposal
can use fewer than :math:`m^*`); among those, the cost prefers growing
existing blocks over starting new ones (:math:`\beta` per new block), blocks
that cross 百亩方 and 500 mu (:math:`\gamma` per threshold crossed) and the
least area beyond the shortfall (:math:`\delta` per mu). With
:math:`\beta = 0.5, \gamma = 0.25, \delta = 0.01`, one new block instead of
an existing one is worth 50 mu of overshoot and a threshold 25. For the
``"exceed"`` rule (突破) :math:`S` is the shortfall plus 1 m2. The MIP is
warm-started with the largest-component-first cover; the solver's status and
gap are reported, never hidden. To keep the model small, the prefixes offered
are thinned to steps of at least half ``overshoot_tolerance_mu`` (keeping
every threshold crossing and the whole sequence), and prefixes that a longer,
no dearer one dominates are dropped; with the solver's absolute gap set to
the other half, the proposal's cost is within :math:`\delta` times the
tolerance of the best possible.

The blocks reported are computed afterwards, exactly, as the connected
components of the transferred and proposed parcels.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from .._highs import new_highs
from ..errors import InfeasibleError, Problem, ValidationError
from ..scenario import Scenario
from ..units import m2_to_mu, mu_to_m2
from ._common import layers_of, plan_year, scenario_or_default
from .blocks import ROAD_BARRIERS, WATER_BARRIERS, _union, adjacency_positions, threshold_column, \
    thresholds_of
from .progress import parcel_transfer_state

__all__ = ["TransferProposal", "transfer_proposals", "NEW_BLOCK_SURCHARGE", "THRESHOLD_REWARD",
           "OVERSHOOT_COST_PER_MU"]

log = logging.getLogger(__name__)

#: :math:`\beta`: cost of starting a block where nothing is transferred yet.
NEW_BLOCK_SURCHARGE = 0.5
#: :math:`\gamma`: reward per block reaching a threshold (百亩方, 500 mu).
THRESHOLD_REWARD = 0.25
#: :math:`\delta`: cost per mu proposed (so the least overshoot wins among equals).
OVERSHOOT_COST_PER_MU = 0.01
#: Area added to the shortfall for the "exceed" rule (strictly above the target), m2.
EXCEED_MARGIN_M2 = 1.0
#: Kept above the shortfall in the model, against the solver's feasibility tolerance, m2.
_COVER_SLACK_M2 = 1.0


@dataclass
class TransferProposal:
    """What :func:`transfer_proposals` returns.

    Attributes
    ----------
    parcels : geopandas.GeoDataFrame
        The parcels to approach, in the service centre's order (index: the
        farmland layer's): ``rank``, ``parcel_id``, ``household_id`` (owner),
        ``village_id``, ``village``, ``area_m2``, ``area_mu``,
        ``proposal_block``, ``block_mu_after``, ``adjacent_to_transferred``,
        ``cumulative_mu`` and the parcel geometry.
    owners : pandas.DataFrame
        One row per owner household (``household_id`` missing for collective
        parcels): ``parcels``, ``area_mu``, ``rank`` (of its first parcel),
        ``proposal_block`` (the blocks its parcels are in).
    blocks : geopandas.GeoDataFrame
        The blocks the proposal would make: ``proposal_block``, ``parcels``,
        ``new_parcels``, ``existing_mu``, ``new_mu``, ``area_mu``,
        ``reaches_<t>_mu`` and the dissolved geometry.
    summary : dict
        town_id, town, year, target_mu, target_rule, transferred_mu,
        needed_mu, candidate_mu, proposed_mu, met (after the proposal),
        parcels, households, blocks, new_blocks, solver status, objective,
        mip_gap and seconds.
    """

    parcels: gpd.GeoDataFrame
    owners: pd.DataFrame
    blocks: gpd.GeoDataFrame
    summary: dict = field(default_factory=dict)


def _willing_ids(willing) -> set[str] | None:
    if willing is None:
        return None
    if isinstance(willing, pd.Series) and pd.api.types.is_bool_dtype(willing.dtype):
        return {str(k) for k, v in willing.items() if bool(v) is True}
    if isinstance(willing, pd.DataFrame):
        raise TypeError("willing: give household ids (a set, list or Series of ids) or a boolean "
                        "Series indexed by household_id")
    return {str(v) for v in willing if pd.notna(v)}


def _push_neighbours(heap: list, adj, inside: set, d2: dict, v: int) -> None:
    """Queue the neighbours of ``v`` not yet inside, nearest the start first."""
    for u in adj[v]:
        if u not in inside:
            heapq.heappush(heap, (d2[u], u))


def _growth_orders(graph: nx.Graph, transferred: np.ndarray, area: np.ndarray, xy: np.ndarray,
                   comps: list[list[int]], cap: float):
    """Per component: (candidate positions in growth order, start block area, has transfers)."""
    out = []
    for comp in comps:
        c = np.asarray(comp)
        tr = c[transferred[c]]
        if len(tr):
            blocks = list(nx.connected_components(graph.subgraph(tr.tolist())))
            start = max(blocks, key=lambda b: (area[list(b)].sum(), -min(b)))
            s_idx = np.fromiter(start, dtype=np.int64)
            start_area = float(area[s_idx].sum())
            centre = np.average(xy[s_idx], axis=0, weights=area[s_idx])
        else:
            centre = np.average(xy[c], axis=0, weights=area[c])
            start, start_area = {int(c[np.argmin(((xy[c] - centre) ** 2).sum(axis=1))])}, 0.0
        d2 = dict(zip(c.tolist(), ((xy[c] - centre) ** 2).sum(axis=1).tolist()))
        seq: list[int] = [] if len(tr) else list(start)
        inside = set(start)
        heap: list = []
        adj = graph.adj
        for v in start:
            _push_neighbours(heap, adj, inside, d2, v)
        total = float(area[seq].sum()) if seq else 0.0
        while heap and total < cap:
            _, u = heapq.heappop(heap)
            if u in inside:
                continue
            inside.add(u)
            if transferred[u]:
                # a transferred block reached: all of it joins, at no cost
                stack = [u]
                while stack:
                    w = stack.pop()
                    _push_neighbours(heap, adj, inside, d2, w)
                    for x in adj[w]:
                        if transferred[x] and x not in inside:
                            inside.add(x)
                            stack.append(x)
                continue
            seq.append(u)
            total += area[u]
            _push_neighbours(heap, adj, inside, d2, u)
        out.append((seq, start_area, bool(len(tr))))
    return out


def _solve(orders, area: np.ndarray, need: float, thresholds_m2: list[float], *,
           time_limit: float, overshoot_tolerance_mu: float):
    """The multiple-choice knapsack over prefix lengths (see the module documentation)."""
    import highspy
    from scipy import sparse

    step = mu_to_m2(overshoot_tolerance_mu) / 2

    comp, length, cover, cost = [], [], [], []
    for k, (seq, a0, seeded) in enumerate(orders):
        if not seq:
            continue
        cum = np.cumsum(area[seq])
        n = len(seq)
        crossed = np.zeros(n)
        for t in thresholds_m2:
            if a0 < t:
                crossed += (a0 + cum >= t - 1e-6)
        c = ((0.0 if seeded else NEW_BLOCK_SURCHARGE) - THRESHOLD_REWARD * crossed
             + OVERSHOOT_COST_PER_MU * m2_to_mu(cum))
        # a prefix is dominated by a longer one that costs no more
        later_min = np.r_[np.minimum.accumulate(c[::-1])[::-1][1:], np.inf]
        keep = c < later_min
        # and needed only every `step` m2, at threshold crossings and in full
        crossing = np.r_[crossed[0] > 0, np.diff(crossed) > 0]
        last = -np.inf
        for L in np.flatnonzero(keep):
            if cum[L] - last >= step or crossing[L] or L == n - 1:
                last = cum[L]
            else:
                keep[L] = False
        comp.append(np.full(int(keep.sum()), k))
        length.append(np.arange(1, n + 1)[keep])
        cover.append(cum[keep])
        cost.append(c[keep])
    comp, length = np.concatenate(comp), np.concatenate(length)
    cover, cost = np.concatenate(cover), np.concatenate(cost)
    n = len(cost)
    ks = np.unique(comp)
    row_of = np.searchsorted(ks, comp)
    # the fewest components that can cover the need: the number of blocks, fixed
    caps = np.sort(np.array([cover[comp == k].max() for k in ks]))[::-1]
    top = np.cumsum(caps)
    min_blocks = int(np.searchsorted(top, need - 1e-9) + 1)
    # a hair above the need, unless that would take one block more
    target = need + _COVER_SLACK_M2 if top[min_blocks - 1] >= need + _COVER_SLACK_M2 else need
    # rows 0..K-1: one prefix per component; row K: coverage (in mu, well scaled);
    # row K+1: the number of blocks
    rows = np.r_[row_of, np.full(n, len(ks)), np.full(n, len(ks) + 1)]
    cols = np.r_[np.arange(n), np.arange(n), np.arange(n)]
    vals = np.r_[np.ones(n), m2_to_mu(cover), np.ones(n)]
    r = len(ks) + 2
    A = sparse.csc_matrix((vals, (rows, cols)), shape=(r, n))
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, r
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.r_[np.full(len(ks), -inf), m2_to_mu(target), min_blocks]
    lp.row_upper_ = np.r_[np.ones(len(ks)), inf, min_blocks]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    # prefixes at steps of half the tolerance, and a gap of the other half
    h.setOptionValue("mip_abs_gap", OVERSHOOT_COST_PER_MU * float(overshoot_tolerance_mu) / 2)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("random_seed", 0)
    # no "threads" option: HiGHS's scheduler is global to the process; asking for another
    # thread count than an earlier solver's leaves this run "Not Set" (see PITFALLS).
    # Measured on the generated district's towns (17,000 columns): presolve folds the
    # per-component rows into the block-count row and then stalls for minutes; the
    # root's sub-MIP heuristics cost far more than they find, given the warm start.
    # Without them every case tried solves to optimality in 1-5 s of CPU.
    h.setOptionValue("presolve", "off")
    for name in ("mip_heuristic_run_rins", "mip_heuristic_run_rens",
                 "mip_heuristic_run_root_reduced_cost"):
        h.setOptionValue(name, False)
    h.passModel(lp)
    # warm start: whole sequences of the largest components, the last one cut at the need
    x0 = np.zeros(n)
    full = {k: int(np.flatnonzero(comp == k)[-1]) for k in ks}
    got = 0.0
    for k in sorted(ks, key=lambda k: -cover[full[k]]):
        if got >= need:
            break
        cols_k = np.flatnonzero(comp == k)
        enough = cols_k[got + cover[cols_k] >= need]
        pick = int(enough[0]) if len(enough) else full[k]
        x0[pick] = 1.0
        got += cover[pick]
    start = highspy.HighsSolution()
    start.col_value = list(x0)
    h.setSolution(start)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if info.primal_solution_status != 2:   # kSolutionStatusFeasible
        raise InfeasibleError(f"the solver found no proposal (status: {status})")
    x = np.asarray(h.getSolution().col_value)
    picked = {int(comp[c]): int(length[c]) for c in np.flatnonzero(x > 0.5)}
    got = sum(float(area[orders[k][0][:n_]].sum()) for k, n_ in picked.items())
    # the solver's feasibility tolerance must not leave the target a fraction short
    for k in sorted(picked, key=lambda k: -picked[k]):
        while got < need and picked[k] < len(orders[k][0]):
            got += float(area[orders[k][0][picked[k]]])
            picked[k] += 1
    chosen = [v for k, n_ in picked.items() for v in orders[k][0][:n_]]
    return chosen, {"status": status, "objective": float(info.objective_function_value),
                    "mip_gap": float(info.mip_gap), "variables": n, "constraints": r}


def transfer_proposals(project: Any, town_id: str, *,
                       willing: Iterable[str] | pd.Series | None = None,
                       year: int | None = None, records: pd.DataFrame | None = None,
                       scenario: Scenario | None = None, target_mu: float | None = None,
                       join_gap_m: float | None = None,
                       water_barriers=WATER_BARRIERS, road_barriers=ROAD_BARRIERS,
                       time_limit: float = 60.0, overshoot_tolerance_mu: float = 5.0
                       ) -> TransferProposal:
    """The untransferred parcels a town should approach first to meet its target.

    See the module documentation for the model.

    Parameters
    ----------
    project : Project or dict
        With ``towns``, ``villages`` and ``farmland``; ``water`` and ``roads``
        are used as barriers when present.
    town_id : str
        The town.
    willing : iterable of str or pandas.Series, optional
        Households willing to transfer their land: their ids, or a boolean
        Series indexed by household_id. Default: every owner, and parcels with
        no owner household (village collective land). With ``willing`` given,
        only parcels of those households are proposed. (The households layer's
        ``willing_to_relocate`` is about moving house, not land, and is not used.)
    year : int, optional
        The year progress is measured in; default the plan year (2008).
    records : pandas.DataFrame, optional
        Transfer history (``TransferImport.records``); default the layer's own.
    scenario : Scenario, optional
        Gives the target, the join gap and the block thresholds.
    target_mu : float, optional
        Override the town's target (mu; the scenario's rule still applies).
    join_gap_m, water_barriers, road_barriers
        See :func:`~landplan.transfer.farmland_adjacency`.
    time_limit : float
        Solver time limit, seconds (the best proposal found is returned, its
        status says ``Time limit reached`` and ``mip_gap`` how far from proven).
    overshoot_tolerance_mu : float
        How close to the best the proposal must be, in mu of overshoot: half
        of it thins the prefixes offered, half is the solver's gap. In the same
        units a new block instead of an existing one costs 50 mu and a
        threshold crossed earns 25, so the default of 5 leaves those choices to
        the optimisation and at most about 5 mu of needless area.

    Returns
    -------
    TransferProposal
        Empty tables when the town already meets its target.

    Raises
    ------
    landplan.errors.InfeasibleError
        When even every candidate parcel together does not cover the shortfall
        (the message gives both figures).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> towns = pd.DataFrame({"town_id": ["T1"], "name": ["新丰镇"]})
    >>> villages = pd.DataFrame({"village_id": ["V1"], "town_id": ["T1"], "name": ["竹林村"]})
    >>> # a row of 100-mu strips, a canal after the third; P2 transferred already
    >>> xs = [0, 102, 204, 330, 432]
    >>> farmland = gpd.GeoDataFrame(
    ...     {"parcel_id": ["P1", "P2", "P3", "P4", "P5"],
    ...      "household_id": ["H1", "H2", "H3", "H4", "H5"],
    ...      "village_id": "V1", "transfer_mode": [None, "lease", None, None, None],
    ...      "transfer_operator": [None, "合作社", None, None, None],
    ...      "transfer_start_year": [None, 2007, None, None, None],
    ...      "transfer_term_years": [None, 10, None, None, None]},
    ...     geometry=[box(x, 0, x + 100, 666.67) for x in xs], crs="EPSG:4549")
    >>> water = gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["canal"]},
    ...                          geometry=[box(310, -10, 325, 700)], crs="EPSG:4549")
    >>> layers = {"towns": towns, "villages": villages, "farmland": farmland, "water": water}
    >>> prop = transfer_proposals(layers, "T1", target_mu=250)
    >>> prop.parcels[["rank", "parcel_id", "household_id", "area_mu", "proposal_block"]].round(1)
       rank parcel_id household_id  area_mu proposal_block
    0     1        P1           H1    100.0            N01
    2     2        P3           H3    100.0            N01
    >>> cols = ["proposal_block", "existing_mu", "new_mu", "area_mu", "reaches_100_mu"]
    >>> prop.blocks[cols].round(1)
      proposal_block  existing_mu  new_mu  area_mu  reaches_100_mu
    0            N01        100.0   200.0   300.0            True
    >>> prop.summary["status"], prop.summary["blocks"]
    ('Optimal', 1)
    """
    t0 = time.perf_counter()
    scenario = scenario_or_default(scenario)
    year = plan_year(scenario, year)
    layers = layers_of(project)
    towns, villages, farmland = layers["towns"], layers["villages"], layers["farmland"]
    town_id = str(town_id)
    if town_id not in set(towns["town_id"].astype("str")):
        raise ValidationError([Problem("towns", "unknown_town", [town_id],
                                       f"no town {town_id!r} in the towns layer",
                                       f"use one of: {', '.join(towns['town_id'].astype('str'))}")])
    rule = scenario.town_rules(towns).get(town_id)
    town_name = str(towns.set_index(towns["town_id"].astype("str")).loc[town_id, "name"])
    if target_mu is None:
        target_mu = rule.transfer_target_mu if rule is not None else None
    if target_mu is None:
        raise ValidationError([Problem("scenario", "no_target", [town_id],
                                       f"the scenario sets no transfer target for {town_name}",
                                       "pass target_mu=..., or add transfer_target_mu to the "
                                       "town's section of the scenario")])
    exceed = rule is not None and rule.transfer_target_rule == "exceed"
    in_town = villages["town_id"].astype("str") == town_id
    vids = set(villages.loc[in_town, "village_id"].astype("str"))
    vnames = villages.set_index(villages["village_id"].astype("str"))["name"].astype("str")
    farm = farmland[farmland["village_id"].astype("str").isin(vids)]
    state = parcel_transfer_state(farm, year=year, records=records, scenario=scenario)
    transferred_m2 = float(state.loc[state["transferred"], "area_m2"].sum())
    need = mu_to_m2(target_mu) - transferred_m2 + (EXCEED_MARGIN_M2 if exceed else 0.0)
    levels = thresholds_of(scenario)
    summary = {"town_id": town_id, "town": town_name, "year": year, "target_mu": float(target_mu),
               "target_rule": "exceed" if exceed else "at_least",
               "transferred_mu": m2_to_mu(transferred_m2), "needed_mu": max(m2_to_mu(need), 0.0)}
    ok_owner = _willing_ids(willing)
    hh = state["household_id"]
    cand = ~state["transferred"].to_numpy()
    if ok_owner is not None:
        cand &= hh.isin(ok_owner).to_numpy()
    summary["candidate_mu"] = float(m2_to_mu(state["area_m2"].to_numpy()[cand].sum()))
    if need <= 0:
        log.info("%s already meets its target (%.1f mu transferred)", town_name,
                 summary["transferred_mu"])
        return _empty(farm, levels, summary | {"proposed_mu": 0.0, "met": True, "status": "met",
                                                "seconds": time.perf_counter() - t0})
    if state["area_m2"].to_numpy()[cand].sum() < need:
        excluded = float(m2_to_mu(state["area_m2"].to_numpy()[~state["transferred"].to_numpy()
                                                              & ~cand].sum()))
        raise InfeasibleError(
            f"{town_name} is short by {m2_to_mu(need):,.1f} mu but only "
            f"{summary['candidate_mu']:,.1f} mu of untransferred farmland"
            + (" of willing owners" if ok_owner is not None else "")
            + " remains" + (f" ({excluded:,.1f} mu more belongs to owners not listed as willing)"
                            if ok_owner is not None else ""),
            diagnosis=summary)

    # graph of transferred and candidate parcels ---------------------------------------
    i, j = adjacency_positions(farm, water=layers.get("water"), roads=layers.get("roads"),
                               join_gap_m=join_gap_m, scenario=scenario,
                               water_barriers=water_barriers, road_barriers=road_barriers)
    transferred = state["transferred"].to_numpy()
    active = transferred | cand
    keep = active[i] & active[j]
    graph = nx.Graph()
    graph.add_nodes_from(np.flatnonzero(active).tolist())
    graph.add_edges_from(zip(i[keep].tolist(), j[keep].tolist()))
    area = state["area_m2"].to_numpy()
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(farm.geometry.values)))
    comps = [sorted(c) for c in nx.connected_components(graph)]
    comps = [c for c in comps if any(cand[v] for v in c)]
    comps.sort(key=lambda c: c[0])
    orders = _growth_orders(graph, transferred, area, xy, comps, cap=need)
    chosen, solver = _solve(orders, area, need, [mu_to_m2(t) for t in levels],
                            time_limit=time_limit, overshoot_tolerance_mu=overshoot_tolerance_mu)

    # the blocks the proposal makes ----------------------------------------------------
    chosen_set = set(chosen)
    order_pos = {v: k for k, v in enumerate(v for seq, _, _ in orders for v in seq)}
    sub = graph.subgraph([v for v in graph if transferred[v] or v in chosen_set])
    made = [b for b in nx.connected_components(sub) if b & chosen_set]
    made.sort(key=lambda b: (-sum(area[v] for v in b), min(order_pos.get(v, 1 << 60) for v in b)))
    block_of, rows, geoms = {}, [], []
    for n_, b in enumerate(made, start=1):
        name = f"N{n_:02d}"
        new = [v for v in b if v in chosen_set]
        for v in new:
            block_of[v] = name
        total = float(sum(area[v] for v in b))
        row = {"proposal_block": name, "parcels": len(b), "new_parcels": len(new),
               "existing_mu": m2_to_mu(total - sum(area[v] for v in new)),
               "new_mu": m2_to_mu(sum(area[v] for v in new)), "area_mu": m2_to_mu(total)}
        for t in levels:
            row[threshold_column(t)] = total >= mu_to_m2(t) - 1e-6
        rows.append(row)
        members = np.asarray(farm.geometry.values)[sorted(b)]
        geoms.append(members[0] if len(members) == 1 else _union(members))
    blocks = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=gpd.GeoSeries(geoms, crs=farm.crs),
                              crs=farm.crs)
    blocks["proposal_block"] = blocks["proposal_block"].astype("str")
    block_mu = dict(zip(blocks["proposal_block"], blocks["area_mu"]))
    rank_key = {name: k for k, name in enumerate(blocks["proposal_block"])}
    listed = sorted(chosen, key=lambda v: (rank_key[block_of[v]], order_pos[v]))
    near_t = np.zeros(len(farm), dtype=bool)
    near_t[i[transferred[j]]] = True
    near_t[j[transferred[i]]] = True
    pos = np.asarray(listed, dtype=np.int64)
    parcels = gpd.GeoDataFrame({
        "rank": np.arange(1, len(pos) + 1),
        "parcel_id": state["parcel_id"].to_numpy()[pos],
        "household_id": pd.array(hh.to_numpy()[pos], dtype="str"),
        "village_id": state["village_id"].to_numpy()[pos],
        "village": state["village_id"].map(vnames).to_numpy()[pos],
        "area_m2": area[pos], "area_mu": m2_to_mu(area[pos]),
        "proposal_block": [block_of[v] for v in listed],
        "block_mu_after": [block_mu[block_of[v]] for v in listed],
        "adjacent_to_transferred": near_t[pos],
    }, geometry=np.asarray(farm.geometry.values)[pos], crs=farm.crs, index=farm.index[pos])
    parcels["cumulative_mu"] = parcels["area_mu"].cumsum()
    for c in ("parcel_id", "village_id", "village", "proposal_block"):
        parcels[c] = parcels[c].astype("str")
    owners = _owners(parcels)
    proposed = float(parcels["area_m2"].sum())
    met = proposed >= need - 1e-6
    summary |= {"proposed_mu": m2_to_mu(proposed), "met": bool(met), "parcels": len(parcels),
                "households": int(owners["household_id"].notna().sum()), "blocks": len(blocks),
                "new_blocks": int((blocks["existing_mu"] == 0).sum()), **solver,
                "seconds": time.perf_counter() - t0}
    log.info("proposal for %s: %d parcels, %.1f mu in %d blocks (%s, %.1fs)", town_name,
             len(parcels), summary["proposed_mu"], len(blocks), solver["status"],
             summary["seconds"])
    return TransferProposal(parcels, owners, blocks, summary)


def _owners(parcels: pd.DataFrame) -> pd.DataFrame:
    if len(parcels) == 0:
        return pd.DataFrame({"household_id": pd.Series([], dtype="str"),
                             "parcels": pd.Series([], dtype="int64"),
                             "area_mu": pd.Series([], dtype="float64"),
                             "rank": pd.Series([], dtype="int64"),
                             "proposal_block": pd.Series([], dtype="str")})
    g = pd.DataFrame(parcels.drop(columns="geometry")).groupby("household_id", dropna=False,
                                                                sort=False)
    out = pd.DataFrame({"parcels": g.size(), "area_mu": g["area_mu"].sum(), "rank": g["rank"].min(),
                        "proposal_block": g["proposal_block"].agg(
                            lambda s: ", ".join(dict.fromkeys(s)))}).reset_index()
    out["household_id"] = out["household_id"].astype("str")
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


def _empty(farm, levels, summary) -> TransferProposal:
    cols = {"rank": "int64", "parcel_id": "str", "household_id": "str", "village_id": "str",
            "village": "str", "area_m2": "float64", "area_mu": "float64", "proposal_block": "str",
            "block_mu_after": "float64", "adjacent_to_transferred": "bool",
            "cumulative_mu": "float64"}
    parcels = gpd.GeoDataFrame({c: pd.Series([], dtype=d) for c, d in cols.items()},
                               geometry=gpd.GeoSeries([], crs=farm.crs), crs=farm.crs)
    bcols = {"proposal_block": "str", "parcels": "int64", "new_parcels": "int64",
             "existing_mu": "float64", "new_mu": "float64", "area_mu": "float64",
             **{threshold_column(t): "bool" for t in levels}}
    blocks = gpd.GeoDataFrame({c: pd.Series([], dtype=d) for c, d in bcols.items()},
                              geometry=gpd.GeoSeries([], crs=farm.crs), crs=farm.crs)
    summary |= {"parcels": 0, "households": 0, "blocks": 0, "new_blocks": 0}
    return TransferProposal(parcels, _owners(parcels), blocks, summary)
