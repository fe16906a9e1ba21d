"""The synthetic district generator and the committed sample."""

from __future__ import annotations

import zipfile

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from landplan.datasets import generate_district, load_sample_layers, resolve_n_towns
from landplan.datasets import sample as sample_mod
from landplan.datasets._frame import TOWN_NAMES, lower_neighbours
from landplan.datasets._town import MAX_SITES, _town_grid, border_crossings, generate_town
from landplan.datasets.generate import file_digests
from landplan.datasets.sample import (
    _REPO_SAMPLE,
    GENERATOR_VERSION,
    PACKED_NAME,
    district_path,
    generator_fingerprint,
    read_layers,
    sample_dir,
    write_sample,
)
from landplan.network import attach_points, graph_from_roads, road_components, road_gaps
from landplan.network.graph import _component_labels, edges_from_graph
from landplan.schema import LAYERS

SURVEY_YEAR = 2008


@pytest.fixture(scope="module")
def town():
    """Town T01 of the seed-2008 district, in memory (what the sample holds)."""
    return generate_district(n_towns=1, seed=2008)


@pytest.fixture(scope="module")
def layers(town):
    return town.layers


# ---------------------------------------------------------------------------- bytes
def test_same_seed_same_bytes_and_committed_sample_is_fresh(town, tmp_path):
    a = town.write(tmp_path / "a", spatial_index=False, overviews=False, zlevel=9)
    b = write_sample(tmp_path / "b", packed=False)   # a fresh generation, same settings
    da, db = file_digests(a), file_digests(b)
    assert set(da) == {"project.gpkg", "rasters/elevation.tif", "rasters/flood_depth.tif"}
    assert da == db
    # the committed sample is exactly what the generator makes today, zipped (guards
    # drift: regenerate with `python -c "from landplan.datasets.sample import
    # write_sample; write_sample('data/sample')"` after changing the generator)
    packed = file_digests(write_sample(tmp_path / "c"))
    assert set(packed) == {PACKED_NAME, "rasters/elevation.tif", "rasters/flood_depth.tif"}
    assert (_REPO_SAMPLE / PACKED_NAME).exists(), "data/sample is missing"
    assert file_digests(_REPO_SAMPLE) == packed
    # ... and what the toolkit reads is that GeoPackage, unpacked
    assert file_digests(sample_dir()) == db


def test_spatial_index_and_overviews_are_deterministic_too(town, tmp_path):
    a = file_digests(town.write(tmp_path / "a"))
    b = file_digests(town.write(tmp_path / "b"))
    assert a == b
    with rasterio.open(tmp_path / "a" / "rasters" / "elevation.tif") as src:
        assert src.overviews(1) == [2, 4, 8]


def test_different_seed_gives_a_different_district(layers):
    other = generate_district(n_towns=1, seed=2009, rasters=False).layers
    assert len(other["homesteads"]) != len(layers["homesteads"]) or not np.array_equal(
        shapely.get_coordinates(other["homesteads"].geometry.array[:50]),
        shapely.get_coordinates(layers["homesteads"].geometry.array[:50]))
    assert not other["towns"].geometry.iloc[0].equals(layers["towns"].geometry.iloc[0])


# --------------------------------------------------------------------------- schema
def _check_schema(layers: dict, *, exact_dtypes: bool):
    assert set(layers) == set(LAYERS)
    for name, spec in LAYERS.items():
        df = layers[name]
        expected = spec.column_names + (["geometry"] if spec.geometry else [])
        assert list(df.columns) == expected, name
        for c in spec.columns:
            s = df[c.name]
            if exact_dtypes:
                assert str(s.dtype) == c.pandas_dtype, (name, c.name, s.dtype)
            if not c.nullable:
                assert s.notna().all(), (name, c.name)
            present = s.dropna()
            if c.choices:
                assert set(present) <= set(c.choices), (name, c.name, set(present))
            if c.minimum is not None and len(present):
                assert present.min() >= c.minimum, (name, c.name)
            if c.maximum is not None and len(present):
                assert present.max() <= c.maximum, (name, c.name)
        assert df[spec.key].is_unique, name
        assert len(df) > 0, name
        if spec.geometry:
            assert df.crs.to_epsg() == 4549, name
            geoms = df.geometry.array
            assert shapely.is_valid(geoms).all(), name
            assert not shapely.is_empty(geoms).any(), name
            fam = {"Polygon": {"Polygon", "MultiPolygon"},
                   "LineString": {"LineString", "MultiLineString"},
                   "Point": {"Point", "MultiPoint"}}[spec.geometry]
            assert set(df.geom_type) <= fam, (name, set(df.geom_type))


