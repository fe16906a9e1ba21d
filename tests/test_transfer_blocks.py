"""Contiguous operation blocks: gaps, barriers, operators, thresholds, against brute force."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from landplan.errors import ValidationError
from landplan.transfer import block_summary, farmland_adjacency, operation_blocks
from landplan.units import mu_to_m2

CRS = "EPSG:4549"


def strips(xs, *, width=20.0, height=200.0, operators=None, transferred=None):
    """Vertical strips starting at ``xs``; all leased to operator 甲 unless told otherwise."""
    n = len(xs)
    operators = operators or ["甲"] * n
    transferred = [True] * n if transferred is None else transferred
    return gpd.GeoDataFrame({
        "parcel_id": [f"P{k}" for k in range(n)],
        "household_id": [f"H{k}" for k in range(n)],
        "village_id": "V1",
        "transfer_mode": [("lease" if t else None) for t in transferred],
        "transfer_operator": [(o if t else None) for o, t in zip(operators, transferred)],
        "transfer_start_year": [(2008 if t else None) for t in transferred],
        "transfer_term_years": [(10 if t else None) for t in transferred],
    }, geometry=[box(x, 0, x + width, height) for x in xs], crs=CRS)


def canal(x0, x1, y0=-50.0, y1=250.0, kind="canal"):
    return gpd.GeoDataFrame({"water_id": ["W1"], "kind": [kind]}, geometry=[box(x0, y0, x1, y1)],
                            crs=CRS)


def blocks_of(result):
    """Partition of parcel ids by overall block."""
    p = result.parcels.dropna(subset=["block_all"])
    return sorted(sorted(g["parcel_id"]) for _, g in p.groupby("block_all"))


def test_shared_edges_and_gaps_up_to_the_setting():
    f = strips([0, 20, 43, 68])          # edge, 3 m gap, 5 m gap
    assert blocks_of(operation_blocks(f, geometry=False)) == [["P0", "P1", "P2"], ["P3"]]
    wide = operation_blocks(f, join_gap_m=5.0, geometry=False)
    assert blocks_of(wide) == [["P0", "P1", "P2", "P3"]]
    assert blocks_of(operation_blocks(f, join_gap_m=0.0, geometry=False)) == [["P0", "P1"], ["P2"],
                                                                              ["P3"]]
    adj = farmland_adjacency(f)
    assert adj[["parcel_a", "parcel_b"]].values.tolist() == [["P0", "P1"], ["P1", "P2"]]
    assert adj["gap_m"].tolist() == pytest.approx([0.0, 3.0])


@pytest.mark.parametrize("kind", ["river", "canal", "pond"])
def test_never_across_water_in_the_gap(kind):
    f = strips([0, 23])                                  # 3 m apart: joined without water
    assert blocks_of(operation_blocks(f, geometry=False)) == [["P0", "P1"]]
    water = canal(20.5, 22.0, kind=kind)                 # a 1.5 m channel, off-centre
    assert blocks_of(operation_blocks(f, water=water, geometry=False)) == [["P0"], ["P1"]]
    # water of a kind not listed as a barrier is crossed
    res = operation_blocks(f, water=water, water_barriers=(), geometry=False)
    assert blocks_of(res) == [["P0", "P1"]]


def test_water_that_ends_part_way_can_be_walked_round():
    f = strips([0, 23])
    water = canal(20.5, 22.0, y0=-50, y1=150)            # stops 50 m short of the strips' end
    assert blocks_of(operation_blocks(f, water=water, geometry=False)) == [["P0", "P1"]]


def test_water_touching_only_one_side_does_not_cut():
    f = strips([0, 23])
    water = canal(-10, 0, kind="river")                  # along P0's far side
    assert blocks_of(operation_blocks(f, water=water, geometry=False)) == [["P0", "P1"]]


def test_roads_farm_roads_crossed_others_not():
    f = strips([0, 23])
    line = LineString([(21.5, -50), (21.5, 250)])
    for cls, joined in [("farm", True), ("village", False), ("county", False)]:
        roads = gpd.GeoDataFrame({"road_id": ["R1"], "road_class": [cls]}, geometry=[line], crs=CRS)
        got = blocks_of(operation_blocks(f, roads=roads, geometry=False))
        assert got == ([["P0", "P1"]] if joined else [["P0"], ["P1"]]), cls
    # a road along a shared edge separates too
    f2 = strips([0, 20])
    roads = gpd.GeoDataFrame({"road_id": ["R1"], "road_class": ["town"]},
                             geometry=[LineString([(20, -50), (20, 250)])], crs=CRS)
    assert blocks_of(operation_blocks(f2, roads=roads, geometry=False)) == [["P0"], ["P1"]]


def test_operator_blocks_split_the_overall_block():
    f = strips([0, 20, 40, 60, 80], operators=["甲", "甲", "乙", "甲", "甲"])
    res = operation_blocks(f, geometry=False)
    assert blocks_of(res) == [["P0", "P1", "P2", "P3", "P4"]]
    by_op = res.parcels.groupby("block_operator")["parcel_id"].apply(sorted).tolist()
    assert sorted(by_op) == [["P0", "P1"], ["P2"], ["P3", "P4"]]
    b = res.blocks.set_index("block_id")
    ops = b[b["scope"] == "operator"]
    assert sorted(ops["operator"]) == ["乙", "甲", "甲"]
    assert (b[b["scope"] == "all"]["operator"] == "all").all()


def test_only_transfers_in_force_and_untransferred_parcels_outside_blocks():
    f = strips([0, 20, 40], transferred=[True, False, True])
    res = operation_blocks(f, geometry=False)
    assert blocks_of(res) == [["P0"], ["P2"]]            # P1 is not transferred: no bridge
    assert res.parcels["block_all"].isna().tolist() == [False, True, False]
    f2 = f.copy()
    f2.loc[2, "transfer_start_year"] = 2009
    assert blocks_of(operation_blocks(f2, geometry=False)) == [["P0"]]
    assert blocks_of(operation_blocks(f2, year=2009, geometry=False)) == [["P0"], ["P2"]]


def test_thresholds_areas_and_geometry():
    # strips of 20 x 200 m = 6 mu; 17 joined strips = 102 mu, then a lone 6 mu strip far away
    xs = [20 * k for k in range(17)] + [1000]
    f = strips(xs)
    res = operation_blocks(f)
    b = res.blocks[res.blocks["scope"] == "all"].set_index("block_id")
    assert b["parcels"].tolist() == [17, 1]
    assert b["area_mu"].tolist() == pytest.approx([102.0, 6.0])
    assert b["reaches_100_mu"].tolist() == [True, False]
    assert not b["reaches_500_mu"].any()
    # the dissolved geometry is the union of the parcels: one rectangle
    g = b.loc["A0001", "geometry"]
    assert g.geom_type == "Polygon" and g.area == pytest.approx(mu_to_m2(102))
    assert g.equals(box(0, 0, 340, 200))
    summary = block_summary(res.blocks)
    assert summary.loc["all", "blocks"] == 2 and summary.loc["all", "reaches_100_mu"] == 1
    assert summary.loc["甲", "largest_mu"] == pytest.approx(102.0)
    custom = operation_blocks(f, thresholds_mu=[50], geometry=False).blocks
    assert "reaches_50_mu" in custom.columns and "reaches_100_mu" not in custom.columns


def test_index_kept_and_every_transferred_parcel_in_one_block_of_each_scope():
    f = strips([0, 20, 43, 68, 90], operators=["甲", "乙", "甲", "乙", "乙"])
    f.index = [10, 11, 12, 13, 14]
    res = operation_blocks(f)
    assert list(res.parcels.index) == [10, 11, 12, 13, 14]
    assert res.parcels["block_all"].notna().all() and res.parcels["block_operator"].notna().all()
    for scope in ("all", "operator"):
        b = res.blocks[res.blocks["scope"] == scope]
        assert b["parcels"].sum() == 5
        assert b["area_m2"].sum() == pytest.approx(f.area.sum())
        assert b.area.sum() == pytest.approx(f.area.sum())


def test_wrong_crs_is_refused():
    f = strips([0, 20]).to_crs("EPSG:4326")
    with pytest.raises(ValidationError, match="working CRS"):
        operation_blocks(f)


def test_random_layout_matches_brute_force():
    rng = np.random.default_rng(7)
    x, y = rng.uniform(0, 600, 150), rng.uniform(0, 600, 150)
    w, h = rng.uniform(8, 30, 150), rng.uniform(8, 30, 150)
    geoms = shapely.box(x, y, x + w, y + h)
    keep = []                                           # a proper layer: no overlaps
    for k, g in enumerate(geoms):
        if all(not g.intersects(geoms[m]) or g.touches(geoms[m]) for m in keep):
            keep.append(k)
    geoms = geoms[keep]
    n = len(geoms)
    ops = rng.choice(["甲", "乙"], n)
    moved = rng.random(n) < 0.7
    f = gpd.GeoDataFrame({
        "parcel_id": [f"R{k:03d}" for k in range(n)], "village_id": "V1",
        "transfer_mode": np.where(moved, "lease", None),
        "transfer_operator": np.where(moved, ops, None),
        "transfer_start_year": np.where(moved, 2008, None),
        "transfer_term_years": np.where(moved, 5, None)}, geometry=geoms, crs=CRS)
    res = operation_blocks(f, geometry=False)
    for scope, col in (("all", "block_all"), ("operator", "block_operator")):
        g = nx.Graph()
        g.add_nodes_from(np.flatnonzero(moved))
        for a, b in itertools.combinations(np.flatnonzero(moved), 2):
            if geoms[a].distance(geoms[b]) <= 4.0 and (scope == "all" or ops[a] == ops[b]):
                g.add_edge(a, b)
        want = sorted(sorted(f["parcel_id"].iloc[list(c)]) for c in nx.connected_components(g))
        p = res.parcels.dropna(subset=[col])
        got = sorted(sorted(grp["parcel_id"]) for _, grp in p.groupby(col))
        assert got == want, scope
        assert len(want) < moved.sum()                  # the layout has real blocks to find


def test_random_channels_between_strips():
    """A row of strips 3 m apart; some gaps hold a channel along their whole length (cut),
    some a channel that stops short (no cut): the blocks are known by construction."""
    rng = np.random.default_rng(11)
    n = 60
    xs = np.arange(n) * 23.0
    f = strips(xs)
    kinds = rng.choice(["none", "full", "short"], n - 1, p=[0.5, 0.25, 0.25])
    chan = []
    for k, kind in enumerate(kinds):
        if kind == "none":
            continue
        x0 = xs[k] + 20 + rng.uniform(0.2, 1.2)          # anywhere in the 3 m gap
        y1 = 250.0 if kind == "full" else rng.uniform(20, 170)
        chan.append(box(x0, -50, x0 + 1.5, y1))
    water = gpd.GeoDataFrame({"water_id": [f"W{k}" for k in range(len(chan))], "kind": "canal"},
                             geometry=chan, crs=CRS)
    want, cur = [], ["P0"]
    for k, kind in enumerate(kinds):
        if kind == "full":
            want.append(cur)
            cur = []
        cur.append(f"P{k + 1}")
    want.append(cur)
    got = blocks_of(operation_blocks(f, water=water, geometry=False))
    assert got == sorted(sorted(b) for b in want)
    assert (kinds == "full").sum() >= 5 and (kinds == "short").sum() >= 5


def test_a_block_is_labelled_with_the_village_holding_most_of_it():
    f = strips([0, 20, 40, 60, 200])
    f["village_id"] = ["V1", "V2", "V2", "V2", "V1"]
    b = operation_blocks(f, geometry=False).blocks.set_index("block_id")
    assert b.loc["A0001", "village_id"] == "V2" and b.loc["A0001", "parcels"] == 4
    assert b.loc["A0002", "village_id"] == "V1"
