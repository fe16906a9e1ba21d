"""Attaching hamlets, sites, town seats and services to the road graph.

Each point (polygons are represented by :func:`shapely.point_on_surface`,
a point inside them) is joined to the nearest point of the nearest road by a
straight *link*, whose length counts in every distance. When the ``water``
layer is given, a link may not cross water: the point is joined to the
nearest road it can reach on land, and a point that can reach no road
without crossing water (an island hamlet, a hamlet across the canal from
every road) is joined to its nearest road anyway and flagged
``link_crosses_water`` -- reachable only by boat. Nothing is dropped: far,
isolated and wet points are flagged, and :meth:`DistanceMatrix.unreachable`
says which origins reach no destination and why.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..errors import CRSError, Problem, ValidationError
from .graph import _component_labels, edges_from_graph

__all__ = ["ATTACH_COLUMNS_ZH", "attach_points", "destinations_from_project", "town_seats"]

log = logging.getLogger(__name__)

#: Chinese headings of the columns of :func:`attach_points`.
ATTACH_COLUMNS_ZH = {
    "edge_id": "路段编号", "road_id": "道路编号", "road_class": "道路等级",
    "offset_m": "路段起点距离(米)", "link_m": "接入距离(米)", "component": "路网连通分量",
    "on_main_network": "接入主路网", "far_from_road": "远离道路", "link_crosses_water": "需跨水接入",
    "in_water": "位于水域",
}


def _check_crs(gdf, name: str, crs) -> None:
    """Refuse a layer without a CRS or in another CRS than the road graph, naming both."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError([Problem(name, "not_a_geodataframe", [],
                                       f"{name} must be a GeoDataFrame, got {type(gdf).__name__}",
                                       "give a GeoDataFrame of points or polygons")])
    want = CRS.from_user_input(crs).to_string()
    if gdf.crs is None:
        raise CRSError([Problem(name, "missing_crs", [], f"the {name} layer has no CRS",
                                f"set it (gdf.set_crs(...)) and reproject it to {want}")])
    if not CRS.from_user_input(gdf.crs).equals(CRS.from_user_input(crs)):
        raise CRSError([Problem(name, "crs_mismatch", [],
                                f"{name} are in {CRS.from_user_input(gdf.crs).to_string()} but "
                                f"the road graph is in {want}",
                                f"reproject them: {name}.to_crs({want!r})")])


def _check_points(points, name: str, id_column: str, crs) -> None:
    problems = []
    if not isinstance(points, gpd.GeoDataFrame):
        raise ValidationError([Problem(name, "not_a_geodataframe", [],
                                       f"{name} must be a GeoDataFrame, got {type(points).__name__}",
                                       "give a GeoDataFrame of points or polygons")])
    if id_column not in points.columns:
        raise ValidationError([Problem(name, "missing_column", [],
                                       f"{name} has no id column {id_column!r} "
                                       f"(it has: {', '.join(map(str, points.columns))})",
                                       f"pass the id column's name, e.g. {name}_id=...")])
    _check_crs(points, name, crs)
    ids = points[id_column]
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        problems.append(Problem(name, "duplicate_id", sorted(set(ids[dup].astype(str))),
                                f"{id_column} is not unique", f"give each row its own {id_column}"))
    if ids.isna().any():
        problems.append(Problem(name, "missing_value", [f"row {i}" for i in np.flatnonzero(ids.isna())],
                                f"{id_column} is empty in these rows", f"fill in {id_column}"))
    geom = points.geometry.values
    bad = shapely.is_missing(geom) | shapely.is_empty(geom)
    if bad.any():
        problems.append(Problem(name, "empty_geometry", ids[bad].astype(str).tolist(),
                                "these features have no geometry", "draw them or leave them out"))
    if problems:
        raise ValidationError(problems)