def test_layers_follow_the_schema_exactly(layers):
    _check_schema(layers, exact_dtypes=True)


def test_committed_sample_reads_back_with_the_schema():
    _check_schema(load_sample_layers(), exact_dtypes=True)


def test_ids_have_stable_patterns(layers):
    pats = {"towns": r"T\d\d", "villages": r"T\d\dV\d\d", "households": r"T\d\dV\d\dF\d{4}",
            "homesteads": r"T\d\dV\d\dH\d{5}", "farmland": r"T\d\dV\d\dP\d{5}",
            "roads": r"T\d\dR\d{5}", "water": r"T\d\dW\d{5}", "protected": r"T\d\dZ\d{5}",
            "sites": r"T\d\d(S\d{3}|A\d\d)", "facilities": r"T\d\dF\d{3}"}
    for name, pat in pats.items():
        key = LAYERS[name].key
        assert layers[name][key].str.fullmatch(pat).all(), name
    # an id's village prefix is its village
    for name in ("households", "homesteads", "farmland"):
        df = layers[name]
        assert (df[LAYERS[name].key].str[:6] == df["village_id"]).all()


def test_references_resolve(layers):
    towns = set(layers["towns"]["town_id"])
    villages = set(layers["villages"]["village_id"])
    hh = layers["households"]
    hs = layers["homesteads"]
    fl = layers["farmland"]
    assert set(layers["villages"]["town_id"]) <= towns
    assert set(hh["village_id"]) <= villages
    assert set(hs["village_id"]) <= villages
    assert set(fl["village_id"]) <= villages
    assert set(hs["household_id"].dropna()) <= set(hh["household_id"])
    assert set(fl["household_id"].dropna()) <= set(hh["household_id"])
    assert set(layers["sites"]["town_id"]) <= towns
    assert set(layers["facilities"]["town_id"].dropna()) <= towns
    # the registered homestead is one the household holds, in its own village
    reg = hh.dropna(subset=["registered_homestead_id"])
    owner = hs.set_index("homestead_id").loc[reg["registered_homestead_id"]]
    assert (owner["household_id"].to_numpy() == reg["household_id"].to_numpy()).all()
    assert (owner["village_id"].to_numpy() == reg["village_id"].to_numpy()).all()
    # a household's homesteads and contracted strips are in its village
    hv = hh.set_index("household_id")["village_id"]
    held = hs.dropna(subset=["household_id"])
    assert (hv.loc[held["household_id"]].to_numpy() == held["village_id"].to_numpy()).all()
    con = fl.dropna(subset=["household_id"])
    assert (hv.loc[con["household_id"]].to_numpy() == con["village_id"].to_numpy()).all()


# ------------------------------------------------------------------------ geography
def test_villages_partition_the_town_and_hold_their_features(layers):
    town = layers["towns"].geometry.iloc[0]
    v = layers["villages"]
    assert v.area.sum() == pytest.approx(town.area, rel=1e-6)
    assert shapely.union_all(v.geometry.array).area == pytest.approx(town.area, rel=1e-6)
    vg = v.set_index("village_id").geometry
    for name in ("homesteads", "farmland"):
        df = layers[name]
        pts = shapely.point_on_surface(df.geometry.array)
        inside = shapely.covers(vg.loc[df["village_id"]].array, pts)
        assert inside.mean() > 0.999, name


