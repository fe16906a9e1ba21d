"""Synthetic instances for tests and benchmarks (no GIS needed).

:func:`random_instance` makes small dense instances (for exhaustive checks);
:func:`synthetic_district` makes town- and district-like ones with geography: random
hamlets around village centres in square towns, candidate sites and one or two
town-apartment blocks per town, road distance = 1.3 x straight-line distance, pairs up
to the distance limit within the town, costs as :mod:`.from_project` computes them from
the 2008 scenario's weights.
"""

from __future__ import annotations

import numpy as np

from ._inputs import GroupRule

__all__ = ["random_instance", "synthetic_district"]

#: The 2008 scenario's cost weights (yuan); the stay penalty is above the net cost of moving,
#: so that a full-start town actually moves (as in ``scenarios/nanhu_2008.toml``).
COSTS = dict(relocation_per_household=30000.0, construction_per_household=120000.0,
             apartment_per_household=150000.0, distance_per_household_km=500.0,
             reclaimed_value_per_mu=100000.0, stay_penalty_per_household=200000.0)


def random_instance(n: int = 6, m: int = 3, seed: int = 0, *, minimum: float = 50,
                    density: float = 0.8, stay: bool = True, pilot: bool = False) -> dict:
    """Keyword arguments of ``from_cost_matrix`` for a small random instance.

    Examples
    --------
    >>> from landplan.consolidate import ConsolidationModel
    >>> kw = random_instance(5, 2, seed=1)
    >>> ConsolidationModel.from_cost_matrix(**kw).n_origins
    5
    """
    rng = np.random.default_rng(seed)
    demand = rng.integers(5, 61, n)
    capacity = rng.integers(60, 160, m).astype(float)
    fixed = rng.uniform(10, 120, m).round(1)
    cost = rng.uniform(1, 100, (n, m)).round(1) * demand[:, None] / 10
    cost[rng.random((n, m)) > density] = np.nan
    kw = dict(cost=cost, demand=demand, capacity=capacity, fixed_cost=fixed, minimum=minimum)
    if stay:
        s = (rng.uniform(2, 15, n) * demand).round(1)
        s[rng.random(n) < 0.3] = np.nan  # some must move
        kw["stay_cost"] = s
    if pilot:
        villages = rng.integers(0, 3, n)
        kw["group_rules"] = [GroupRule.from_labels("pilot", [f"o{i}" for i in range(n)],
                                                   [f"v{v}" for v in villages], 1, 2)]
    return kw