def attach_points(graph: nx.MultiGraph, points: gpd.GeoDataFrame, *, id_column: str,
                  water: gpd.GeoDataFrame | None = None, max_link_m: float = 500.0,
                  search_m: float = 1500.0, name: str = "points") -> gpd.GeoDataFrame:
    """Join each point to the nearest road point, with the length of the link.

    Parameters
    ----------
    graph : networkx.MultiGraph
        From :func:`~landplan.network.graph_from_roads`.
    points : geopandas.GeoDataFrame
        Hamlets, sites, town seats or services: points or polygons in the
        graph's CRS. Not modified.
    id_column : str, keyword-only
        Their id column.
    water : geopandas.GeoDataFrame, optional
        Water polygons; links may not cross them (see the module notes).
    max_link_m : float
        Links longer than this are flagged ``far_from_road`` (still used).
    search_m : float
        How far beyond the nearest road to look for a road reachable without
        crossing water.
    name : str
        The layer's name in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        Row-aligned with ``points`` (same index), with ``id_column``,
        ``edge_id``, ``road_id``, ``road_class``, ``offset_m`` (along the edge
        from its ``from_node``), ``link_m``, ``component`` (0 is the main
        network), ``on_main_network``, ``far_from_road``,
        ``link_crosses_water``, ``in_water``, and the link as its geometry.

    Raises
    ------
    landplan.errors.CRSError
        When the points have no CRS or another CRS than the graph (both named).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from landplan.network import graph_from_roads
    >>> roads = gpd.GeoDataFrame({"road_id": ["A"], "road_class": ["town"]},
    ...                          geometry=[LineString([(0, 0), (1000, 0)])], crs="EPSG:4549")
    >>> canal = gpd.GeoDataFrame({"water_id": ["W"], "kind": ["canal"]},
    ...                          geometry=[box(-50, 100, 1050, 130)], crs="EPSG:4549")
    >>> hamlets = gpd.GeoDataFrame({"hamlet_id": ["H1", "H2"]},
    ...                            geometry=[Point(200, 60), Point(300, 300)], crs="EPSG:4549")
    >>> att = attach_points(graph_from_roads(roads), hamlets, id_column="hamlet_id", water=canal)
    >>> att[["hamlet_id", "offset_m", "link_m", "link_crosses_water"]]
      hamlet_id  offset_m  link_m  link_crosses_water
    0        H1     200.0    60.0               False
    1        H2     300.0   300.0                True
    """
    crs = graph.graph.get("crs")
    _check_points(points, name, id_column, crs)
    edges = edges_from_graph(graph)
    if not len(edges):
        raise ValidationError([Problem("roads", "empty_network", [], "the road graph has no edges",
                                       "give a roads layer with at least one line")])
    egeom = edges.geometry.values
    tree = shapely.STRtree(egeom)
    geom = points.geometry.values
    is_point = np.isin(shapely.get_type_id(geom), [0])
    anchor = np.where(is_point, geom, shapely.point_on_surface(geom))
    n = len(points)
    near_p, near_e = tree.query_nearest(anchor, all_matches=False, return_distance=False)
    best = np.empty(n, dtype=np.int64)
    best[near_p] = near_e
    crosses = np.zeros(n, dtype=bool)
    in_water = np.zeros(n, dtype=bool)
    if water is not None and len(water):
        _check_crs(water, "water", crs)
        wgeom = water.geometry.values
        wtree = shapely.STRtree(wgeom)
        wi, _ = wtree.query(anchor, predicate="intersects")
        in_water[np.unique(wi)] = True
        crosses = _links_cross(anchor, egeom[best], wtree)
        # retry those whose nearest road is across water: nearer candidates first, in rounds
        retry = np.flatnonzero(crosses & ~in_water)
        if len(retry):
            d0 = shapely.distance(anchor[retry], egeom[best[retry]])
            pi, ej = tree.query(anchor[retry], predicate="dwithin", distance=d0 + search_m)
            d = shapely.distance(anchor[retry][pi], egeom[ej])
            order = np.lexsort((ej, d, pi))
            pi, ej = pi[order], ej[order]
            rank = np.arange(len(pi)) - np.searchsorted(pi, pi)
            found = np.zeros(len(retry), dtype=bool)
            for lo, hi in ((0, 8), (8, 64), (64, np.inf)):
                sel = (rank >= lo) & (rank < hi) & ~found[pi]
                if not sel.any():
                    break
                k = np.flatnonzero(sel)
                ok = ~_links_cross(anchor[retry][pi[k]], egeom[ej[k]], wtree)
                k = k[ok]
                # the first (nearest) non-crossing candidate of each point
                pts, first = np.unique(pi[k], return_index=True)
                best[retry[pts]] = ej[k[first]]
                crosses[retry[pts]] = False
                found[pts] = True
    eg = egeom[best]
    offset = shapely.line_locate_point(eg, anchor)
    on_road = shapely.line_interpolate_point(eg, offset)
    link = shapely.linestrings(np.stack([shapely.get_coordinates(anchor),
                                         shapely.get_coordinates(on_road)], axis=1))
    link_m = shapely.length(link)
    label = _component_labels(graph)
    from_node = edges["from_node"].to_numpy()[best]
    comp = np.array([label[int(u)] for u in from_node], dtype=np.int64)
    out = gpd.GeoDataFrame({
        id_column: points[id_column].to_numpy(),
        "edge_id": edges.index.to_numpy()[best],
        "road_id": edges["road_id"].to_numpy()[best],
        "road_class": edges["road_class"].to_numpy()[best],
        "offset_m": offset, "link_m": link_m, "component": comp,
        "on_main_network": comp == 0, "far_from_road": link_m > max_link_m,
        "link_crosses_water": crosses, "in_water": in_water,
    }, geometry=gpd.GeoSeries(link, crs=crs), index=points.index, crs=crs)
    for flag, what in (("far_from_road", f"more than {max_link_m:g} m from any road"),
                       ("link_crosses_water", "reachable from the nearest road only across water"),
                       ("in_water", "inside a water body"),
                       ):
        if out[flag].any():
            log.warning("%s: %d %s: %s", name, int(out[flag].sum()), what,
                        ", ".join(map(str, out.loc[out[flag], id_column][:10])))
    off_main = ~out["on_main_network"]
    if off_main.any():
        log.warning("%s: %d attached to a road not connected to the main network: %s", name,
                    int(off_main.sum()), ", ".join(map(str, out.loc[off_main, id_column][:10])))
    return out