def test_sites_avoid_water_homesteads_and_roads(layers):
    sites = layers["sites"].geometry.array
    for name in ("water", "homesteads", "roads"):
        tree = shapely.STRtree(layers[name].geometry.array)
        assert tree.query(sites, predicate="intersects").size == 0, name
    kinds = layers["sites"]["kind"].value_counts()
    assert 20 <= kinds["new_community"] <= MAX_SITES == 40
    assert 1 <= kinds["town_apartments"] <= 2
    comm = layers["sites"][layers["sites"]["kind"] == "new_community"]
    assert comm["capacity_households"].between(60, 400).all()
    assert comm["fixed_cost"].between(1.5e6, 9e6).all()


def _overlap_m2(geoms, others) -> np.ndarray:
    """Area of each of ``geoms`` covered by the union of ``others``."""
    out = np.zeros(len(geoms))
    if not len(others):
        return out
    gi, oj = shapely.STRtree(others).query(geoms, predicate="intersects")
    for i in np.unique(gi):
        out[i] = shapely.intersection(geoms[i], shapely.union_all(others[oj[gi == i]])).area
    return out


def _sites_on(layers):
    """Area (m2) of each site on basic farmland, the red line, flood zones and water."""
    sites, fl, pr = layers["sites"], layers["farmland"], layers["protected"]
    basic = np.r_[fl.geometry.array[fl["basic_farmland"].to_numpy(bool)],
                  pr.geometry.array[(pr["kind"] == "basic_farmland").to_numpy()]]
    g = sites.geometry.array
    return pd.DataFrame({
        "basic_farmland": _overlap_m2(g, basic),
        **{k: _overlap_m2(g, pr.geometry.array[(pr["kind"] == k).to_numpy()])
           for k in ("ecological_redline", "flood_zone")},
        "water": _overlap_m2(g, layers["water"].geometry.array)}, index=sites.index)


def _households_per_town(layers) -> pd.Series:
    """Households living in each town's hamlets (holding a homestead there)."""
    town_of = layers["villages"].set_index("village_id")["town_id"]
    held = layers["homesteads"].dropna(subset=["household_id"]).drop_duplicates("household_id")
    return held["village_id"].map(town_of).value_counts()


def _check_sites_are_planned_like_real_ones(layers):
    sites = layers["sites"]
    on = _sites_on(layers)
    # off protected land and water; one site per town on basic farmland, on purpose
    assert (on[["ecological_redline", "flood_zone", "water"]] <= 1.0).all().all()
    on_basic = sites.loc[on["basic_farmland"] > 1.0]
    assert (on_basic["kind"] == "new_community").all()
    assert on_basic["town_id"].value_counts().to_dict() == dict.fromkeys(layers["towns"]["town_id"], 1)
    assert (on.loc[on_basic.index, "basic_farmland"] > 0.2 * on_basic.area).all()
    # beside a road (across the lane, not a canal) and next to a hamlet
    comm = sites[sites["kind"] == "new_community"]
    roads = layers["roads"]
    trunk = roads[roads["road_class"] != "farm"].geometry.array
    _, d_road = shapely.STRtree(trunk).query_nearest(comm.geometry.array, return_distance=True,
                                                     all_matches=False)
    assert (d_road < 10).all(), comm.loc[d_road >= 10, "site_id"].tolist()
    _, d_home = shapely.STRtree(layers["homesteads"].geometry.array).query_nearest(
        comm.geometry.array, return_distance=True, all_matches=False)
    assert (d_home < 60).all(), comm.loc[d_home >= 60, "site_id"].tolist()
    # more room than households, in every town (planners offer 1.2 to 1.6 times)
    per_town = comm.groupby("town_id")["capacity_households"].agg(["sum", "size"])
    ratio = per_town["sum"] / _households_per_town(layers).reindex(per_town.index)
    assert ratio.between(1.2, 1.6).all(), ratio
    assert (per_town["size"] <= MAX_SITES).all()


