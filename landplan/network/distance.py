"""Distance matrices along the road network: hamlets x destinations, in metres and minutes.

The road graph (:func:`~landplan.network.graph_from_roads`) is turned into a
scipy sparse matrix once, with every origin and destination attached where
its link meets the road (the edge is split there, so two points on the same
road segment are as far apart as they are along it). Then one Dijkstra search
runs from each destination over the whole graph, all origins at once, cut
off at ``max_distance_m`` (:func:`scipy.sparse.csgraph.dijkstra` with
``indices=`` the destinations and ``limit=`` the cap). The graph is
undirected, so the distance from a destination to an origin is the
relocation distance from the origin to the destination.

A distance is ``link_m`` (origin to its road point) + the shortest route along
the roads + the destination's link. ``distance_m`` is the length of the
shortest route and ``minutes`` the travel time of the fastest route (at the
speeds of :data:`~landplan.network.SPEEDS_KMH`, links at ``link_speed_kmh``);
the two routes may differ. Pairs farther than ``max_distance_m`` are absent,
never infinite or NaN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from ..errors import Problem, ValidationError
from .attach import attach_points

__all__ = ["DISTANCE_COLUMNS_ZH", "DistanceMatrix", "distance_matrix"]

log = logging.getLogger(__name__)

#: Chinese headings of :attr:`DistanceMatrix.long`.
DISTANCE_COLUMNS_ZH = {"origin": "起点", "destination": "目的地", "distance_m": "道路距离(米)",
                       "minutes": "行程时间(分钟)"}

_EPS = 1e-9  # csgraph drops explicit zero weights; zero-length pieces get this instead


@dataclass
class DistanceMatrix:
    """Road distances from origins to destinations, pairs beyond the cap left out.

    Attributes
    ----------
    long : pandas.DataFrame
        One row per pair within the cap: ``origin``, ``destination``,
        ``distance_m``, ``minutes``; sorted by origin then destination, in
        the order of the inputs. This is the form the consolidation
        optimiser takes.
    origin_ids, destination_ids : numpy.ndarray
        The ids in input order: row ``i`` / column ``j`` of :attr:`sparse`.
    origins, destinations : geopandas.GeoDataFrame
        How each was attached to the roads (:func:`~landplan.network.attach_points`).
    max_distance_m : float
        The cap.
    """

    long: pd.DataFrame
    origin_ids: np.ndarray
    destination_ids: np.ndarray
    origins: gpd.GeoDataFrame
    destinations: gpd.GeoDataFrame
    max_distance_m: float

    def _sparse(self, column: str) -> sparse.csr_matrix:
        i = pd.Index(self.origin_ids).get_indexer(self.long["origin"])
        j = pd.Index(self.destination_ids).get_indexer(self.long["destination"])
        data = self.long[column].to_numpy(float)
        # long is sorted by origin then destination, so it is already CSR order;
        # building from arrays keeps real zero distances as stored entries
        indptr = np.r_[0, np.cumsum(np.bincount(i, minlength=len(self.origin_ids)))]
        return sparse.csr_matrix((data, j, indptr),
                                 shape=(len(self.origin_ids), len(self.destination_ids)))

    @property
    def sparse(self) -> sparse.csr_matrix:
        """Distances (m) as a CSR matrix origins x destinations; absent = beyond the cap.

        Stored entries are the pairs of :attr:`long` (a stored 0.0 is a real
        zero distance); use ``.sparse.nnz`` for the number of allowed pairs.
        """
        return self._sparse("distance_m")

    @property
    def minutes_sparse(self) -> sparse.csr_matrix:
        """Travel minutes as a CSR matrix with the same pattern as :attr:`sparse`."""
        return self._sparse("minutes")

    def unreachable(self) -> pd.DataFrame:
        """Origins that reach no destination within the cap, and why.

        Returns
        -------
        pandas.DataFrame
            ``origin`` and ``reason``: off the main road network, reachable
            only across water, far from any road, or simply farther than the
            cap from every destination.
        """
        reached = set(self.long["origin"])
        o = self.origins
        idc = o.columns[0]
        rows = []
        for _, r in o.iterrows():
            oid = r[idc]
            if oid in reached:
                continue
            why = []
            if r["in_water"]:
                why.append("inside a water body (位于水域)")
            if r["link_crosses_water"]:
                why.append("reachable from its nearest road only across water (需跨水接入)")
            if not r["on_main_network"]:
                why.append(f"on road component {r['component']}, not connected to the main "
                           "network (未连通主路网)")
            if r["far_from_road"]:
                why.append(f"{r['link_m']:.0f} m from the nearest road (远离道路)")
            if not why:
                why.append(f"every destination is farther than {self.max_distance_m:g} m by road")
            rows.append({"origin": oid, "reason": "; ".join(why)})
        return pd.DataFrame(rows, columns=["origin", "reason"])

    def __repr__(self) -> str:
        n, m = len(self.origin_ids), len(self.destination_ids)
        return (f"DistanceMatrix({n} origins x {m} destinations, {len(self.long):,} pairs within "
                f"{self.max_distance_m:g} m)")


def distance_matrix(graph: nx.MultiGraph, origins: gpd.GeoDataFrame,
                    destinations: gpd.GeoDataFrame, *, origin_id: str = "hamlet_id",
                    destination_id: str = "site_id", max_distance_m: float = 3000.0,
                    same: str | None = None, water: gpd.GeoDataFrame | None = None,
                    link_speed_kmh: float = 15.0, max_link_m: float = 500.0,
                    progress: bool = False) -> DistanceMatrix:
    """Road distances (m) and times (min) from every origin to every destination within a cap.

    Parameters
    ----------
    graph : networkx.MultiGraph
        From :func:`~landplan.network.graph_from_roads`.
    origins : geopandas.GeoDataFrame
        Hamlets (footprint polygons) or any points or polygons with an id.
    destinations : geopandas.GeoDataFrame
        Sites, town seats, services (e.g. :func:`destinations_from_project`).
    origin_id, destination_id : str, keyword-only
        The id columns.
    max_distance_m : float
        Pairs farther than this along the roads are left out (the scenario's
        ``max_distance_m``).
    same : str, optional
        A column both layers have (``"town_id"``): keep only pairs that agree
        on it (the scenario's ``within_town``).
    water : geopandas.GeoDataFrame, optional
        Links to the roads may not cross it (see :func:`attach_points`).
    link_speed_kmh : float
        Speed on the links between a point and its road.
    max_link_m : float
        Links longer than this are flagged ``far_from_road``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    DistanceMatrix
        ``.long`` (origin, destination, distance_m, minutes), ``.sparse``,
        ``.minutes_sparse``, the id arrays and the attachments.

    Examples
    --------
    A hamlet 300 m from a site across a canal, with the only bridge 2 km away:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from landplan.network import graph_from_roads
    >>> crs = "EPSG:4549"
    >>> roads = gpd.GeoDataFrame(
    ...     {"road_id": ["N", "S", "BR"], "road_class": ["village", "village", "village"],
    ...      "bridge": [False, False, True]},
    ...     geometry=[LineString([(0, 200), (2000, 200)]), LineString([(0, -100), (2000, -100)]),
    ...               LineString([(2000, -100), (2000, 200)])], crs=crs)
    >>> canal = gpd.GeoDataFrame({"water_id": ["W"], "kind": ["canal"]},
    ...                          geometry=[box(-10, 0, 2010, 100)], crs=crs)
    >>> hamlets = gpd.GeoDataFrame({"hamlet_id": ["H1"]}, geometry=[Point(0, 210)], crs=crs)
    >>> sites = gpd.GeoDataFrame({"site_id": ["S1", "S2"]},
    ...                          geometry=[Point(0, -110), Point(6000, 0)], crs=crs)
    >>> dm = distance_matrix(graph_from_roads(roads), hamlets, sites, water=canal,
    ...                      max_distance_m=5000)
    >>> dm.long
      origin destination  distance_m  minutes
    0     H1          S1      4320.0     8.68
    >>> dm.sparse.shape, dm.sparse.nnz
    ((1, 2), 1)
    """
    from tqdm.auto import tqdm

    if same is not None:
        for df, nm in ((origins, "origins"), (destinations, "destinations")):
            if same not in df.columns:
                raise ValidationError([Problem(nm, "missing_column", [],
                                               f"{nm} have no {same!r} column to match pairs on",
                                               f"add {same} or pass same=None")])
    o_att = attach_points(graph, origins, id_column=origin_id, water=water, max_link_m=max_link_m,
                          name="origins")
    d_att = attach_points(graph, destinations, id_column=destination_id, water=water,
                          max_link_m=max_link_m, name="destinations")
    net = _routing_matrices(graph, o_att, d_att, link_speed_kmh=link_speed_kmh)
    n_o, n_d = len(o_att), len(d_att)
    link_o = o_att["link_m"].to_numpy(float)
    link_min_o = link_o / (link_speed_kmh * 1000.0 / 60.0)
    slowest = min(min(graph.graph["speeds_kmh"].values()), link_speed_kmh) * 1000.0 / 60.0
    minutes_cap = max_distance_m / slowest
    # keep each Dijkstra block to about 64 MB of float64
    chunk = max(1, min(n_d, int(8e6 // max(net["n_nodes"], 1))))
    ii, jj, dist, mins = [], [], [], []
    blocks = range(0, n_d, chunk)
    for s in tqdm(blocks, disable=not progress, desc="distances", unit="block"):
        src = net["dest_nodes"][s:s + chunk]
        d_len = csgraph.dijkstra(net["length"], directed=True, indices=src,
                                 limit=max_distance_m)[:, net["origin_nodes"]]
        total = d_len + link_o[None, :]
        dj, oi = np.nonzero(total <= max_distance_m)
        if not len(dj):
            continue
        d_min = csgraph.dijkstra(net["minutes"], directed=True, indices=src,
                                 limit=minutes_cap)[:, net["origin_nodes"]]
        ii.append(oi)
        jj.append(dj + s)
        dist.append(total[dj, oi])
        mins.append(d_min[dj, oi] + link_min_o[oi])
    oi = np.concatenate(ii) if ii else np.zeros(0, dtype=np.int64)
    dj = np.concatenate(jj) if jj else np.zeros(0, dtype=np.int64)
    dist = np.concatenate(dist) if dist else np.zeros(0)
    mins = np.concatenate(mins) if mins else np.zeros(0)
    if same is not None:
        ok = origins[same].astype(str).to_numpy()[oi] == destinations[same].astype(str).to_numpy()[dj]
        oi, dj, dist, mins = oi[ok], dj[ok], dist[ok], mins[ok]
    order = np.lexsort((dj, oi))
    oi, dj, dist, mins = oi[order], dj[order], dist[order], mins[order]
    o_ids = origins[origin_id].astype(str).to_numpy()
    d_ids = destinations[destination_id].astype(str).to_numpy()
    long = pd.DataFrame({"origin": pd.array(o_ids[oi], dtype="str"),
                         "destination": pd.array(d_ids[dj], dtype="str"),
                         "distance_m": np.round(dist, 2), "minutes": np.round(mins, 2)})
    log.info("distance matrix: %s origins x %s destinations, %s pairs within %g m", f"{n_o:,}",
             f"{n_d:,}", f"{len(long):,}", max_distance_m)
    return DistanceMatrix(long=long, origin_ids=o_ids, destination_ids=d_ids, origins=o_att,
                          destinations=d_att, max_distance_m=float(max_distance_m))


def _routing_matrices(graph: nx.MultiGraph, o_att: pd.DataFrame, d_att: pd.DataFrame, *,
                      link_speed_kmh: float) -> dict:
    """The road graph with the attachment points spliced in, as symmetric CSR matrices.

    Node numbering: the graph's nodes 0..N-1 (in ``graph.nodes`` order), then
    one road point per origin, one road point per destination, then one node
    per destination at the end of its link.
    """
    nodes = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    nodes_sorted = np.sort(nodes)
    rows = [(d["edge_id"], d["from_node"], d["to_node"], d["length"], d["minutes"])
            for _, _, d in graph.edges(data=True)]
    e = np.array(rows, dtype=float).reshape(-1, 5)
    e = e[np.argsort(e[:, 0], kind="stable")]
    eid = e[:, 0].astype(np.int64)
    eu = np.searchsorted(nodes_sorted, e[:, 1].astype(np.int64))
    ev = np.searchsorted(nodes_sorted, e[:, 2].astype(np.int64))
    elen, emin = e[:, 3], e[:, 4]
    n, n_o, n_d = len(nodes), len(o_att), len(d_att)

    att_edge = np.searchsorted(eid, np.r_[o_att["edge_id"].to_numpy(np.int64),
                                          d_att["edge_id"].to_numpy(np.int64)])
    att_off = np.r_[o_att["offset_m"].to_numpy(float), d_att["offset_m"].to_numpy(float)]
    att_node = n + np.arange(n_o + n_d)
    order = np.lexsort((att_off, att_edge))
    a_edge, a_off, a_node = att_edge[order], att_off[order], att_node[order]
    first = np.r_[True, a_edge[1:] != a_edge[:-1]]
    last = np.r_[a_edge[1:] != a_edge[:-1], True]
    prev_node = np.where(first, eu[a_edge], np.r_[-1, a_node[:-1]])
    prev_off = np.where(first, 0.0, np.r_[0.0, a_off[:-1]])
    seg = np.maximum(a_off - prev_off, 0.0)
    frac = np.where(elen[a_edge] > 0, seg / np.where(elen[a_edge] > 0, elen[a_edge], 1), 0)
    tail_len = np.maximum(elen[a_edge[last]] - a_off[last], 0.0)
    tail_frac = np.where(elen[a_edge[last]] > 0,
                         tail_len / np.where(elen[a_edge[last]] > 0, elen[a_edge[last]], 1), 0)
    split = np.zeros(len(eid), dtype=bool)
    split[a_edge] = True
    link_mpm = link_speed_kmh * 1000.0 / 60.0
    d_link = d_att["link_m"].to_numpy(float)
    dest_nodes = n + n_o + n_d + np.arange(n_d)
    src = np.r_[eu[~split], prev_node, a_node[last], n + n_o + np.arange(n_d)]
    dst = np.r_[ev[~split], a_node, ev[a_edge[last]], dest_nodes]
    w_len = np.r_[elen[~split], seg, tail_len, d_link]
    w_min = np.r_[emin[~split], emin[a_edge] * frac, emin[a_edge[last]] * tail_frac,
                  d_link / link_mpm]
    total = n + n_o + 2 * n_d
    return {"length": _symmetric_csr(src, dst, w_len, total),
            "minutes": _symmetric_csr(src, dst, w_min, total),
            "origin_nodes": n + np.arange(n_o), "dest_nodes": dest_nodes, "n_nodes": total}


def _symmetric_csr(src, dst, w, n) -> sparse.csr_matrix:
    """A symmetric CSR matrix keeping the smallest weight of parallel edges."""
    keep = src != dst
    src, dst, w = src[keep], dst[keep], np.maximum(w[keep], _EPS)
    i = np.r_[src, dst]
    j = np.r_[dst, src]
    w = np.r_[w, w]
    order = np.lexsort((w, j, i))
    i, j, w = i[order], j[order], w[order]
    first = np.r_[True, (i[1:] != i[:-1]) | (j[1:] != j[:-1])]
    return sparse.csr_matrix((w[first], (i[first], j[first])), shape=(n, n))