def _links_cross(anchor, lines, wtree) -> np.ndarray:
    """Whether the straight link from each anchor to its line crosses water.

    The link is shortened by 0.5 m at both ends first, so a link that only
    starts or ends on a bank does not count; the test is a spatial-index
    predicate, never a polygon intersection.
    """
    a = shapely.get_coordinates(anchor)
    b = shapely.get_coordinates(
        shapely.line_interpolate_point(lines, shapely.line_locate_point(lines, anchor)))
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    out = np.zeros(len(a), dtype=bool)
    long = length > 1.0
    if not long.any():
        return out
    u = d[long] / length[long, None]
    links = shapely.linestrings(np.stack([a[long] + 0.5 * u, b[long] - 0.5 * u], axis=1))
    li, _ = wtree.query(links, predicate="intersects")
    out[np.flatnonzero(long)[np.unique(li)]] = True
    return out


def town_seats(towns: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Town seats (镇政府驻地) as points, from the towns layer's ``seat_x`` / ``seat_y``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``destination_id`` (``"seat:" + town_id``), ``town_id``, ``kind``
        (``"town_seat"``), ``name`` and the seat as a point.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [50.0],
    ...                           "seat_y": [60.0]}, geometry=[box(0, 0, 100, 100)], crs="EPSG:4549")
    >>> town_seats(towns)[["destination_id", "kind", "name"]]
      destination_id       kind name
    0        seat:T1  town_seat  新丰镇
    """
    missing = towns["seat_x"].isna() | towns["seat_y"].isna()
    if missing.any():
        raise ValidationError([Problem("towns", "missing_value",
                                       towns.loc[missing, "town_id"].astype(str).tolist(),
                                       "these towns have no seat coordinates (seat_x, seat_y)",
                                       "fill in the town seat (镇政府驻地) coordinates")])
    return gpd.GeoDataFrame({
        "destination_id": "seat:" + towns["town_id"].astype(str),
        "town_id": towns["town_id"].astype(str).to_numpy(), "kind": "town_seat",
        "name": towns["name"].to_numpy()},
        geometry=shapely.points(towns["seat_x"].to_numpy(float), towns["seat_y"].to_numpy(float)),
        index=towns.index, crs=towns.crs)


def destinations_from_project(project, *, sites: bool = True, seats: bool = True,
                              facility_kinds: tuple[str, ...] | None = ("school", "clinic")
                              ) -> gpd.GeoDataFrame:
    """One destinations layer: sites, town seats and services of a project.

    Sites keep their ``site_id`` as ``destination_id`` (what the consolidation
    optimiser expects), town seats are ``"seat:" + town_id`` and services keep
    their ``facility_id``.

    Parameters
    ----------
    project : landplan.project.Project
    sites, seats : bool
        Include the sites layer / the town seats.
    facility_kinds : tuple of str, optional
        Kinds of facilities to include (None: none).

    Returns
    -------
    geopandas.GeoDataFrame
        ``destination_id``, ``kind`` (the site kind, ``town_seat`` or the
        facility kind), ``town_id``, and geometry.

    Raises
    ------
    landplan.errors.ValidationError
        When two destinations share an id.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> from landplan.project import Project
    >>> crs = "EPSG:4549"
    >>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [500.0],
    ...                           "seat_y": [500.0]}, geometry=[box(0, 0, 1000, 1000)], crs=crs)
    >>> sites = gpd.GeoDataFrame({"site_id": ["S1"], "town_id": ["T1"], "kind": ["new_community"],
    ...                           "capacity_households": [60], "fixed_cost": [0.0]},
    ...                          geometry=[box(100, 100, 200, 200)], crs=crs)
    >>> facilities = gpd.GeoDataFrame({"facility_id": ["F1", "F2"], "kind": ["school", "market"],
    ...                                "town_id": ["T1", "T1"]},
    ...                               geometry=[Point(300, 300), Point(400, 400)], crs=crs)
    >>> p = Project({"towns": towns, "sites": sites, "facilities": facilities}, validate=False)
    >>> destinations_from_project(p)[["destination_id", "kind", "town_id"]]
      destination_id           kind town_id
    0             S1  new_community      T1
    1        seat:T1      town_seat      T1
    2             F1         school      T1
    """
    parts = []
    if sites and project.get("sites") is not None:
        s = project["sites"]
        parts.append(gpd.GeoDataFrame({"destination_id": s["site_id"].astype(str).to_numpy(),
                                       "kind": s["kind"].astype(str).to_numpy(),
                                       "town_id": s["town_id"].astype(str).to_numpy()},
                                      geometry=s.geometry.values, crs=s.crs))
    if seats:
        t = town_seats(project["towns"])
        parts.append(t[["destination_id", "kind", "town_id", "geometry"]].reset_index(drop=True))
    if facility_kinds and project.get("facilities") is not None:
        f = project["facilities"]
        f = f[f["kind"].isin(facility_kinds)]
        town = f["town_id"] if "town_id" in f.columns else pd.Series(pd.NA, index=f.index)
        parts.append(gpd.GeoDataFrame({"destination_id": f["facility_id"].astype(str).to_numpy(),
                                       "kind": f["kind"].astype(str).to_numpy(),
                                       "town_id": town.astype("str").to_numpy()},
                                      geometry=f.geometry.values, crs=f.crs))
    if not parts:
        raise ValidationError([Problem("sites", "no_destinations", [],
                                       "the project has no sites, towns or facilities to reach",
                                       "add a sites layer or facilities")])
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry",
                           crs=parts[0].crs)
    dup = out["destination_id"].duplicated(keep=False)
    if dup.any():
        raise ValidationError([Problem("sites", "duplicate_id",
                                       sorted(set(out.loc[dup, "destination_id"])),
                                       "these ids are used by more than one destination "
                                       "(a site and a facility share an id)",
                                       "give sites and facilities distinct ids")])
    return out