def test_candidate_sites_are_placed_like_real_ones(layers):
    _check_sites_are_planned_like_real_ones(layers)


def test_basic_farmland_flags_and_protected_polygons_agree(layers):
    fl, pr = layers["farmland"], layers["protected"]
    patches = shapely.union_all(pr.geometry.array[(pr["kind"] == "basic_farmland").to_numpy()])
    covered = shapely.area(shapely.intersection(fl.geometry.array, patches)) / fl.area.to_numpy()
    basic = fl["basic_farmland"].to_numpy(bool)
    assert (covered[basic] > 0.999).all()          # every basic strip is in a patch
    assert (covered[~basic] * fl.area.to_numpy()[~basic] <= 1.0).all()   # and no other
    assert 0.6 < basic.mean() < 0.95


def test_parcels_and_homesteads_do_not_overlap(layers):
    strips = layers["farmland"].geometry.array
    houses = layers["homesteads"].geometry.array
    assert shapely.STRtree(strips).query(strips, predicate="overlaps").size == 0
    assert shapely.STRtree(houses).query(houses, predicate="overlaps").size == 0
    assert shapely.STRtree(houses).query(strips, predicate="intersects").size == 0
    water = layers["water"]
    ponds_rivers = water[water["kind"] != "canal"].geometry.array
    assert shapely.STRtree(ponds_rivers).query(strips, predicate="overlaps").size == 0


def test_strips_are_long_narrow_contracted_strips(layers):
    fl = layers["farmland"]
    rect = shapely.oriented_envelope(fl.geometry.array)
    c = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(-1, 5, 2)
    sides = np.sort(np.c_[np.hypot(*(c[:, 1] - c[:, 0]).T), np.hypot(*(c[:, 2] - c[:, 1]).T)],
                    axis=1)
    width, length = sides[:, 0], sides[:, 1]
    assert np.median(width) == pytest.approx(12.5, abs=2.5)
    assert ((width >= 8) & (width <= 19)).mean() > 0.99
    assert ((length >= 75) & (length <= 210)).mean() > 0.99
    assert (length / width >= 4).mean() > 0.95
    codes = fl["landuse_code"].value_counts(normalize=True)
    assert codes["0101"] > 0.75
    assert 0.6 < fl["basic_farmland"].mean() < 0.95


def test_homestead_shares_are_plausible(layers):
    hs, hh = layers["homesteads"], layers["households"]
    area = hs.area
    assert area.between(60, 320).all()
    assert 0.08 <= (area > 140).mean() <= 0.18                      # 一宅超限
    status = hs["status"]
    assert 0.12 <= (status != "occupied").mean() <= 0.30
    assert 0.02 <= hs["household_id"].isna().mean() <= 0.06      # no registered household
    held = hs["household_id"].value_counts()
    assert 0.05 <= (held >= 2).sum() / len(hh) <= 0.12            # 一户多宅
    migrant = set(hh.loc[hh["residence"] == "migrant", "household_id"])
    idle_any = ((status != "occupied") | hs["household_id"].isna()
                | hs["household_id"].isin(migrant))
    assert 0.15 <= idle_any.mean() <= 0.40
    # vacant_since is given exactly for the buildings not lived in
    assert (hs["vacant_since"].notna() == (status != "occupied")).all()
    assert (hs["vacant_since"].dropna() <= SURVEY_YEAR).all()
    both = hs.dropna(subset=["vacant_since", "built_year"])
    assert (both["built_year"] <= both["vacant_since"]).all()
    res = hh["residence"].value_counts(normalize=True)
    assert res["resident"] == pytest.approx(0.80, abs=0.04)
    assert res["migrant"] == pytest.approx(0.12, abs=0.03)
    assert res["none"] == pytest.approx(0.08, abs=0.03)
    assert 0.55 <= hh["willing_to_relocate"].mean() <= 0.80
    assert hh["members"].between(1, 6).all()
    ratio = len(hs) / len(hh)
    assert 1.05 <= ratio <= 1.2


