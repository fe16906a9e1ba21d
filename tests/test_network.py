"""Road graph, attachment and distance matrices on small networks built in code."""

from __future__ import annotations

import logging

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from landplan.errors import CRSError, ValidationError
from landplan.network import (
    attach_points,
    destinations_from_project,
    distance_matrix,
    edges_from_graph,
    graph_from_roads,
    road_components,
    road_gaps,
)
from landplan.project import Project

CRS = "EPSG:4549"


def _roads(lines, classes=None, bridge=None, ids=None):
    n = len(lines)
    data = {"road_id": ids or [f"R{i}" for i in range(n)],
            "road_class": classes or ["village"] * n}
    if bridge is not None:
        data["bridge"] = bridge
    return gpd.GeoDataFrame(data, geometry=[LineString(c) for c in lines], crs=CRS)


def _points(ids, xy, col="hamlet_id", **extra):
    return gpd.GeoDataFrame({col: ids, **extra}, geometry=[Point(p) for p in xy], crs=CRS)


# --- graph topology ------------------------------------------------------------------------

def test_t_junction_joins_but_crossing_without_vertex_does_not():
    roads = _roads([[(0, 0), (1000, 0)], [(400, 1.5), (400, 300)], [(700, -200), (700, 200)]])
    g = graph_from_roads(roads, snap_m=2.0)
    comps = road_components(g)
    assert len(comps) == 2
    # R0 and R1 are one piece (the T-junction split R0 at x=400); R2 is an overpass
    assert comps.loc[0, "road_ids"] == "R0, R1"
    assert comps.loc[1, "road_ids"] == "R2"
    # the through road keeps its course: the split node lies on it
    e = edges_from_graph(g)
    r0 = e[e["road_id"] == "R0"]
    assert sorted(r0["length"].round(6)) == [400.0, 600.0]


def test_shared_vertex_crossing_is_a_junction():
    roads = _roads([[(0, 0), (500, 0), (1000, 0)], [(500, -300), (500, 0), (500, 300)]])
    g = graph_from_roads(roads)
    assert g.number_of_edges() == 4
    assert dict(g.degree())[next(n for n, d in g.nodes(data=True) if d["x"] == 500 and d["y"] == 0)] == 4
    assert len(road_components(g)) == 1


def test_ends_within_tolerance_snap_and_wider_gap_is_reported():
    roads = _roads([[(0, 0), (500, 0)], [(501.5, 0), (1000, 0)],      # 1.5 m: snapped
                    [(1000, 0), (1000, 500)], [(1000, 512), (1000, 900)],  # 12 m: a gap
                    [(0, 0), (0, 15)]])                                 # a short spur: no gap
    g = graph_from_roads(roads, snap_m=2.0)
    comps = road_components(g)
    assert len(comps) == 2
    gaps = road_gaps(g, max_gap_m=20)
    assert len(gaps) == 2  # both ends of the 12 m gap, nothing for the spur
    assert set(gaps["road_id"]) == {"R2", "R3"}
    assert np.allclose(gaps["gap_m"], 12.0)
    assert not gaps["same_component"].any()
    assert shapely.length(gaps.geometry.values).round(6).tolist() == [12.0, 12.0]


def test_duplicated_edges_removed_and_counted_parallel_routes_kept():
    roads = _roads([[(0, 0), (1000, 0)], [(0, 0), (1000, 0)],              # digitised twice
                    [(0, 0.5), (1000, 0.4)],                                # again, 0.5 m off
                    [(0, 0), (500, 300), (1000, 0)]])                       # a real detour
    g = graph_from_roads(roads)
    dups = g.graph["duplicates"]
    assert len(dups) == 2
    assert set(dups["road_id"]) == {"R1", "R2"} and set(dups["duplicate_of"]) == {"R0"}
    assert g.number_of_edges() == 2  # R0 and the detour R3
    assert isinstance(g, nx.MultiGraph)


def test_speeds_by_class_and_bridge_flag():
    roads = _roads([[(0, 0), (1200, 0)], [(1200, 0), (1200, 60)]], classes=["county", "farm"],
                   bridge=[False, True])
    e = edges_from_graph(graph_from_roads(roads))
    assert e["minutes"].round(6).tolist() == [1.2, 0.24]  # 60 km/h and 15 km/h
    assert e["bridge"].tolist() == [False, True]


