"""Build a :class:`ConsolidationModel` from a project's layers and a scenario.

Inputs (the contract with :mod:`landplan.survey` and :mod:`landplan.network`):

``hamlets`` (GeoDataFrame or DataFrame)
    ``hamlet_id, town_id, village_id, households`` (int), ``households_willing`` (int),
    ``homestead_area_m2`` (float, all the hamlet's homestead land), ``retained`` (bool:
    the planners keep the hamlet; it stays); with the scenario's
    ``homestead.demolished_basis = "footprint"`` also a geometry (the hamlet's footprint).
``project["sites"]``
    ``site_id, town_id, kind`` ("new_community" or "town_apartments"),
    ``capacity_households, fixed_cost`` (and a geometry, carried into ``plan.sites``).
``project["towns"]``
    ``town_id, name`` (the scenario's towns are matched by name).
``distances`` (DataFrame)
    Long format ``origin`` (hamlet_id), ``destination`` (site_id), ``distance_m`` (road
    distance); pairs not listed are not reachable. Give them to a longer cutoff than the
    scenario's limit (e.g. twice) so the diagnosis can say which longer limit would help.

Given neither, they are computed from the project: the hamlets by
:func:`landplan.survey.hamlets_from_homesteads` (homesteads, households, water, roads,
villages), the distances along the roads by :func:`landplan.network.distance_matrix`
(sites and hamlets attached to the road graph of :func:`landplan.network.graph_from_roads`,
links not crossing water, within the town when the scenario keeps relocation in the town)
up to ``diagnosis_reach`` times the scenario's limit. Only pairs within the limit enter
the model; the longer ones serve the diagnosis.

The model, per hamlet ``i`` moving ``d_i`` households (all of them, or with
``willing_only`` only the willing) to site ``j`` at road distance ``D_ij``:

* cost ``c_ij = d_i * (relocation + build_j + distance_per_household_km * D_ij / 1000)
  - reclaimed_value_per_mu * mu_i``, with ``build_j`` the scenario's
  ``construction_per_household`` for a new community and ``apartment_per_household`` for
  town apartments, and ``mu_i`` the construction land freed: the hamlet's demolished land
  times ``d_i / households``, where the demolished land (拆旧) is, by the scenario's
  ``homestead.demolished_basis``, the hamlet's footprint (plots with the lanes and yards
  between them, never less than the plots' area; the 2008 scenario) or its house plots
  alone (``"homesteads"``);
* pairs: ``D_ij <= sites.max_relocation_distance_m``, and the same town unless
  ``sites.within_town`` is false;
* minimum per started site: ``sites.min_households`` for a new community; **0 for town
  apartments** (a flat in the central town is not a "started site" of the plan: a block
  takes any number of households up to its capacity);
* per town, from the scenario's town rules: **full** start (全面启动): a hamlet may stay, at
  ``stay_penalty_per_household`` per household; **pilot** (先行试点): between
  ``pilot_villages_min`` and ``pilot_villages_max`` villages take part, a village taking part
  when any of its hamlets moves; hamlets may stay at no cost; **none**: no hamlet moves;
* retained hamlets and hamlets with no household to move stay, at no cost;
* ledger: a started new community takes ``plot_standard_cultivated_m2 / (1 -
  road_green_share)`` per household (house plots on cultivated land plus the share of the
  site for roads, green and public buildings); town apartments take no new rural
  construction land.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from ..units import m2_to_mu
from ._inputs import GroupRule

__all__ = ["model_from_project", "hamlets_from_project", "distances_from_project",
           "example_inputs", "DIAGNOSIS_REACH"]

logger = logging.getLogger(__name__)

HAMLET_COLUMNS = ["hamlet_id", "town_id", "village_id", "households", "households_willing",
                  "homestead_area_m2", "retained"]
SITE_COLUMNS = ["site_id", "town_id", "kind", "capacity_households", "fixed_cost"]
DISTANCE_COLUMNS = ["origin", "destination", "distance_m"]
SITE_KINDS = ("new_community", "town_apartments")


def _layer(project, name):
    try:
        return project[name]
    except (KeyError, TypeError):
        layer = getattr(project, name, None)
        if layer is None:
            raise ValidationError([Problem(name, "missing_layer", [],
                                           f"the project has no {name} layer",
                                           f"add the {name} layer")]) from None
        return layer


def _need(frame, cols, layer, problems):
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        problems.append(Problem(layer, "missing_columns", missing,
                                f"{layer} lacks columns {', '.join(missing)}",
                                f"{layer} needs {', '.join(cols)}"))
    return not missing


#: Distances are computed to this many times the scenario's limit (for the diagnosis).
DIAGNOSIS_REACH = 2.0


def _optional(project, name):
    getter = getattr(project, "get", None)
    if getter is not None:
        return getter(name)
    return None


def hamlets_from_project(project, scenario, *, progress: bool = False):
    """The project's hamlets: its ``hamlets`` layer, else derived from its homesteads.

    Parameters
    ----------
    project : Project or mapping
    scenario : landplan.scenario.Scenario
    progress : bool
        Show progress bars.

    Returns
    -------
    geopandas.GeoDataFrame
        The hamlets (see :func:`landplan.survey.hamlets_from_homesteads`).

    Examples
    --------
    >>> from landplan.datasets import sample_path
    >>> from landplan.project import Project
    >>> from landplan.scenario import load_scenario
    >>> project = Project.read(sample_path())
    >>> h = hamlets_from_project(project, load_scenario())
    >>> int(h["households"].sum()) <= len(project["households"])
    True
    """
    layer = _optional(project, "hamlets")
    if layer is not None:
        return layer
    homesteads = _optional(project, "homesteads")
    if homesteads is None:
        raise ValidationError([Problem(
            "hamlets", "missing_layer", [],
            "the project has neither hamlets nor homesteads to derive them from",
            "add the homesteads and households layers, or pass hamlets= "
            "(landplan.survey.hamlets_from_homesteads)")])
    from ..survey import hamlets_from_homesteads

    return hamlets_from_homesteads(homesteads, _optional(project, "households"),
                                   water=_optional(project, "water"),
                                   roads=_optional(project, "roads"),
                                   villages=_optional(project, "villages"), scenario=scenario,
                                   progress=progress)


def distances_from_project(project, hamlets, scenario, *, reach: float = DIAGNOSIS_REACH,
                           progress: bool = False):
    """Road distances from the hamlets to the project's sites, to ``reach`` x the limit.

    Parameters
    ----------
    project : Project or mapping
        Needs ``roads`` and ``sites`` (``water`` is used when present).
    hamlets : geopandas.GeoDataFrame
    scenario : landplan.scenario.Scenario
        Its ``sites.max_relocation_distance_m`` and ``sites.within_town``.
    reach : float, default 2
        Distances are computed up to this many times the scenario's limit.
    progress : bool

    Returns
    -------
    landplan.network.DistanceMatrix

    Examples
    --------
    >>> from landplan.datasets import sample_path
    >>> from landplan.project import Project
    >>> from landplan.scenario import load_scenario
    >>> project, scenario = Project.read(sample_path()), load_scenario()
    >>> dm = distances_from_project(project, hamlets_from_project(project, scenario), scenario)
    >>> bool(dm.long["distance_m"].max() <= 2 * scenario.max_distance_m)
    True
    """
    roads = _optional(project, "roads")
    if roads is None:
        raise ValidationError([Problem(
            "roads", "missing_layer", [],
            "road distances from hamlets to sites need the roads layer",
            "add the roads layer, or pass distances= (origin, destination, distance_m)")])
    from ..network import distance_matrix, graph_from_roads

    within = bool(scenario.sites.get("within_town", True))
    sites = _layer(project, "sites")
    same = "town_id" if within and "town_id" in hamlets.columns and \
        hamlets["town_id"].notna().all() else None
    return distance_matrix(graph_from_roads(roads), hamlets, sites,
                           max_distance_m=reach * scenario.max_distance_m, same=same,
                           water=_optional(project, "water"), progress=progress)


def model_from_project(cls, project, scenario, *, hamlets=None, distances=None,
                       willing_only: bool = False, diagnosis_reach: float = DIAGNOSIS_REACH,
                       protected_sites: str = "exclude", progress: bool = False):
    """Build the model (called by :meth:`ConsolidationModel.from_project`).

    Parameters
    ----------
    cls : type
        ``ConsolidationModel``.
    project : Project or mapping
        Holds the ``sites`` and ``towns`` layers (and ``hamlets`` if not given).
    scenario : landplan.scenario.Scenario
    hamlets : DataFrame, optional
        Default: ``project["hamlets"]``, else derived from the project's homesteads
        (:func:`hamlets_from_project`).
    distances : DataFrame or landplan.network.DistanceMatrix, optional
        Long-format road distances (see the module docstring); a ``DistanceMatrix``
        is read through its ``.long`` table. Default: computed along the project's
        roads (:func:`distances_from_project`).
    willing_only : bool, default False
        Move only the households willing to move (the rest of a moving hamlet stays).
    diagnosis_reach : float, default 2
        When distances are computed: up to this many times the scenario's limit.
    protected_sites : {"exclude", "allow"}, default "exclude"
        Sites whose polygon lies (more than 1 m2) on permanent basic farmland, the
        ecological red line or a flood zone (the project's ``protected`` and ``farmland``
        layers, :func:`landplan.suitability.protected_overlap`) cannot be started: no
        hamlet may move there, and ``plan.sites`` gives the reason (``excluded``).
        ``"allow"`` leaves them in the model, flagged only.
    progress : bool, default False
        Show progress bars while deriving hamlets and distances.

    Returns
    -------
    ConsolidationModel

    Raises
    ------
    landplan.errors.ValidationError
        Missing columns, unknown ids, unknown site kinds, missing or infinite distances.
    landplan.errors.ScenarioError
        When the scenario names a town the project does not have.

    Examples
    --------
    >>> from landplan.consolidate import ConsolidationModel
    >>> from landplan.scenario import load_scenario
    >>> project, hamlets, distances = example_inputs()
    >>> m = model_from_project(ConsolidationModel, project, load_scenario(), hamlets=hamlets,
    ...                        distances=distances)
    >>> m.n_origins, m.n_destinations
    (8, 3)
    """
    problems: list[Problem] = []
    if protected_sites not in ("exclude", "allow"):
        raise ValueError(f"protected_sites must be 'exclude' or 'allow', not {protected_sites!r}")
    sites = _layer(project, "sites")
    towns = _layer(project, "towns")
    if hamlets is None:
        hamlets = hamlets_from_project(project, scenario, progress=progress)
    if distances is None:
        distances = distances_from_project(project, hamlets, scenario, reach=diagnosis_reach,
                                           progress=progress)
    if hasattr(distances, "long"):       # landplan.network.DistanceMatrix
        distances = distances.long
    ok = _need(hamlets, HAMLET_COLUMNS, "hamlets", problems)
    ok &= _need(sites, SITE_COLUMNS, "sites", problems)
    ok &= _need(distances, DISTANCE_COLUMNS, "distances", problems)
    ok &= _need(towns, ["town_id", "name"], "towns", problems)
    if not ok:
        raise ValidationError(problems)
    rules = scenario.town_rules(towns)   # ScenarioError on unknown towns

    basis = scenario.homestead.get("demolished_basis", "homesteads")
    footprint = None
    if basis == "footprint":
        geom = getattr(hamlets, "geometry", None) if "geometry" in hamlets.columns else None
        if geom is None or geom.isna().any() or geom.is_empty.any():
            ids = (hamlets["hamlet_id"].astype(str).tolist() if geom is None else
                   hamlets.loc[geom.isna() | geom.is_empty, "hamlet_id"].astype(str).tolist())
            problems.append(Problem(
                "hamlets", "missing_geometry", ids,
                "homestead.demolished_basis = 'footprint' needs each hamlet's footprint polygon",
                "give the hamlets as the survey returns them (with geometry), or set "
                "homestead.demolished_basis = 'homesteads'"))
        else:
            footprint = geom.area.to_numpy(dtype=float)
    h = pd.DataFrame(hamlets.drop(columns="geometry", errors="ignore")).copy()
    h["hamlet_id"] = h["hamlet_id"].astype(str)
    h["town_id"] = h["town_id"].astype(str)
    h["village_id"] = h["village_id"].astype(str)
    s = pd.DataFrame(sites).copy()
    s["site_id"] = s["site_id"].astype(str)
    s["town_id"] = s["town_id"].astype(str)
    unknown_town = h.loc[~h["town_id"].isin(rules), "hamlet_id"].tolist()
    if unknown_town:
        problems.append(Problem("hamlets", "unknown_town", unknown_town,
                                "hamlets name towns that are not in the towns layer",
                                "correct town_id"))
    bad_kind = s.loc[~s["kind"].isin(SITE_KINDS), "site_id"].tolist()
    if bad_kind:
        problems.append(Problem("sites", "unknown_kind", bad_kind,
                                f"site kind is not one of {SITE_KINDS}", "correct kind"))
    dist = pd.DataFrame(distances)[DISTANCE_COLUMNS].copy()
    dist["origin"] = dist["origin"].astype(str)
    dist["destination"] = dist["destination"].astype(str)
    unknown = dist[~dist["origin"].isin(h["hamlet_id"]) | ~dist["destination"].isin(s["site_id"])]
    if len(unknown):
        problems.append(Problem("distances", "unknown_ids",
                                (unknown["origin"] + "->" + unknown["destination"]).tolist(),
                                "distances name hamlets or sites that are not given",
                                "drop those rows or add the hamlets/sites"))
    dvals = pd.to_numeric(dist["distance_m"], errors="coerce")
    badd = ~np.isfinite(dvals.to_numpy(dtype=float))
    if badd.any():
        problems.append(Problem("distances", "missing_distance",
                                (dist.loc[badd, "origin"] + "->" + dist.loc[badd, "destination"]
                                 ).tolist(),
                                "distances are missing or infinite",
                                "leave unreachable pairs out of the table; give a finite distance "
                                "for the others"))
    if problems:
        raise ValidationError(problems)
    dist["distance_m"] = dvals

    costs = scenario.costs
    min_hh = scenario.min_households
    within = bool(scenario.sites.get("within_town", True))
    homestead = scenario.homestead
    share = float(scenario.sites.get("road_green_share", 0.0))
    households = pd.to_numeric(h["households"], errors="coerce").to_numpy(dtype=float)
    willing = pd.to_numeric(h["households_willing"], errors="coerce").to_numpy(dtype=float)
    demand = np.minimum(willing, households) if willing_only else households.copy()
    mode = h["town_id"].map(lambda t: rules[t].mode).to_numpy()
    retained = h["retained"].fillna(False).astype(bool).to_numpy()
    area = pd.to_numeric(h["homestead_area_m2"], errors="coerce").to_numpy(dtype=float)
    if footprint is not None:
        # the footprint covers every plot whole, so it is never below the plots' area
        # (unless plots overlap); the larger of the two is the hamlet's construction land
        area = np.maximum(footprint, area)
    frac = np.divide(demand, households, out=np.zeros_like(demand), where=households > 0)
    area_moving = area * frac
    movable = ~retained & (mode != "none") & (demand > 0)
    reason = np.where(retained, "retained by the planners",
                      np.where(mode == "none", "town does not start in this plan", None))

    # pairs: both towns must agree unless relocation may cross towns
    pos = pd.Series(np.arange(len(h)), index=h["hamlet_id"])
    spos = pd.Series(np.arange(len(s)), index=s["site_id"])
    i = pos.reindex(dist["origin"]).to_numpy()
    j = spos.reindex(dist["destination"]).to_numpy()
    keep = movable[i]
    if within:
        keep &= h["town_id"].to_numpy()[i] == s["town_id"].to_numpy()[j]
    excluded = _protected_sites(project, sites, s)
    on_protected = excluded != ""
    if on_protected.any():
        logger.warning("sites on protected land%s: %s",
                       ", not started" if protected_sites == "exclude" else " (allowed)",
                       ", ".join(f"{s['site_id'].iat[r]} ({excluded[r]})"
                                 for r in np.flatnonzero(on_protected)[:10]))
    if protected_sites == "exclude":
        keep &= ~on_protected[j]
    i, j, dm = i[keep], j[keep], dist["distance_m"].to_numpy()[keep]
    kind = s["kind"].to_numpy()
    build = np.where(kind == "new_community", costs["construction_per_household"],
                     costs["apartment_per_household"])
    reclaim = costs["reclaimed_value_per_mu"] * m2_to_mu(area_moving)
    pair_cost = demand[i] * (costs["relocation_per_household"] + build[j]
                             + costs["distance_per_household_km"] * dm / 1000.0) - reclaim[i]
    pairs = pd.DataFrame({"origin": h["hamlet_id"].to_numpy()[i],
                          "destination": s["site_id"].to_numpy()[j],
                          "cost": pair_cost, "distance": dm})

    stay = np.zeros(len(h))
    full = (mode == "full") & movable
    stay[full] = costs["stay_penalty_per_household"] * demand[full]

    group_rules = []
    tname = dict(zip(towns["town_id"].astype(str), towns["name"].astype(str)))
    for tid, rule in rules.items():
        if rule.mode != "pilot":
            continue
        sel = (h["town_id"].to_numpy() == tid) & movable
        if not sel.any():
            continue
        group_rules.append(GroupRule.from_labels(
            tname.get(tid, tid), h["hamlet_id"].to_numpy()[sel], h["village_id"].to_numpy()[sel],
            rule.pilot_villages_min, rule.pilot_villages_max))

    minimum = np.where(kind == "new_community", float(min_hh), 0.0)
    land = np.where(kind == "new_community",
                    float(homestead["plot_standard_cultivated_m2"]) / max(1.0 - share, 1e-9), 0.0)
    s["excluded"] = excluded if protected_sites == "exclude" else ""
    s["on_protected"] = on_protected
    origin_attrs = h.set_index("hamlet_id")[["village_id", "retained"]]
    site_cols = [c for c in s.columns if c not in ("site_id", "town_id", "capacity_households",
                                                   "fixed_cost")]
    dest_attrs = s.set_index("site_id")[site_cols]
    if "geometry" in site_cols and hasattr(sites, "crs"):
        import geopandas as gpd

        dest_attrs = gpd.GeoDataFrame(dest_attrs, geometry="geometry", crs=sites.crs)
    model = cls.from_cost_matrix(
        pairs, demand=pd.Series(demand, index=h["hamlet_id"]),
        capacity=pd.Series(pd.to_numeric(s["capacity_households"], errors="coerce").to_numpy(
            dtype=float), index=s["site_id"]),
        fixed_cost=pd.to_numeric(s["fixed_cost"], errors="coerce").to_numpy(dtype=float),
        minimum=minimum, stay_cost=stay, max_distance=scenario.max_distance_m,
        group_rules=group_rules, origin_town=h["town_id"].to_numpy(),
        destination_town=s["town_id"].to_numpy(), town_names=tname, households=households,
        homestead_area_m2=area_moving, site_land_m2_per_household=land,
        name=getattr(scenario, "name", "scenario"))
    model.origin_attrs = origin_attrs
    model.destination_attrs = dest_attrs
    model.stay_reason = reason
    model.group_word = "villages"
    return model


def _protected_sites(project, sites, s: pd.DataFrame) -> np.ndarray:
    """Per site (rows of ``s``), the protected land it is on ("" when none)."""
    from ..suitability import protected_overlap

    out = np.full(len(s), "", dtype=object)
    if "geometry" not in getattr(sites, "columns", ()) or not hasattr(sites, "crs"):
        return out
    layers = {k: _optional(project, k) for k in ("protected", "farmland")}
    if all(v is None for v in layers.values()):
        return out
    over = protected_overlap(sites, {k: v for k, v in layers.items() if v is not None})
    return over["protected_reasons"].to_numpy(dtype=object)


def example_inputs(seed: int = 0):
    """A tiny synthetic project (two towns) for examples and tests.

    Returns
    -------
    project : dict
        ``{"towns": ..., "sites": GeoDataFrame}``; the towns layer holds the five towns of
        the 2008 scenario (T1 新丰镇, a full-start town, and T4 凤桥镇, a pilot town, have
        hamlets).
    hamlets : GeoDataFrame
    distances : DataFrame
        Long format, every hamlet-site pair (up to 6 km).

    Examples
    --------
    >>> project, hamlets, distances = example_inputs()
    >>> len(hamlets), len(project["sites"]), sorted(hamlets["town_id"].unique())
    (8, 3, ['T1', 'T4'])
    """
    import geopandas as gpd
    from shapely.geometry import Point

    rng = np.random.default_rng(seed)
    towns = pd.DataFrame({"town_id": ["T1", "T2", "T3", "T4", "T5"],
                          "name": ["新丰镇", "余新镇", "大桥镇", "凤桥镇", "七星镇"]})
    hx = np.array([0, 800, 1500, 2200, 20000, 20600, 21500, 22500], dtype=float)
    hy = np.array([0, 600, 200, 900, 0, 700, 300, 1200], dtype=float)
    hh = np.array([30, 25, 40, 20, 35, 30, 22, 28])
    hamlets = gpd.GeoDataFrame({
        "hamlet_id": [f"H{k}" for k in range(8)],
        "town_id": ["T1"] * 4 + ["T4"] * 4,
        "village_id": ["V1", "V1", "V2", "V2", "V7", "V7", "V8", "V9"],
        "households": hh,
        "households_willing": np.maximum(hh - rng.integers(0, 6, 8), 0),
        "homestead_area_m2": hh * 260.0,
        "retained": [False, False, False, True, False, False, False, False],
    }, geometry=[Point(x, y) for x, y in zip(hx, hy)], crs="EPSG:4549")
    sx = np.array([700.0, 1200.0, 21000.0])
    sy = np.array([300.0, 500.0, 500.0])
    sites = gpd.GeoDataFrame({
        "site_id": ["S1", "A1", "S2"], "town_id": ["T1", "T1", "T4"],
        "kind": ["new_community", "town_apartments", "new_community"],
        "capacity_households": [120, 60, 100], "fixed_cost": [2.0e6, 0.0, 2.0e6],
    }, geometry=[Point(x, y) for x, y in zip(sx, sy)], crs="EPSG:4549")
    d = np.hypot(hx[:, None] - sx[None, :], hy[:, None] - sy[None, :]) * 1.3
    ii, jj = np.nonzero(d <= 6000)
    distances = pd.DataFrame({"origin": hamlets["hamlet_id"].to_numpy()[ii],
                              "destination": sites["site_id"].to_numpy()[jj],
                              "distance_m": d[ii, jj]})
    return {"towns": towns, "sites": sites}, hamlets, distances