def test_a_village_without_homesteads_has_no_households():
    from landplan.datasets._people import households_and_status

    out = households_and_status(np.random.default_rng(1), np.array([0, 0, 2, 2, 2]), 3)
    assert 1 not in set(out["hh_village"])
    assert set(out["hh_village"]) <= {0, 2}
    held = out["holder"][out["holder"] >= 0]
    assert set(out["hh_village"][held]) <= {0, 2}


def test_personal_data_is_obviously_fake(layers):
    hh = layers["households"]
    assert hh["head_name"].str.startswith("测试户主").all()
    assert hh["id_number"].str.fullmatch(r"TEST\d{14}").all()


def test_transfers_are_partial_and_clustered_by_operator(layers):
    fl = layers["farmland"]
    t = fl[fl["transfer_mode"].notna()]
    assert 0.12 <= len(t) / len(fl) <= 0.28
    cols = ["transfer_operator", "transfer_start_year", "transfer_term_years"]
    assert t[cols].notna().all().all()
    assert fl.loc[fl["transfer_mode"].isna(), cols + ["rent_per_mu"]].isna().all().all()
    assert t.loc[t["transfer_mode"] != "exchange", "rent_per_mu"].between(300, 1000).all()
    # an operator farms contiguous blocks (strips joined across 2 m ditches and
    # ridges; a few holdouts): most of its strips lie in groups of 15 or more
    in_groups = 0
    for _op, grp in t.groupby("transfer_operator"):
        g = grp.geometry.array
        pairs = shapely.STRtree(g).query(g, predicate="dwithin", distance=2.5)
        graph = nx.Graph()
        graph.add_nodes_from(range(len(g)))
        graph.add_edges_from(zip(*pairs))
        sizes = np.array([len(c) for c in nx.connected_components(graph)])
        in_groups += sizes[sizes >= 15].sum()
    assert in_groups / len(t) > 0.75
    assert 5 <= t["transfer_operator"].nunique() <= 60


def test_road_network(layers):
    roads = layers["roads"]
    assert set(roads["road_class"]) == {"highway", "county", "town", "village", "farm"} or \
        set(roads["road_class"]) >= {"county", "town", "village", "farm"}
    bridges = roads[roads["bridge"]]
    assert len(bridges) > 50
    water = shapely.union_all(layers["water"].geometry.array)
    assert shapely.intersects(bridges.geometry.array, water).all()
    # mostly connected at shared end points (a few deliberate gaps and field roads)
    ends = shapely.get_coordinates(shapely.boundary(roads.geometry.array)).round(2)
    graph = nx.Graph()
    graph.add_edges_from(zip(map(tuple, ends[0::2]), map(tuple, ends[1::2])))
    biggest = max(nx.connected_components(graph), key=len)
    assert len(biggest) / graph.number_of_nodes() > 0.9
    # a few hamlets reachable only by boat: no road within 1 km
    tree = shapely.STRtree(roads.geometry.array)
    _, dist = tree.query_nearest(layers["homesteads"].geometry.array, return_distance=True,
                                 all_matches=False)
    assert 1 <= (dist > 1000).sum() <= 0.03 * len(dist)
    # no road runs through a house
    assert shapely.STRtree(layers["homesteads"].geometry.array).query(
        roads.geometry.array, predicate="intersects").size == 0


@pytest.fixture(scope="module")
def network(layers):
    g = graph_from_roads(layers["roads"])
    edges = edges_from_graph(g)
    label = _component_labels(g)
    edges["component"] = [label[u] for u in edges["from_node"]]
    return g, edges


def test_every_road_but_field_roads_is_on_the_main_network(network):
    g, edges = network
    off = edges[edges["component"] != 0]
    # isolated field roads (farm roads in blocks with no road either side) are fine
    assert (off["road_class"] == "farm").all(), off[["road_id", "road_class"]]
    assert 10 <= road_components(g).shape[0] <= 40
    assert edges.loc[edges["component"] == 0, "length"].sum() > 0.95 * edges["length"].sum()