def test_roads_input_is_validated_and_not_modified():
    roads = _roads([[(0, 0), (10, 0)]], classes=["mule_track"])
    before = roads.copy()
    with pytest.raises(ValidationError) as err:
        graph_from_roads(roads)
    assert "road_class" in str(err.value) and "R0" in str(err.value)
    pd.testing.assert_frame_equal(roads, before)
    no_crs = _roads([[(0, 0), (10, 0)]]).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="no coordinate reference system"):
        graph_from_roads(no_crs)


# --- attachment ---------------------------------------------------------------------------

def test_link_does_not_cross_water_when_a_road_on_land_exists():
    roads = _roads([[(0, 0), (2000, 0)], [(0, 500), (2000, 500)]])
    canal = gpd.GeoDataFrame({"water_id": ["W"], "kind": ["canal"]},
                             geometry=[box(-100, 100, 2100, 140)], crs=CRS)
    hamlets = _points(["H1"], [(300, 20)])  # south bank, 20 m from R0
    att = attach_points(graph_from_roads(roads), hamlets, id_column="hamlet_id", water=canal)
    assert att.loc[0, "road_id"] == "R0" and not att.loc[0, "link_crosses_water"]
    # a hamlet on the north bank, 60 m from the canal's road R0 across water, 340 m from R1
    north = _points(["H2"], [(300, 160)])
    att = attach_points(graph_from_roads(roads), north, id_column="hamlet_id", water=canal)
    assert att.loc[0, "road_id"] == "R1"
    assert att.loc[0, "link_m"] == pytest.approx(340.0)
    assert not att.loc[0, "link_crosses_water"]


def test_island_hamlet_and_far_hamlet_are_flagged_not_dropped(caplog):
    main = [[(0, 0), (3000, 0)], [(1500, 0), (1500, 1000)]]
    island = [[(5000, 5000), (5200, 5000)]]
    roads = _roads(main + island)
    g = graph_from_roads(roads)
    ring = box(4900, 4900, 5300, 5100).exterior.buffer(30)
    water = gpd.GeoDataFrame({"water_id": ["W"], "kind": ["river"]}, geometry=[ring], crs=CRS)
    hamlets = _points(["近", "岛", "远"], [(1000, 50), (5100, 5050), (1500, -5000)])
    sites = _points(["S1"], [(1600, 20)], col="site_id")
    with caplog.at_level(logging.WARNING, logger="landplan.network"):
        dm = distance_matrix(g, hamlets, sites, water=water, max_distance_m=3000)
    o = dm.origins.set_index("hamlet_id")
    assert list(o.index) == ["近", "岛", "远"]           # every hamlet accounted for
    assert not o.loc["岛", "on_main_network"] and o.loc["岛", "component"] == 1
    assert o.loc["远", "far_from_road"] and o.loc["远", "link_m"] == pytest.approx(5000.0)
    assert dm.long["origin"].tolist() == ["近"]
    why = dm.unreachable().set_index("origin")["reason"]
    assert "not connected to the main network" in why["岛"]
    assert "5000 m from the nearest road" in why["远"]
    assert "远离道路" in why["远"]
    assert "远" in caplog.text and "岛" in caplog.text
    comps = road_components(g, attachments=dm.origins, id_column="hamlet_id")
    assert comps.loc[1, "attached_ids"] == "岛"


def test_crs_mismatch_names_both():
    g = graph_from_roads(_roads([[(0, 0), (100, 0)]]))
    pts = _points(["H1"], [(120.0, 30.0)]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CRSError) as err:
        attach_points(g, pts, id_column="hamlet_id", name="hamlets")
    assert "EPSG:4326" in str(err.value) and "EPSG:4549" in str(err.value)


def test_duplicate_origin_ids_refused():
    g = graph_from_roads(_roads([[(0, 0), (100, 0)]]))
    with pytest.raises(ValidationError, match="H1"):
        attach_points(g, _points(["H1", "H1"], [(0, 5), (50, 5)]), id_column="hamlet_id")