def synthetic_district(n_towns: int = 5, hamlets_per_town: int = 300, sites_per_town: int = 40,
                       *, modes=None, seed: int = 0, max_distance: float = 3000.0,
                       town_side_m: float = 8000.0, villages_per_town: int = 15,
                       apartments_per_town: int = 2, minimum: float = 50.0,
                       capacity_ratio: float | None = None, costs: dict | None = None):
    """A town- or district-like :class:`ConsolidationModel` with geography.

    Parameters
    ----------
    n_towns, hamlets_per_town, sites_per_town : int
        Sizes; ``sites_per_town`` includes ``apartments_per_town`` town-apartment blocks
        (no minimum) near the town seat.
    modes : sequence of {"full", "pilot"}, optional
        Per town; default: the 2008 plan's three full-start and two pilot towns, cycled.
    seed : int
    max_distance : float, default 3000
        Road-distance limit, metres; pairs up to twice as far are kept for the diagnosis.
    town_side_m : float, default 8000
        Towns are squares of this side, side by side.
    villages_per_town : int, default 15
    minimum : float, default 50
    capacity_ratio : float, optional
        Scale each town's site capacities so that together they hold this many times the
        town's households (rounded to whole households). Default: as drawn (60-400 per
        site, 200-400 per apartment block), which for 300 hamlets x 40 sites is about 0.95
        times the demand -- every site fills, a tight packing problem. Planners offer
        more room than needed (1.2-1.5 is realistic).
    costs : dict, optional
        Cost weights (default :data:`COSTS`).

    Returns
    -------
    ConsolidationModel

    Examples
    --------
    >>> m = synthetic_district(1, 30, 5, seed=0)
    >>> m.n_origins, m.n_destinations
    (30, 5)
    """
    from ..units import m2_to_mu
    from .model import ConsolidationModel

    rng = np.random.default_rng(seed)
    c = dict(COSTS, **(costs or {}))
    modes = list(modes) if modes is not None else [
        ["full", "full", "full", "pilot", "pilot"][k % 5] for k in range(n_towns)]
    names = ["新丰镇", "余新镇", "大桥镇", "凤桥镇", "七星镇"]
    oid, otown, ovill, ox, oy, dem, area = [], [], [], [], [], [], []
    did, dtown, dx, dy, cap, fixed, low, kind = [], [], [], [], [], [], [], []
    rules = []
    for t in range(n_towns):
        x0 = t * (town_side_m + 2000.0)
        tid = f"T{t + 1}"
        vc = rng.uniform(0.05, 0.95, (villages_per_town, 2)) * town_side_m
        vil = rng.integers(0, villages_per_town, hamlets_per_town)
        pts = vc[vil] + rng.normal(0, town_side_m * 0.06, (hamlets_per_town, 2))
        pts = np.clip(pts, 0, town_side_m)
        hh = rng.integers(5, 61, hamlets_per_town)
        ids = [f"{tid}H{k:04d}" for k in range(hamlets_per_town)]
        oid += ids
        otown += [tid] * hamlets_per_town
        ovill += [f"{tid}V{v:02d}" for v in vil]
        ox += list(pts[:, 0] + x0)
        oy += list(pts[:, 1])
        dem += list(hh)
        area += list(hh * rng.uniform(200, 320, hamlets_per_town))
        seat = np.array([town_side_m / 2, town_side_m / 2])
        n_new = sites_per_town - apartments_per_town
        sp = rng.uniform(0.05, 0.95, (n_new, 2)) * town_side_m
        ap = seat + rng.normal(0, 300, (apartments_per_town, 2))
        allp = np.vstack([sp, ap])
        did += [f"{tid}S{k:03d}" for k in range(n_new)] + \
            [f"{tid}A{k}" for k in range(apartments_per_town)]
        dtown += [tid] * sites_per_town
        dx += list(allp[:, 0] + x0)
        dy += list(allp[:, 1])
        tcap = np.concatenate([rng.integers(60, 401, n_new),
                               rng.integers(200, 401, apartments_per_town)]).astype(float)
        if capacity_ratio is not None:
            tcap = np.maximum(np.round(tcap * capacity_ratio * hh.sum() / tcap.sum()), minimum)
        cap += list(tcap)
        fixed += list(rng.uniform(1.5e6, 4e6, n_new).round(-3)) + [0.0] * apartments_per_town
        low += [minimum] * n_new + [0.0] * apartments_per_town
        kind += ["new_community"] * n_new + ["town_apartments"] * apartments_per_town
        if modes[t] == "pilot":
            rules.append(GroupRule.from_labels(names[t % 5], ids,
                                               [f"{tid}V{v:02d}" for v in vil], 1, 2))
    ox, oy, dx, dy = map(np.asarray, (ox, oy, dx, dy))
    dem, area = np.asarray(dem, dtype=float), np.asarray(area)
    otown, dtown = np.asarray(otown), np.asarray(dtown)
    kind = np.asarray(kind)
    # pairs within the town and within twice the limit (the rest is never needed)
    rows, cols, dist = [], [], []
    for tid in np.unique(otown):
        oi = np.flatnonzero(otown == tid)
        dj = np.flatnonzero(dtown == tid)
        dmat = np.hypot(ox[oi, None] - dx[None, dj], oy[oi, None] - dy[None, dj]) * 1.3
        a, b = np.nonzero(dmat <= 2 * max_distance)
        rows.append(oi[a])
        cols.append(dj[b])
        dist.append(dmat[a, b])
    rows, cols, dist = np.concatenate(rows), np.concatenate(cols), np.concatenate(dist)
    build = np.where(kind == "new_community", c["construction_per_household"],
                     c["apartment_per_household"])
    reclaim = c["reclaimed_value_per_mu"] * m2_to_mu(area)
    cost = dem[rows] * (c["relocation_per_household"] + build[cols]
                        + c["distance_per_household_km"] * dist / 1000.0) - reclaim[rows]
    import pandas as pd

    pairs = pd.DataFrame({"origin": np.asarray(oid)[rows], "destination": np.asarray(did)[cols],
                          "cost": cost, "distance": dist})
    town_mode = {f"T{t + 1}": modes[t] for t in range(n_towns)}
    stay = np.array([c["stay_penalty_per_household"] * d if town_mode[t] == "full" else 0.0
                     for d, t in zip(dem, otown)])
    return ConsolidationModel.from_cost_matrix(
        pairs, demand=pd.Series(dem, index=oid), capacity=pd.Series(np.asarray(cap, float),
                                                                    index=did),
        fixed_cost=np.asarray(fixed), minimum=np.asarray(low), stay_cost=stay,
        max_distance=max_distance, group_rules=rules, origin_town=otown, destination_town=dtown,
        town_names={f"T{t + 1}": names[t % 5] for t in range(n_towns)},
        homestead_area_m2=area,
        site_land_m2_per_household=np.where(kind == "new_community", 125.0 / 0.7, 0.0),
        name=f"synthetic {n_towns}x{hamlets_per_town}x{sites_per_town}")