def test_deliberate_gaps_are_reported_and_cut_nothing_off(network, layers):
    g, _ = network
    gaps = road_gaps(g)
    cls = layers["roads"].set_index("road_id")["road_class"]
    village = gaps[gaps["road_id"].map(cls).eq("village") & gaps["gap_m"].between(6.0, 9.0)]
    # three roads stop short; a gap between two pieces of one road is seen from both sides
    assert 3 <= village["node"].nunique() <= 6
    assert village["same_component"].all()


def test_hamlets_reach_the_main_network_except_the_boat_only_area(network, layers):
    g, _ = network
    hs = layers["homesteads"]
    att = attach_points(g, hs, id_column="homestead_id", water=layers["water"])
    assert att.index.equals(hs.index)
    _, dist = shapely.STRtree(layers["roads"].geometry.array).query_nearest(
        hs.geometry.array, return_distance=True, all_matches=False)
    boat = shapely.centroid(shapely.union_all(hs.geometry.array[dist > 1000]))
    off = hs.geometry.array[~att["on_main_network"].to_numpy()]
    assert len(off) < 0.01 * len(hs)
    # in or by the boat-only area, but for a house or two a river parts from its
    # hamlet's bridge (reached along a field road)
    assert (shapely.distance(off, boat) >= 1500).sum() <= 0.001 * len(hs)


def test_facilities_and_town_seat(layers):
    f = layers["facilities"]
    kinds = f["kind"].value_counts()
    assert kinds["town_hall"] == 1
    assert kinds["school"] >= 3 and kinds["clinic"] >= 10 and kinds["market"] >= 1
    t = layers["towns"].iloc[0]
    assert t["name"] == "新丰镇"
    assert t.geometry.contains(shapely.Point(t["seat_x"], t["seat_y"]))
    hall = f[f["kind"] == "town_hall"].geometry.iloc[0]
    assert hall.distance(shapely.Point(t["seat_x"], t["seat_y"])) < 800
    # town seat near 120.75E 30.75N
    lon, lat = layers["towns"].to_crs(4490).geometry.iloc[0].centroid.coords[0]
    assert 120.6 < lon < 121.0 and 30.6 < lat < 30.9


def test_protected_layers(layers):
    kinds = set(layers["protected"]["kind"])
    assert kinds == {"basic_farmland", "ecological_redline", "flood_zone"}


# -------------------------------------------------------------------------- rasters
def test_rasters(town, tmp_path):
    out = town.write(tmp_path / "r", spatial_index=False, overviews=False)
    for name, (lo, hi) in {"elevation": (0.5, 6.0), "flood_depth": (0.0, 2.0)}.items():
        with rasterio.open(out / "rasters" / f"{name}.tif") as src:
            assert src.crs.to_epsg() == 4549
            assert src.res == (10.0, 10.0)
            assert src.nodata == -9999.0
            assert src.dtypes[0] == "float32"
            assert src.profile["compress"].lower() == "deflate"
            assert src.profile["tiled"]
            a = src.read(1, masked=True)
            assert a.count() > 0.7 * a.size
            assert lo <= a.min() and a.max() <= hi
            # the raster covers the town
            b = src.bounds
            tb = town.layers["towns"].total_bounds
            assert b.left <= tb[0] and b.bottom <= tb[1] and b.right >= tb[2] and b.top >= tb[3]
    depth = town.rasters["flood_depth"]
    land = depth[depth != -9999.0]
    assert 0.05 < (land > 0).mean() < 0.5                          # flood-prone low ground


# ------------------------------------------------------------- towns joined up
def test_county_roads_of_town_one_reach_every_later_neighbour(layers):
    # T01 comes first: the later towns that border it (T03, T04, T05) continue its
    # county roads from the points where they meet the shared border
    roads = layers["roads"]
    county = roads[roads["road_class"] == "county"].geometry.array
    ends = shapely.get_coordinates(shapely.boundary(county))
    t01 = layers["towns"].geometry.iloc[0]
    for t in (2, 3, 4):
        assert 0 in [a for a, _ in lower_neighbours(t)]
        other = _town_grid(2008, t)[1]
        points = border_crossings(2008, t, other)
        assert len(points) == len(lower_neighbours(t))
        on_t01 = [p for p in points if t01.boundary.distance(shapely.Point(p)) < 0.01]
        assert len(on_t01) == 1, t
        assert np.hypot(*(ends - on_t01[0]).T).min() < 0.02, t