# --- distances ------------------------------------------------------------------------------

def test_river_crossing_hamlet_is_far_by_road():
    """300 m apart across a river, 4 km by road through the one bridge."""
    roads = _roads([[(0, 0), (2000, 0)], [(0, 300), (2000, 300)], [(2000, 0), (2000, 300)]],
                   bridge=[False, False, True])
    river = gpd.GeoDataFrame({"water_id": ["W"], "kind": ["river"]},
                             geometry=[box(-200, 100, 1990, 200)], crs=CRS)
    hamlets = _points(["H1"], [(0, 310)])
    sites = _points(["S1"], [(0, -10)], col="site_id")
    dm = distance_matrix(graph_from_roads(roads), hamlets, sites, water=river, max_distance_m=5000)
    assert dm.long["distance_m"].tolist() == [pytest.approx(10 + 2000 + 300 + 2000 + 10)]
    # at 30 km/h on village roads (500 m/min), links at 15 km/h (250 m/min)
    assert dm.long["minutes"].tolist() == [pytest.approx(4300 / 500 + 20 / 250)]
    # under a 3 km cap the pair is absent, not infinite
    capped = distance_matrix(graph_from_roads(roads), hamlets, sites, water=river)
    assert capped.long.empty and capped.sparse.nnz == 0
    assert "farther than 3000 m" in capped.unreachable()["reason"].iloc[0]


def test_points_on_the_same_segment_are_as_far_as_along_it():
    roads = _roads([[(0, 0), (1000, 0)]])
    hamlets = _points(["H1", "H2"], [(100, 10), (900, -5)])
    sites = _points(["S1"], [(400, 20)], col="site_id")
    dm = distance_matrix(graph_from_roads(roads), hamlets, sites)
    assert dm.long["distance_m"].tolist() == [pytest.approx(10 + 300 + 20),
                                              pytest.approx(5 + 500 + 20)]


def test_fastest_route_minutes_and_shortest_route_metres_differ():
    # short slow farm road vs a longer county road
    roads = _roads([[(0, 0), (1000, 0)], [(0, 0), (0, 400), (1000, 400), (1000, 0)]],
                   classes=["farm", "county"])
    dm = distance_matrix(graph_from_roads(roads), _points(["H"], [(0, 0)]),
                         _points(["S"], [(1000, 0)], col="site_id"))
    assert dm.long["distance_m"].iloc[0] == pytest.approx(1000)
    assert dm.long["minutes"].iloc[0] == pytest.approx(1800 / 1000)  # county 60 km/h: 1 km/min


def _lattice(seed):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(12):
        for j in range(12):
            if j < 11 and rng.random() > 0.2:
                lines.append([(i * 200, j * 200), (i * 200 + rng.normal(0, 3), j * 200 + 100),
                              (i * 200, (j + 1) * 200)])
            if i < 11 and rng.random() > 0.2:
                lines.append([(i * 200, j * 200), ((i + 1) * 200, j * 200)])
    cls = rng.choice(["village", "farm", "town"], len(lines)).tolist()
    return _roads(lines, classes=cls), rng


@pytest.mark.parametrize("seed", [1, 2])
def test_distances_match_networkx_shortest_paths(seed):
    roads, rng = _lattice(seed)
    g = graph_from_roads(roads)
    nodes = list(g.nodes)
    xy = np.array([(g.nodes[n]["x"], g.nodes[n]["y"]) for n in nodes])
    oi = rng.choice(len(nodes), 40, replace=False)
    di = rng.choice(len(nodes), 15, replace=False)
    # points on nodes: links are 0 m, so distances are node-to-node shortest paths
    origins = _points([f"H{k}" for k in range(40)], [tuple(p) for p in xy[oi]])
    dests = _points([f"S{k}" for k in range(15)], [tuple(p) for p in xy[di]], col="site_id")
    dm = distance_matrix(g, origins, dests, max_distance_m=1500)
    assert (dm.origins["link_m"] < 1e-6).all()
    got = {(o, d): v for o, d, v in dm.long[["origin", "destination", "distance_m"]].itertuples(
        index=False)}
    got_min = {(o, d): v for o, d, v in dm.long[["origin", "destination", "minutes"]].itertuples(
        index=False)}
    n_expected = 0
    for a, o in enumerate(oi):
        length = nx.single_source_dijkstra_path_length(g, nodes[o], weight="length")
        minutes = nx.single_source_dijkstra_path_length(g, nodes[o], weight="minutes")
        for b, d in enumerate(di):
            want = length.get(nodes[d], np.inf)
            key = (f"H{a}", f"S{b}")
            if want <= 1500 - 1e-6:
                n_expected += 1
                assert got[key] == pytest.approx(want, abs=0.02)
                assert got_min[key] == pytest.approx(minutes[nodes[d]], abs=0.02)
            elif want > 1500 + 1e-6:
                assert key not in got
    assert len(dm.long) == n_expected > 0


