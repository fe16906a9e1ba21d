"""The road graph: road lines -> a networkx graph, with its components and gaps.

How lines become a graph (the topology rule)
--------------------------------------------
A road layer drawn by hand has ends that miss each other by a metre, roads
digitised twice, and roads that cross a canal or another road on a bridge
without meeting it. :func:`graph_from_roads` therefore joins lines only
where the drawing says they meet:

1. every line end is a node; ends within ``snap_m`` of each other, or of a
   vertex of another line, are merged into one node;
2. a vertex shared by two lines (within 1 cm) is a node -- crossings drawn
   with a common vertex are junctions;
3. a line end within ``snap_m`` of another line's interior (a T-junction
   drawn without a vertex on the through road) splits that road there;
4. two lines that cross *without* a shared vertex are **not** joined: in a
   canal plain such a crossing is an overpass or a bridge over a road, and
   joining it would invent a junction.

Edges are the pieces of lines between nodes, with their geometry, ``length``
in metres, ``minutes`` at the speed of their road class, ``road_id``,
``road_class`` and ``bridge``. A bridge is an ordinary edge flagged
``bridge=True``: water is crossed only where a road (bridge) crosses it.
Edges that repeat another edge between the same nodes (same course within
``snap_m``) are dropped and listed in ``graph.graph["duplicates"]``;
parallel edges that take a different course are kept (the graph is a
:class:`networkx.MultiGraph`).

:func:`road_components` lists the connected pieces of the network and
:func:`road_gaps` the dead ends that stop short of another road.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from .._validate import validate_layer
from ..errors import CRSError, Problem, ValidationError
from ..units import WORKING_CRS

__all__ = [
    "SPEEDS_KMH",
    "edges_from_graph",
    "graph_from_roads",
    "nodes_from_graph",
    "road_components",
    "road_gaps",
]

log = logging.getLogger(__name__)

#: Travel speed by road class, km/h (assumption: rural Jiaxing around 2008).
SPEEDS_KMH: dict[str, float] = {"highway": 80.0, "county": 60.0, "town": 40.0,
                                "village": 30.0, "farm": 15.0}

#: Vertices of two lines closer than this (metres) are one shared vertex.
_SHARED_VERTEX_M = 0.01


def graph_from_roads(roads: gpd.GeoDataFrame, *, snap_m: float = 3.0,
                     speeds_kmh: Mapping[str, float] | None = None) -> nx.MultiGraph:
    """Build the road graph from road lines.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        The ``roads`` layer (``road_id``, ``road_class``, optional ``bridge``),
        LineStrings or MultiLineStrings in a metric CRS (reprojected to the
        working CRS when given in an accepted CRS). Not modified.
    snap_m : float, keyword-only
        Line ends closer than this (metres) to another end or to another line
        are joined (see the module notes for the full rule). The default, 3 m,
        closes digitising slips of a couple of metres and stays under a lane's
        width; :func:`road_gaps` lists what is left.
    speeds_kmh : mapping, optional
        Road class -> speed in km/h, overriding :data:`SPEEDS_KMH`.

    Returns
    -------
    networkx.MultiGraph
        Nodes are integers with ``x`` and ``y``; edges carry ``edge_id``,
        ``from_node`` and ``to_node`` (the direction of ``geometry``),
        ``geometry``, ``length`` (m), ``minutes``, ``road_id``, ``road_class``
        and ``bridge``. ``graph.graph`` holds ``crs``, ``snap_m``,
        ``speeds_kmh`` and ``duplicates`` (a DataFrame of the edges dropped as
        repeats: ``road_id``, ``duplicate_of``, ``length_m``).

    Raises
    ------
    landplan.errors.ValidationError
        When the roads layer breaks the data contract (missing ids or classes,
        empty or non-line geometries, no CRS), naming the rows.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> roads = gpd.GeoDataFrame(
    ...     {"road_id": ["A", "B", "C"], "road_class": ["county", "village", "village"]},
    ...     geometry=[LineString([(0, 0), (1000, 0)]),
    ...               LineString([(500, 1), (500, 400)]),      # T-junction, 1 m short
    ...               LineString([(800, -300), (800, 300)])],  # overpass: no shared vertex
    ...     crs="EPSG:4549")
    >>> g = graph_from_roads(roads)
    >>> g.number_of_nodes(), g.number_of_edges()
    (6, 4)
    >>> road_components(g)[["n_edges", "length_m", "is_main"]]
               n_edges  length_m  is_main
    component
    0                3    1400.0     True
    1                1     600.0    False
    """
    roads = _checked_roads(roads)
    speeds = dict(SPEEDS_KMH)
    speeds.update(speeds_kmh or {})
    unknown = sorted(set(roads["road_class"]) - set(speeds))
    if unknown:
        raise ValidationError([Problem("roads", "unknown_speed", unknown,
                                       f"no speed for road classes {unknown}",
                                       "pass speeds_kmh={'CLASS': km_per_hour, ...}")])
    road_ids = roads["road_id"].astype(str).to_numpy()
    classes = roads["road_class"].astype(str).to_numpy()
    if "bridge" in roads.columns:
        bridges = roads["bridge"].fillna(False).astype(bool).to_numpy()
    else:
        bridges = np.zeros(len(roads), dtype=bool)

    parts, part_road = shapely.get_parts(roads.geometry.values, return_index=True)
    coords, vpart = shapely.get_coordinates(parts, return_index=True)
    # drop repeated consecutive vertices (zero-length segments)
    if len(coords):
        same = np.r_[False, (vpart[1:] == vpart[:-1])
                     & np.all(np.abs(np.diff(coords, axis=0)) < 1e-9, axis=1)]
        coords, vpart = coords[~same], vpart[~same]
    counts = np.bincount(vpart, minlength=len(parts))
    short = counts < 2
    if short.any():  # a line that is a single point after cleaning: nothing to route on
        log.warning("roads: %d line part(s) of zero length ignored (roads %s)", int(short.sum()),
                    ", ".join(sorted(set(road_ids[part_road[short]]))[:10]))
        keep_v = ~short[vpart]
        coords, vpart = coords[keep_v], vpart[keep_v]
        counts = np.bincount(vpart, minlength=len(parts))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    pos = np.arange(len(coords)) - starts[vpart]
    is_end = (pos == 0) | (pos == counts[vpart] - 1)

    # 1 + 2: cluster line ends with nearby vertices, and coincident interior vertices
    n = len(coords)
    tree = cKDTree(coords)
    pairs = tree.query_pairs(max(snap_m, _SHARED_VERTEX_M), output_type="ndarray")
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        d = np.hypot(*(coords[a] - coords[b]).T)
        other = vpart[a] != vpart[b]
        ends = is_end[a] | is_end[b]
        ring = (~other) & is_end[a] & is_end[b]
        keep = (other & ((ends & (d <= snap_m)) | (d <= _SHARED_VERTEX_M))) | (ring & (d <= snap_m))
        a, b = a[keep], b[keep]
    else:
        a = b = np.zeros(0, dtype=int)
    adj = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, cluster = csgraph.connected_components(adj, directed=False)
    size = np.bincount(cluster)
    is_node_vertex = is_end | (size[cluster] > 1)

    # node coordinates: the interior vertex of a cluster when it has one, else the mean of the ends
    w = np.where(is_end, 1.0, 1e6)
    cx = np.bincount(cluster, weights=coords[:, 0] * w) / np.bincount(cluster, weights=w)
    cy = np.bincount(cluster, weights=coords[:, 1] * w) / np.bincount(cluster, weights=w)

    # 3: T-junctions -- an end within snap_m of another line's interior splits that line
    end_idx = np.flatnonzero(is_end)
    inserts: dict[int, list[tuple[float, int]]] = {}
    if len(end_idx) and snap_m > 0:
        ptree = shapely.STRtree(parts)
        pts = shapely.points(coords[end_idx])
        ei, pj = ptree.query(pts, predicate="dwithin", distance=snap_m)
        vi = end_idx[ei]
        ok = vpart[vi] != pj
        vi, pj = vi[ok], pj[ok]
        if len(vi):
            joined = set(zip(cluster[is_node_vertex].tolist(), vpart[is_node_vertex].tolist()))
            fresh = np.array([(c, p) not in joined for c, p in zip(cluster[vi].tolist(), pj.tolist())],
                             dtype=bool)
            vi, pj = vi[fresh], pj[fresh]
            # one split per (line, cluster)
            seen = set()
            locs = shapely.line_locate_point(parts[pj], shapely.points(coords[vi]))
            on_line = shapely.get_coordinates(shapely.line_interpolate_point(parts[pj], locs))
            has_interior = np.zeros(len(size), dtype=bool)
            has_interior[cluster[is_node_vertex & ~is_end]] = True
            for v, p, loc, (px, py) in zip(vi.tolist(), pj.tolist(), locs.tolist(), on_line):
                cl = int(cluster[v])
                if (p, cl) in seen:
                    continue
                seen.add((p, cl))
                if not has_interior[cl]:
                    # the dead end moves onto the through road, which keeps its course
                    cx[cl], cy[cl] = px, py
                    has_interior[cl] = True
                inserts.setdefault(p, []).append((loc, cl))

    # split every line part at its node vertices (and T-junction points) into edges
    node_cluster = np.unique(cluster[is_node_vertex])
    node_of_cluster = np.full(len(size), -1, dtype=np.int64)
    node_of_cluster[node_cluster] = np.arange(len(node_cluster))
    edge_coords: list[np.ndarray] = []
    edge_u: list[int] = []
    edge_v: list[int] = []
    edge_part: list[int] = []
    vnode = np.where(is_node_vertex, node_of_cluster[cluster], -1)
    for p in range(len(parts)):
        if counts[p] < 2:
            continue
        s, e = starts[p], starts[p] + counts[p]
        xy = coords[s:e].copy()
        nodes = vnode[s:e].copy()
        # snapped node vertices take the node's coordinate, so edges meet exactly
        m = nodes >= 0
        xy[m, 0] = cx[node_cluster[nodes[m]]]
        xy[m, 1] = cy[node_cluster[nodes[m]]]
        if p in inserts:
            along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(coords[s:e], axis=0).T))]
            for loc, cl in sorted(inserts[p]):
                k = int(np.searchsorted(along, loc))
                k = min(max(k, 1), len(along) - 1)
                xy = np.insert(xy, k, [cx[cl], cy[cl]], axis=0)
                nodes = np.insert(nodes, k, node_of_cluster[cl])
                along = np.insert(along, k, loc)
        cut = np.flatnonzero(nodes >= 0)
        for i0, i1 in itertools.pairwise(cut):
            edge_coords.append(xy[i0:i1 + 1])
            edge_u.append(int(nodes[i0]))
            edge_v.append(int(nodes[i1]))
            edge_part.append(p)
    if edge_coords:
        lens = np.array([len(c) for c in edge_coords])
        geoms = shapely.linestrings(np.concatenate(edge_coords), indices=np.repeat(np.arange(len(lens)),
                                                                                    lens))
    else:
        geoms = np.array([], dtype=object)
    eu, ev = np.array(edge_u, dtype=np.int64), np.array(edge_v, dtype=np.int64)
    epart = np.array(edge_part, dtype=np.int64)
    length = shapely.length(geoms)
    eroad = part_road[epart] if len(epart) else np.zeros(0, dtype=int)

    # duplicated edges: same end nodes and the same course within snap_m
    dup = np.zeros(len(eu), dtype=bool)
    dup_of = np.full(len(eu), -1)
    lo, hi = np.minimum(eu, ev), np.maximum(eu, ev)
    order = np.lexsort((np.arange(len(eu)), hi, lo))
    if len(order) > 1:
        same_pair = (lo[order][1:] == lo[order][:-1]) & (hi[order][1:] == hi[order][:-1])
        for k in np.flatnonzero(same_pair):
            # compare the later edge with every earlier kept edge of the same pair
            j = order[k + 1]
            k0 = k
            while k0 >= 0 and lo[order][k0] == lo[j] and hi[order][k0] == hi[j]:
                i = order[k0]
                if not dup[i] and abs(length[i] - length[j]) <= snap_m and \
                        shapely.hausdorff_distance(geoms[i], geoms[j]) <= snap_m:
                    dup[j], dup_of[j] = True, i
                    break
                k0 -= 1
    duplicates = pd.DataFrame({
        "road_id": road_ids[eroad[dup]], "duplicate_of": road_ids[eroad[dup_of[dup]]],
        "length_m": length[dup]})
    if dup.any():
        log.warning("roads: %d duplicated edge(s) dropped (roads %s)", int(dup.sum()),
                    ", ".join(sorted(set(duplicates["road_id"]))[:10]))

    g = nx.MultiGraph(crs=CRS(WORKING_CRS), snap_m=float(snap_m), speeds_kmh=speeds,
                      duplicates=duplicates)
    g.add_nodes_from((i, {"x": float(cx[c]), "y": float(cy[c])}) for i, c in enumerate(node_cluster))
    keep = np.flatnonzero(~dup)
    speed_mpm = np.array([speeds[c] for c in classes]) * 1000.0 / 60.0 if len(classes) else np.zeros(0)
    g.add_edges_from(
        (int(eu[i]), int(ev[i]), {
            "edge_id": int(k), "from_node": int(eu[i]), "to_node": int(ev[i]),
            "geometry": geoms[i], "length": float(length[i]),
            "minutes": float(length[i] / speed_mpm[eroad[i]]),
            "road_id": road_ids[eroad[i]], "road_class": classes[eroad[i]],
            "bridge": bool(bridges[eroad[i]])})
        for k, i in enumerate(keep))
    log.info("built road graph with %s nodes and %s edges from %s roads (%d duplicate edges dropped)",
             f"{g.number_of_nodes():,}", f"{g.number_of_edges():,}", f"{len(roads):,}", int(dup.sum()))
    return g


def _checked_roads(roads) -> gpd.GeoDataFrame:
    if not isinstance(roads, gpd.GeoDataFrame):
        raise ValidationError([Problem("roads", "not_a_geodataframe", [],
                                       f"roads must be a GeoDataFrame of lines, got {type(roads).__name__}",
                                       "read the roads with geopandas or take project['roads']")])
    out, problems = validate_layer("roads", roads)
    if problems:
        cls = CRSError if all(p.rule in ("missing_crs", "legacy_datum") for p in problems) \
            else ValidationError
        raise cls(problems)
    return out


def edges_from_graph(graph: nx.MultiGraph) -> gpd.GeoDataFrame:
    """The graph's edges as a GeoDataFrame, ordered by ``edge_id``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> roads = gpd.GeoDataFrame({"road_id": ["A"], "road_class": ["town"]},
    ...                          geometry=[LineString([(0, 0), (400, 0)])], crs="EPSG:4549")
    >>> edges_from_graph(graph_from_roads(roads))[["road_id", "length", "minutes"]]
            road_id  length  minutes
    edge_id
    0             A   400.0      0.6
    """
    cols = ["edge_id", "from_node", "to_node", "road_id", "road_class", "bridge", "length", "minutes"]
    rows = [d for _, _, d in graph.edges(data=True)]
    df = pd.DataFrame([{c: d[c] for c in cols} for d in rows], columns=cols)
    geom = [d["geometry"] for d in rows]
    gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=graph.graph.get("crs")),
                           crs=graph.graph.get("crs"))
    return gdf.sort_values("edge_id").set_index("edge_id", drop=True)


def nodes_from_graph(graph: nx.MultiGraph) -> gpd.GeoDataFrame:
    """The graph's nodes as a GeoDataFrame of points with their degree.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> roads = gpd.GeoDataFrame({"road_id": ["A"], "road_class": ["town"]},
    ...                          geometry=[LineString([(0, 0), (400, 0)])], crs="EPSG:4549")
    >>> nodes_from_graph(graph_from_roads(roads))["degree"].tolist()
    [1, 1]
    """
    ids = np.array(list(graph.nodes), dtype=np.int64)
    x = np.array([graph.nodes[i]["x"] for i in ids], dtype=float)
    y = np.array([graph.nodes[i]["y"] for i in ids], dtype=float)
    deg = np.array([graph.degree(i) for i in ids], dtype=np.int64)
    return gpd.GeoDataFrame({"node": ids, "degree": deg}, geometry=shapely.points(x, y),
                            crs=graph.graph.get("crs")).set_index("node")


def _component_labels(graph: nx.MultiGraph) -> dict[int, int]:
    """node -> component number, 0 the longest component (by road length)."""
    nodes = list(graph.nodes)
    if not nodes:
        return {}
    pos = {n: i for i, n in enumerate(nodes)}
    uv = np.array([(pos[u], pos[v], d["length"]) for u, v, d in graph.edges(data=True)],
                  dtype=float).reshape(-1, 3)
    n = len(nodes)
    adj = sparse.coo_matrix((np.ones(len(uv)), (uv[:, 0].astype(int), uv[:, 1].astype(int))),
                            shape=(n, n))
    k, lab = csgraph.connected_components(adj, directed=False)
    length = np.bincount(lab[uv[:, 0].astype(int)], weights=uv[:, 2], minlength=k)
    first = np.full(k, n)
    np.minimum.at(first, lab, np.arange(n))
    rank = np.empty(k, dtype=np.int64)
    rank[np.lexsort((first, -length))] = np.arange(k)
    return dict(zip(nodes, rank[lab].tolist()))


def road_components(graph: nx.MultiGraph, *, attachments: pd.DataFrame | None = None,
                    id_column: str | None = None) -> pd.DataFrame:
    """The connected pieces of the road network, longest first.

    A hamlet attached to any component but the main one (component 0) can
    reach the rest of the district only off the road network (by boat): it
    is listed here and flagged by :func:`~landplan.network.attach_points`, not
    dropped.

    Parameters
    ----------
    graph : networkx.MultiGraph
        From :func:`graph_from_roads`.
    attachments : DataFrame, optional
        The output of :func:`~landplan.network.attach_points`; adds the number
        and ids of the points attached to each component.
    id_column : str, optional
        The id column of ``attachments`` (default: its first column).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``component``: ``n_nodes``, ``n_edges``, ``length_m``,
        ``road_ids`` (sorted, comma-separated), ``is_main``, and with
        attachments ``n_attached`` and ``attached_ids``.

    Examples
    --------
    See :func:`graph_from_roads`.
    """
    label = _component_labels(graph)
    n_comp = max(label.values()) + 1 if label else 0
    n_nodes = np.zeros(n_comp, dtype=int)
    for c in label.values():
        n_nodes[c] += 1
    n_edges = np.zeros(n_comp, dtype=int)
    length = np.zeros(n_comp)
    roads: list[set] = [set() for _ in range(n_comp)]
    for u, _, d in graph.edges(data=True):
        c = label[u]
        n_edges[c] += 1
        length[c] += d["length"]
        roads[c].add(d["road_id"])
    out = pd.DataFrame({"n_nodes": n_nodes, "n_edges": n_edges, "length_m": length.round(1),
                        "road_ids": [", ".join(sorted(r)) for r in roads],
                        "is_main": np.arange(n_comp) == 0},
                       index=pd.RangeIndex(n_comp, name="component"))
    if attachments is not None:
        idc = id_column or attachments.columns[0]
        att = attachments.dropna(subset=["component"])
        grouped = att.groupby(att["component"].astype(int))[idc]
        out["n_attached"] = grouped.size().reindex(out.index, fill_value=0).astype(int)
        out["attached_ids"] = grouped.agg(lambda s: ", ".join(map(str, s))).reindex(
            out.index, fill_value="")
    return out


def road_gaps(graph: nx.MultiGraph, *, max_gap_m: float = 20.0,
              detour_factor: float = 5.0) -> gpd.GeoDataFrame:
    """Dead ends that stop short of another road: likely gaps in the drawing.

    A gap is a dead end (a node of degree 1) within ``max_gap_m`` of a road
    it is not joined to -- one it cannot reach along the network within
    ``detour_factor`` times that distance (at least 100 m), so a short spur
    off a road is not a gap. Nothing is joined: check each gap on the map,
    then close it in the source data or raise ``snap_m``.

    Parameters
    ----------
    graph : networkx.MultiGraph
        From :func:`graph_from_roads`.
    max_gap_m : float
        How far a dead end may be from a road to be reported.
    detour_factor : float
        A road reachable along the network within this multiple of the gap
        is taken as already joined.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per dead end: ``node``, ``road_id`` (the dead end's road),
        ``to_road_id``, ``gap_m``, ``component``, ``to_component``,
        ``same_component``, and the gap as a line.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> roads = gpd.GeoDataFrame(
    ...     {"road_id": ["A", "B"], "road_class": ["town", "farm"]},
    ...     geometry=[LineString([(0, 0), (1000, 0)]), LineString([(500, 8), (500, 300)])],
    ...     crs="EPSG:4549")
    >>> road_gaps(graph_from_roads(roads))[["road_id", "to_road_id", "gap_m", "same_component"]]
      road_id to_road_id  gap_m  same_component
    0       B          A    8.0           False
    """
    cols = ["node", "road_id", "to_road_id", "gap_m", "component", "to_component", "same_component"]
    crs = graph.graph.get("crs")
    empty = gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    dead = [n for n in graph.nodes if graph.degree(n) == 1]
    if not dead:
        return empty
    edges = edges_from_graph(graph)
    label = _component_labels(graph)
    tree = shapely.STRtree(edges.geometry.values)
    pts = shapely.points([graph.nodes[n]["x"] for n in dead], [graph.nodes[n]["y"] for n in dead])
    pi, ej = tree.query(pts, predicate="dwithin", distance=max_gap_m)
    from_node = edges["from_node"].to_numpy()
    to_node = edges["to_node"].to_numpy()
    rows = []
    for k in np.unique(pi):
        node = dead[k]
        cand = ej[pi == k]
        cand = cand[(from_node[cand] != node) & (to_node[cand] != node)]
        if not len(cand):
            continue
        d = shapely.distance(pts[k], edges.geometry.values[cand])
        order = np.argsort(d, kind="stable")
        cutoff = max(100.0, detour_factor * float(d[order[0]]))
        reach = nx.single_source_dijkstra_path_length(graph, node, cutoff=cutoff, weight="length")
        for j in order:
            e = cand[j]
            if from_node[e] in reach or to_node[e] in reach:
                continue  # joined along the network already
            own = next(iter(graph.edges(node, data=True)))[2]
            rows.append({"node": node, "road_id": own["road_id"],
                         "to_road_id": edges["road_id"].iloc[e], "gap_m": round(float(d[j]), 2),
                         "component": label[node], "to_component": label[int(from_node[e])],
                         "same_component": label[node] == label[int(from_node[e])],
                         "geometry": shapely.shortest_line(pts[k], edges.geometry.values[e])})
            break
    if not rows:
        return empty
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    log.info("road network: %d gap(s) of at most %g m", len(out), max_gap_m)
    return out