def test_the_suitability_check_finds_exactly_the_deliberate_site(tmp_path):
    from landplan.datasets import sample_path
    from landplan.project import Project
    from landplan.suitability import score_sites, suitability_raster

    p = Project.read(sample_path())
    scored = score_sites(p["sites"], p, suitability_raster(p, tmp_path / "score.tif"))
    flagged = scored[scored["on_protected"] | scored["in_water"]]
    assert len(flagged) == 1
    assert flagged["reasons"].str.contains("永久基本农田").all()
    assert (scored["buildings_m2"] == 0).all() and (scored["deep_flood_share"] == 0).all()


# ----------------------------------------------------------------------------- cache
def test_generator_fingerprint_follows_every_byte_of_the_sources(tmp_path):
    sources = sample_mod._generator_sources()
    names = {p.name for p in sources}
    assert {"_town.py", "_frame.py", "generate.py", "schema.py", "units.py"} <= names
    copies = []
    for src in sources:
        dst = tmp_path / src.name
        dst.write_bytes(src.read_bytes())
        copies.append(dst)
    assert generator_fingerprint(copies) == generator_fingerprint()
    town = tmp_path / "_town.py"
    town.write_bytes(town.read_bytes() + b"\n")
    assert generator_fingerprint(copies) != generator_fingerprint()


def test_district_cache_is_keyed_by_the_generator(tmp_path, monkeypatch):
    made = []

    def fake_write(out, *, n_towns, seed, progress):
        out.mkdir(parents=True, exist_ok=True)
        (out / "project.gpkg").write_bytes(f"{n_towns} {seed}".encode())
        made.append(out)

    monkeypatch.setenv("LANDPLAN_CACHE", str(tmp_path))
    monkeypatch.setattr(sample_mod, "write_district", fake_write)
    first = district_path(n_towns=2, seed=5)
    assert first.read_bytes() == b"2 5"
    assert first.parent.parent == tmp_path
    assert first.parent.name == f"district-n2-s5-v{GENERATOR_VERSION}-{generator_fingerprint()}"
    assert district_path(n_towns=2, seed=5) == first and len(made) == 1     # cached
    # the generator changed (a bumped version or not): a fresh district, never the old one
    monkeypatch.setattr(sample_mod, "generator_fingerprint", lambda paths=None: "0" * 12)
    second = district_path(n_towns=2, seed=5)
    assert second != first and len(made) == 2 and second.exists()
    monkeypatch.setattr(sample_mod, "GENERATOR_VERSION", GENERATOR_VERSION + 1)
    assert district_path(n_towns=2, seed=5) not in (first, second) and len(made) == 3


# ------------------------------------------------------------------------ scale/API
def test_scale_presets():
    assert resolve_n_towns("town") == 1
    assert resolve_n_towns("district") == 5
    assert resolve_n_towns(2) == 10
    with pytest.raises(ValueError):
        resolve_n_towns("province")
    with pytest.raises(ValueError):
        resolve_n_towns(n_towns=0)


def test_towns_of_a_second_district_are_suffixed_and_apart(layers):
    t = generate_town(2008, 5)
    assert t.name == TOWN_NAMES[0] + "2"
    assert not t.polygon.intersects(layers["towns"].geometry.iloc[0])