def test_sparse_form_matches_long_and_keeps_zero_distances():
    roads = _roads([[(0, 0), (1000, 0)]])
    hamlets = _points(["H1", "H2", "H3"], [(200, 0), (600, 0), (5000, 9000)])
    sites = _points(["S1", "S2"], [(200, 0), (900, 0)], col="site_id")
    dm = distance_matrix(graph_from_roads(roads), hamlets, sites)
    sp = dm.sparse
    assert sp.shape == (3, 2) and sp.nnz == len(dm.long) == 4
    # H1 stands on S1: a real zero distance, stored (not dropped as a sparse zero)
    assert sp.indices[0] == 0 and sp.data[0] == 0.0
    assert sp.indptr.tolist() == [0, 2, 4, 4]  # H3 has no pair
    dense = sp.toarray()
    for o, d, v in dm.long[["origin", "destination", "distance_m"]].itertuples(index=False):
        assert dense[list(dm.origin_ids).index(o), list(dm.destination_ids).index(d)] == v
    assert dm.minutes_sparse.nnz == 4
    assert dm.long["origin"].dtype == "str"


def test_same_town_restricts_pairs():
    roads = _roads([[(0, 0), (1000, 0)]])
    hamlets = _points(["H1", "H2"], [(100, 0), (800, 0)], town_id=["T1", "T2"])
    sites = _points(["S1", "S2"], [(300, 0), (700, 0)], col="site_id", town_id=["T1", "T2"])
    dm = distance_matrix(graph_from_roads(roads), hamlets, sites, same="town_id")
    assert list(zip(dm.long["origin"], dm.long["destination"])) == [("H1", "S1"), ("H2", "S2")]


def test_tiny_project_every_hamlet_accounted_for(tiny):
    p = Project(tiny)
    g = graph_from_roads(p["roads"])
    homes = p["homesteads"]
    dest = destinations_from_project(p)
    assert set(dest["kind"]) == {"new_community", "town_apartments", "town_seat", "school"}
    dm = distance_matrix(g, homes, dest, origin_id="homestead_id", destination_id="destination_id",
                         water=p["water"], max_distance_m=5000)
    assert len(dm.origins) == len(homes)
    assert dm.origins.index.equals(homes.index)
    # road distance is never shorter than the straight line
    o = homes.set_index("homestead_id").geometry.representative_point()
    d = dest.set_index("destination_id").geometry.representative_point()
    for oid, did, dist in dm.long[["origin", "destination", "distance_m"]].itertuples(index=False):
        assert dist >= o[oid].distance(d[did]) - 1e-6
    # every homestead reaches the site of its own town's seat within 5 km
    assert set(dm.long["origin"]) == set(homes["homestead_id"])


def test_bad_pairing_column_and_water_crs_are_refused_clearly():
    g = graph_from_roads(_roads([[(0, 0), (1000, 0)]]))
    hamlets = _points(["H1"], [(100, 0)])
    sites = _points(["S1"], [(300, 0)], col="site_id", town_id=["T1"])
    with pytest.raises(ValidationError, match="origins have no 'town_id' column"):
        distance_matrix(g, hamlets, sites, same="town_id")
    water = gpd.GeoDataFrame({"kind": ["pond"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4490")
    with pytest.raises(CRSError, match="water are in EPSG:4490 but the road graph is in EPSG:4549"):
        distance_matrix(g, hamlets, sites, water=water)
