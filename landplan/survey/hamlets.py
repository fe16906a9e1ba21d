"""Hamlets (自然村) derived from homestead footprints by clustering on the ground.

Two homesteads of the same administrative village belong to the same hamlet
when they are linked by a chain of homesteads each within ``max_gap_m``
(40 m by default, measured between the plots' outlines) of the next, where a
link counts only if the straight line between the two plots (from a point
inside one to a point inside the other) does not cross separating water
that no bridge spans. Rivers and canals separate (``barrier_kinds``); ponds
do not (one walks round a pond). A crossing is spanned when a bridge
(``roads.bridge`` true) over that same water lies within ``bridge_reach_m``
of the link. Roads on land are never barriers.

Everything is computed in bulk with shapely 2 and scipy: one STRtree query
of grown envelopes finds the candidate pairs (exact distances only where
cheap bounds cannot decide), STRtree queries of the water and the bridges
against the links cut those that cross unbridged water, and
:func:`scipy.sparse.csgraph.connected_components` makes the clusters. No
Python loop runs over homesteads.

Hamlet ids are stable: ``hamlet_id = village_id + "-" + the smallest
homestead_id of the cluster``. The same input gives the same ids, and an
edit that does not touch a hamlet's smallest member or its membership
leaves its id unchanged.

The footprint of a hamlet is the concave hull of its plots' corners
(:data:`FOOTPRINT_RATIO`), widened where needed so that it covers every plot
whole: the gaps between neighbouring plots are filled and the outline follows
the houses.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from ..scenario import Scenario
from ..units import WORKING_CRS
from ._inputs import (as_object, group_first, in_threads, lookup, other_layer,
                      prepare_homesteads, prepare_households, resolve_scenario, steps_bar,
                      valid_geometries, village_towns)
from .multiple import _kept

__all__ = ["hamlet_ids_from_homesteads", "hamlets_from_homesteads", "HAMLET_COLUMNS"]

log = logging.getLogger(__name__)

#: Columns of the hamlets GeoDataFrame, in order (geometry last).
HAMLET_COLUMNS = ("hamlet_id", "town_id", "village_id", "households", "households_willing",
                  "homestead_area_m2", "n_homesteads", "retained", "geometry")


def _water_and_bridges(water, roads, *, barrier_kinds):
    """The water polygons that separate, and the bridge lines (arrays of geometries)."""
    none = np.array([], dtype=object)
    water = other_layer(water, "water")
    if water is None:
        return none, none
    if "kind" in water.columns and barrier_kinds is not None:
        water = water[np.isin(as_object(water["kind"]), list(barrier_kinds))]
    w = shapely.get_parts(water.geometry.to_numpy())
    w = w[~(shapely.is_missing(w) | shapely.is_empty(w))]
    roads = other_layer(roads, "roads")
    if roads is None or "bridge" not in roads.columns or len(w) == 0:
        return w, none
    b = roads.geometry.to_numpy()[roads["bridge"].fillna(False).to_numpy(dtype=bool)]
    return w, b[~(shapely.is_missing(b) | shapely.is_empty(b))]


def _near_pairs(g: np.ndarray, distance: float):
    """Pairs i < j of geometries within ``distance``, their inner points, grown envelopes.

    An envelope query gives candidates. Envelopes farther apart than ``distance``
    are certainly far; points on the plots' surfaces within ``distance`` are
    certainly close; only the rest need an exact distance. (Faster than the
    tree's ``dwithin`` predicate on many small polygons.)
    """
    tree = shapely.STRtree(g)
    b = shapely.bounds(g)
    grown = shapely.box(b[:, 0] - distance, b[:, 1] - distance, b[:, 2] + distance,
                        b[:, 3] + distance)
    left, right = tree.query(grown)
    keep = left < right
    left, right = left[keep], right[keep]
    inner = shapely.get_coordinates(shapely.point_on_surface(g))
    close = np.hypot(*(inner[left] - inner[right]).T) <= distance
    gap_x = np.maximum(0, np.maximum(b[left, 0], b[right, 0]) - np.minimum(b[left, 2], b[right, 2]))
    gap_y = np.maximum(0, np.maximum(b[left, 1], b[right, 1]) - np.minimum(b[left, 3], b[right, 3]))
    far = np.hypot(gap_x, gap_y) > distance
    unsure = np.flatnonzero(~close & ~far)
    close[unsure] = shapely.distance(g[left[unsure]], g[right[unsure]]) <= distance
    return left[close], right[close], inner, grown


def _cut_by_water(left, right, inner, grown, water, bridges, bridge_reach_m) -> np.ndarray:
    """Which links cross separating water that no bridge within reach spans."""
    blocked = np.zeros(len(left), dtype=bool)
    if len(water) == 0 or len(left) == 0:
        return blocked
    # a link can cross water only if both its plots lie within max_gap_m of it
    near = np.zeros(len(grown), dtype=bool)
    near[shapely.STRtree(grown).query(water, predicate="intersects")[1]] = True
    cand = np.flatnonzero(near[left] & near[right])
    links = shapely.linestrings(np.stack([inner[left[cand]], inner[right[cand]]], axis=1))
    w_of, link_of = shapely.STRtree(links).query(water, predicate="crosses")
    if len(link_of) and len(bridges):
        # a crossing is spanned when a bridge over that same water lies within reach of the link
        b_of, l_of = shapely.STRtree(links[link_of]).query(bridges, predicate="dwithin",
                                                           distance=bridge_reach_m)
        over = shapely.intersects(bridges[b_of], water[w_of[l_of]])
        spanned = np.zeros(len(link_of), dtype=bool)
        spanned[l_of[over]] = True
        # every water a link crosses must be spanned
        crossing_unspanned = link_of[~spanned]
    else:
        crossing_unspanned = link_of
    blocked[cand[crossing_unspanned]] = True
    return blocked


def _cluster(hs: gpd.GeoDataFrame, *, water, roads, max_gap_m: float, barrier_kinds,
             bridge_reach_m: float, bar) -> pd.Series:
    """hamlet_id per homestead (row-aligned; NA for plots without geometry)."""
    geoms = hs.geometry.to_numpy()
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pos = np.flatnonzero(usable)
    g = geoms[pos]
    n = len(g)
    left, right, inner, grown = _near_pairs(g, max_gap_m)
    village = as_object(hs["village_id"])[pos]
    same = village[left] == village[right]
    left, right = left[same], right[same]
    bar.update()
    bar.set_postfix_str(f"{len(left):,} links")

    w, bridges = _water_and_bridges(water, roads, barrier_kinds=barrier_kinds)
    blocked = _cut_by_water(left, right, inner, grown, w, bridges, bridge_reach_m)
    n_cut = int(blocked.sum())
    left, right = left[~blocked], right[~blocked]
    bar.update()

    graph = sparse.coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    n_comp, comp = csgraph.connected_components(graph, directed=False)
    ids = hs["homestead_id"].to_numpy(dtype=object)[pos]
    # the smallest id of each cluster: rank the ids once, take the least rank per cluster
    by_id = np.argsort(ids, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_id] = np.arange(n)
    least = np.full(n_comp, n, dtype=np.int64)
    np.minimum.at(least, comp, rank)
    smallest = by_id[least]
    names = village[smallest].astype(object) + "-" + ids[smallest].astype(object)
    out = np.full(len(hs), None, dtype=object)
    out[pos] = names[comp]
    bar.update()
    log.info("clustered %d homesteads into %d hamlets (%d links within %.0f m, %d cut by water)",
             n, n_comp, len(left) + n_cut, max_gap_m, n_cut)
    return pd.Series(pd.array(out, dtype="str"), index=hs.index, name="hamlet_id")


def hamlet_ids_from_homesteads(homesteads, *, water=None, roads=None, max_gap_m: float = 40.0,
                               barrier_kinds: tuple[str, ...] | None = ("river", "canal"),
                               bridge_reach_m: float = 15.0, progress: bool = False) -> pd.Series:
    """The hamlet (自然村) of every homestead: homestead_id -> hamlet_id.

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer (homestead_id, village_id, polygons).
    water : geopandas.GeoDataFrame, optional
        The water layer; polygons of ``barrier_kinds`` separate homesteads.
    roads : geopandas.GeoDataFrame, optional
        The roads layer; segments with ``bridge`` true span the water.
    max_gap_m : float
        Largest gap between neighbouring plots of one hamlet, metres.
    barrier_kinds : tuple of str or None
        Water kinds that separate; None: every water polygon.
    bridge_reach_m : float
        Water within this distance of a bridge does not separate.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pandas.Series
        ``hamlet_id`` (str), row-aligned to ``homesteads`` (same index); NA for
        plots without geometry (listed by
        :func:`~landplan.survey.problems.survey_problems`).

    Examples
    --------
    Two rows of houses 20 m apart, split by a canal 15 m wide; a bridge joins
    the banks near the east end, so adding it merges the two hamlets:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, box
    >>> plots = [box(x, y, x + 12, y + 12) for y in (0, 32) for x in (0, 20, 40)]
    >>> hs = gpd.GeoDataFrame({"homestead_id": [f"Z{i}" for i in range(6)],
    ...                        "village_id": "V1"}, geometry=plots, crs="EPSG:4549")
    >>> water = gpd.GeoDataFrame({"kind": ["canal"]}, geometry=[box(-100, 14, 200, 29)],
    ...                          crs="EPSG:4549")
    >>> hamlet_ids_from_homesteads(hs, water=water).tolist()
    ['V1-Z0', 'V1-Z0', 'V1-Z0', 'V1-Z3', 'V1-Z3', 'V1-Z3']
    >>> roads = gpd.GeoDataFrame({"bridge": [True]},
    ...                          geometry=[LineString([(46, 5), (46, 40)])], crs="EPSG:4549")
    >>> hamlet_ids_from_homesteads(hs, water=water, roads=roads).nunique()
    1
    """
    hs = _prepare_geometry_only(homesteads)
    bar = steps_bar(progress, 3, "hamlets")
    try:
        return _cluster(hs, water=water, roads=roads, max_gap_m=max_gap_m,
                        barrier_kinds=barrier_kinds, bridge_reach_m=bridge_reach_m, bar=bar)
    finally:
        bar.close()


def _prepare_geometry_only(homesteads) -> gpd.GeoDataFrame:
    """Homesteads for clustering: status and household are not needed."""
    need_full = all(c in homesteads.columns for c in ("household_id", "status"))
    if need_full:
        return prepare_homesteads(homesteads)
    filler = homesteads.copy()
    if "household_id" not in filler.columns:
        filler["household_id"] = None
    if "status" not in filler.columns:
        filler["status"] = "occupied"
    return prepare_homesteads(filler)


#: Concavity of hamlet footprints: 0 hugs the plots, 1 is the convex hull.
FOOTPRINT_RATIO = 0.3


def _hulls(plots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hull = shapely.concave_hull(plots, ratio=FOOTPRINT_RATIO)
    return hull, ~shapely.contains(hull, plots) | (shapely.get_type_id(hull) != 3)


def _footprints(geoms: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Concave hull of each group's plot corners, widened to cover every plot whole.

    One vectorised :func:`shapely.concave_hull` over all groups; the few hulls that
    cut a corner off a plot are united with their plots.
    """
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    order = np.flatnonzero(ok)[np.argsort(labels[ok], kind="stable")]
    grp = labels[order]
    present, dense = np.unique(grp, return_inverse=True)
    g = geoms[order]
    # a collection, not a MultiPolygon: a repaired sliver may have become a line
    plots = shapely.geometrycollections(shapely.get_parts(g), indices=np.repeat(
        dense, shapely.get_num_geometries(g)))
    hull, short = in_threads(_hulls, plots)
    for i in np.flatnonzero(short):
        parts = shapely.get_parts(plots[i])
        hull[i] = shapely.union_all(np.r_[parts, [hull[i]]] if shapely.get_type_id(hull[i]) == 3
                                    else parts)
    out = np.full(n_groups, None, dtype=object)
    out[present] = hull
    return out


def _hamlets(hs: gpd.GeoDataFrame, hh: pd.DataFrame, hamlet_id: pd.Series, kept: pd.DataFrame,
             v2t: pd.Series) -> gpd.GeoDataFrame:
    """The hamlets table from prepared inputs."""
    has = hamlet_id.notna().to_numpy()
    hid = hamlet_id.to_numpy(dtype=object)[has]
    codes, uniq = pd.factorize(hid, sort=True)
    n = len(uniq)
    vil = as_object(hs["village_id"])[has][group_first(codes, n)]
    area = np.bincount(codes, weights=hs["area_m2"].to_numpy()[has], minlength=n)
    count = np.bincount(codes, minlength=n)
    # each household once: in the hamlet of its kept plot
    kept_mask = kept["kept"].to_numpy(dtype=bool)[has]
    owner_codes = codes[kept_mask]
    households = np.bincount(owner_codes, minlength=n)
    willing = hh["willing_to_relocate"].fillna(False).to_numpy(dtype=bool)
    owner_pos = kept["household_pos"].to_numpy()[has][kept_mask]
    w = willing[owner_pos]
    households_willing = np.bincount(owner_codes[w], minlength=n)
    geoms = _footprints(valid_geometries(hs.geometry.to_numpy()[has]), codes, n)
    town = lookup(vil, v2t)
    return gpd.GeoDataFrame({
        "hamlet_id": pd.array(np.asarray(uniq, dtype=object), dtype="str"),
        "town_id": pd.array(town, dtype="str"),
        "village_id": pd.array(vil, dtype="str"),
        "households": households.astype("int64"),
        "households_willing": households_willing.astype("int64"),
        "homestead_area_m2": area.astype(float),
        "n_homesteads": count.astype("int64"),
        "retained": np.zeros(n, dtype=bool),
    }, geometry=gpd.GeoSeries(geoms, crs=WORKING_CRS))


def hamlets_from_homesteads(homesteads, households=None, *, water=None, roads=None,
                            villages=None, max_gap_m: float = 40.0,
                            barrier_kinds: tuple[str, ...] | None = ("river", "canal"),
                            bridge_reach_m: float = 15.0, keep_rule: str | None = None,
                            scenario: Scenario | str | None = None,
                            hamlet_ids: pd.Series | None = None,
                            progress: bool = False) -> gpd.GeoDataFrame:
    """Hamlets (自然村) with their households, homestead area and footprint.

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer.
    households : pandas.DataFrame, optional
        The households layer. A household is counted once, in the hamlet of
        the plot it keeps (see :mod:`landplan.survey.multiple`).
    water, roads : geopandas.GeoDataFrame, optional
        Barriers and bridges; see :func:`hamlet_ids_from_homesteads`.
    villages : geopandas.GeoDataFrame, optional
        Gives each hamlet its town_id (NA without it).
    max_gap_m, barrier_kinds, bridge_reach_m
        The clustering; see :func:`hamlet_ids_from_homesteads`.
    keep_rule : str, optional
        Which plot a household with several keeps (scenario default).
    scenario : Scenario, str or None
        Default: the 2008 Nanhu plan.
    hamlet_ids : pandas.Series, optional
        A hamlet per homestead already computed (row-aligned); skips clustering.
    progress : bool
        Show a progress bar.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per hamlet, sorted by hamlet_id: hamlet_id, town_id,
        village_id, households (distinct households whose kept plot lies in
        it), households_willing (of those, ``willing_to_relocate`` true),
        homestead_area_m2, n_homesteads, retained (False), and the footprint
        polygon as geometry.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2", "Z3"], "household_id": ["H1", "H1", "H2"],
    ...      "village_id": "V1", "status": ["vacant", "occupied", "occupied"]},
    ...     geometry=[box(0, 0, 10, 10), box(30, 0, 40, 10), box(500, 0, 510, 10)],
    ...     crs="EPSG:4549")
    >>> hh = pd.DataFrame({"household_id": ["H1", "H2"], "village_id": "V1",
    ...                    "residence": "resident", "willing_to_relocate": [True, False]})
    >>> h = hamlets_from_homesteads(hs, hh)
    >>> h[["hamlet_id", "households", "households_willing", "n_homesteads",
    ...    "homestead_area_m2"]].to_numpy().tolist()
    [['V1-Z1', 1, 1, 2, 200.0], ['V1-Z3', 1, 0, 1, 100.0]]
    >>> bool(h.geometry.iloc[0].contains(hs.geometry.iloc[0]))
    True
    """
    sc = resolve_scenario(scenario)
    hs = prepare_homesteads(homesteads)
    hh = prepare_households(households)
    bar = steps_bar(progress, 4 if hamlet_ids is None else 1, "hamlets")
    try:
        if hamlet_ids is None:
            hamlet_ids = _cluster(hs, water=water, roads=roads, max_gap_m=max_gap_m,
                                  barrier_kinds=barrier_kinds, bridge_reach_m=bridge_reach_m,
                                  bar=bar)
        elif not hamlet_ids.index.equals(hs.index):
            raise ValueError("hamlet_ids must be row-aligned to homesteads (the same index)")
        kept = _kept(hs, hh, keep_rule or sc.homestead["keep_rule"])
        out = _hamlets(hs, hh, hamlet_ids, kept, village_towns(villages))
        bar.update()
    finally:
        bar.close()
    return out