def test_sample_dir_is_the_repository_sample_unpacked(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDPLAN_CACHE", str(tmp_path / "cache"))
    folder = sample_dir()
    assert folder.parent == tmp_path / "cache" and folder.name.startswith("sample-")
    with zipfile.ZipFile(_REPO_SAMPLE / PACKED_NAME) as z:
        assert (folder / "project.gpkg").read_bytes() == z.read("project.gpkg")
    for tif in ("elevation.tif", "flood_depth.tif"):
        assert (folder / "rasters" / tif).read_bytes() == \
            (_REPO_SAMPLE / "rasters" / tif).read_bytes()
    # unpacked once: the second call finds it
    before = (folder / "project.gpkg").stat().st_mtime_ns
    assert sample_dir() == folder
    assert (folder / "project.gpkg").stat().st_mtime_ns == before


def test_read_layers_round_trip(tmp_path, town):
    out = town.write(tmp_path / "rt", spatial_index=False, overviews=False)
    back = read_layers(out / "project.gpkg")
    for name, df in town.layers.items():
        b = back[name]
        pd.testing.assert_frame_equal(pd.DataFrame(b.drop(columns="geometry", errors="ignore")),
                                      pd.DataFrame(df.drop(columns="geometry", errors="ignore")),
                                      check_dtype=True)


@pytest.mark.slow
def test_full_district():
    d = generate_district("district", seed=2008, rasters=False)
    L = d.layers
    assert list(L["towns"]["name"]) == list(TOWN_NAMES)
    assert 90 <= len(L["villages"]) <= 110
    assert 36_000 <= len(L["households"]) <= 44_000
    assert 41_000 <= len(L["homesteads"]) <= 49_000
    assert 135_000 <= len(L["farmland"]) <= 170_000
    for tid, area in zip(L["towns"]["town_id"], L["towns"].area):
        assert 60e6 <= area <= 90e6, tid
    # towns tile without overlapping
    g = L["towns"].geometry.array
    pairs = shapely.STRtree(g).query(g, predicate="overlaps")
    assert pairs.size == 0
    for name, spec in LAYERS.items():
        assert L[name][spec.key].is_unique, name
    # every town is joined to the district's network; only field roads lie apart
    g = graph_from_roads(L["roads"])
    edges = edges_from_graph(g)
    label = _component_labels(g)
    comp = np.array([label[u] for u in edges["from_node"]])
    town = edges["road_id"].str[:3]
    assert set(town[comp == 0]) == set(L["towns"]["town_id"])
    assert (edges.loc[comp != 0, "road_class"] == "farm").all()
    # each shared border is crossed by a county road: the two towns share its end node
    county = edges[edges["road_class"] == "county"]
    node_towns: dict = {}
    for u, v, t in zip(county["from_node"], county["to_node"], town[county.index]):
        for x in (u, v):
            node_towns.setdefault(x, set()).add(t)
    joined = {tuple(sorted(ts)) for ts in node_towns.values() if len(ts) == 2}
    expected = {(f"T{a + 1:02d}", f"T{t + 1:02d}") for t in range(5) for a, _ in lower_neighbours(t)}
    assert joined == expected == {("T01", "T03"), ("T01", "T04"), ("T01", "T05"),
                                  ("T02", "T03"), ("T02", "T05")}
    # hamlets off the main network are only those of the boat-only areas
    hs = L["homesteads"]
    att = attach_points(g, hs, id_column="homestead_id", water=L["water"])
    off = hs[~att["on_main_network"].to_numpy()]
    assert len(off) < 0.01 * len(hs)
    assert set(off["village_id"].str[:3]) <= set(L["towns"]["town_id"])
    _check_sites_are_planned_like_real_ones(L)
    # town T01 of the district is exactly the one-town generation
    one = generate_district(n_towns=1, seed=2008, rasters=False).layers
    for name in ("villages", "homesteads", "farmland", "roads"):
        key = LAYERS[name].key
        part = L[name][L[name][key].str.startswith("T01")].reset_index(drop=True)
        pd.testing.assert_frame_equal(pd.DataFrame(part.drop(columns="geometry")),
                                      pd.DataFrame(one[name].drop(columns="geometry")))
        assert shapely.equals_exact(part.geometry.array, one[name].geometry.array, 0).all()
