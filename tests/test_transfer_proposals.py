"""Proposals for towns short of their target: fewest, largest contiguous blocks."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landplan.errors import InfeasibleError
from landplan.project import Project
from landplan.transfer import farmland_adjacency, transfer_progress, transfer_proposals
from landplan.units import m2_to_mu

CRS = "EPSG:4549"
STRIP_MU = 6.0      # 20 m x 200 m


def town(groups, *, name="新丰镇", water=None):
    """One town, one village; ``groups`` is a list of (x0, n_transferred, n_candidates,
    owners) rows of 20 x 200 m strips 1 m apart (a ditch), transferred strips first."""
    rows, geoms = [], []
    k = 0
    for x0, n_t, n_c, *rest in groups:
        owners = rest[0] if rest else None
        for m in range(n_t + n_c):
            moved = m < n_t
            owner = owners[m - n_t] if (owners is not None and not moved) else f"H{k:03d}"
            rows.append({"parcel_id": f"P{k:03d}", "household_id": owner, "village_id": "V1",
                         "transfer_mode": "lease" if moved else None,
                         "transfer_operator": "合作社" if moved else None,
                         "transfer_start_year": 2008 if moved else None,
                         "transfer_term_years": 10 if moved else None})
            geoms.append(box(x0 + 21 * m, 0, x0 + 21 * m + 20, 200))
            k += 1
    farmland = gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)
    layers = {"towns": pd.DataFrame({"town_id": ["T1"], "name": [name]}),
              "villages": pd.DataFrame({"village_id": ["V1"], "town_id": ["T1"], "name": ["试点村"]}),
              "farmland": farmland}
    if water is not None:
        layers["water"] = water
    return layers


def assert_contiguous(layers, prop):
    """Every proposed block is connected through adjacency, together with transferred land."""
    f = layers["farmland"]
    adj = farmland_adjacency(f, water=layers.get("water"))
    g = nx.Graph()
    g.add_edges_from(adj[["parcel_a", "parcel_b"]].itertuples(index=False, name=None))
    moved = set(f.loc[f["transfer_mode"].notna(), "parcel_id"])
    for name, grp in prop.parcels.groupby("proposal_block"):
        nodes = set(grp["parcel_id"])
        # the block: proposed parcels plus the transferred parcels they connect to
        sub = g.subgraph(nodes | moved)
        comps = [c for c in nx.connected_components(sub) if c & nodes]
        assert len(comps) == 1, name


def test_grows_the_block_that_reaches_100_mu_rather_than_the_largest_field():
    # A: 15 transferred strips (90 mu) with 5 candidates beside them (30 mu);
    # B: 40 candidates (240 mu) far away. Need 25 mu.
    layers = town([(0, 15, 5), (5000, 0, 40)])
    prop = transfer_proposals(layers, "T1", target_mu=90 + 25)
    assert prop.summary["status"] == "Optimal" and prop.summary["met"]
    assert len(prop.blocks) == 1 and prop.summary["new_blocks"] == 0
    b = prop.blocks.iloc[0]
    assert b["existing_mu"] == pytest.approx(90) and b["reaches_100_mu"]
    assert prop.parcels["parcel_id"].tolist() == ["P015", "P016", "P017", "P018", "P019"]
    assert prop.parcels["area_mu"].sum() == pytest.approx(30)
    assert prop.parcels["adjacent_to_transferred"].tolist() == [True, False, False, False, False]
    assert prop.parcels["cumulative_mu"].tolist() == pytest.approx([6, 12, 18, 24, 30])
    assert_contiguous(layers, prop)


def test_one_new_block_beats_several_scattered_growths():
    # four transferred strips, each in its own field with 5 candidates (30 mu);
    # one untouched field of 40 candidates. Need 100 mu: one new block, not four growths.
    groups = [(x, 1, 5) for x in (0, 1000, 2000, 3000)] + [(6000, 0, 40)]
    layers = town(groups)
    prop = transfer_proposals(layers, "T1", target_mu=4 * STRIP_MU + 100)
    assert prop.summary["blocks"] == 1 and prop.summary["new_blocks"] == 1
    assert prop.parcels["area_mu"].sum() == pytest.approx(102)    # 17 strips, least over 100
    assert prop.blocks.iloc[0]["reaches_100_mu"]
    assert_contiguous(layers, prop)
    # the new block grows from the field's centre outwards, contiguously
    xs = prop.parcels.geometry.centroid.x.to_numpy()
    assert np.all(np.abs(np.diff(np.sort(xs))) == pytest.approx(21.0))


def test_needs_several_blocks_when_no_field_is_big_enough():
    layers = town([(0, 2, 10), (2000, 0, 10), (4000, 0, 3)])
    prop = transfer_proposals(layers, "T1", target_mu=2 * STRIP_MU + 100)
    assert prop.summary["met"]
    assert prop.summary["blocks"] == 2
    # the largest block is listed first, and ranks run through blocks in order
    order = prop.parcels["proposal_block"].tolist()
    assert order == sorted(order)
    first = prop.blocks.set_index("proposal_block").loc[order[0]]
    assert first["area_mu"] == prop.blocks["area_mu"].max()
    assert_contiguous(layers, prop)


def test_never_proposes_across_water():
    water = gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["river"]},
                             geometry=[box(62.2, -10, 62.8, 210)], crs=CRS)
    # strips P000..P002 transferred, P003.. beyond a thin river in the ditch after P002
    layers = town([(0, 3, 10)], water=water)
    prop = transfer_proposals(layers, "T1", target_mu=18 + 12)
    assert prop.blocks.iloc[0]["existing_mu"] == 0       # a new block: it cannot join P000..P002
    assert not prop.parcels["adjacent_to_transferred"].any()
    assert_contiguous(layers, prop)


def test_exceed_rule_needs_strictly_more():
    at_least = transfer_proposals(town([(0, 5, 10)]), "T1", target_mu=36)
    exceed = transfer_proposals(town([(0, 5, 10)], name="凤桥镇"), "T1", target_mu=36)
    assert at_least.parcels["area_mu"].sum() == pytest.approx(6)
    assert exceed.parcels["area_mu"].sum() == pytest.approx(12)
    assert exceed.summary["target_rule"] == "exceed" and exceed.summary["met"]


def test_willing_owners_only_and_owners_table():
    owners = ["H900", "H901", "H900", "H902", "H903", "H904"]
    layers = town([(0, 2, 6, owners)])
    prop = transfer_proposals(layers, "T1", target_mu=12 + 12, willing={"H900", "H903"})
    assert set(prop.parcels["household_id"]) <= {"H900", "H903"}
    o = prop.owners.set_index("household_id")
    assert o["parcels"].sum() == len(prop.parcels)
    assert o["area_mu"].sum() == pytest.approx(prop.parcels["area_mu"].sum())
    # a boolean Series works the same way
    flags = pd.Series({"H900": True, "H901": False, "H902": False, "H903": True, "H904": False})
    again = transfer_proposals(layers, "T1", target_mu=24, willing=flags)
    assert again.parcels["parcel_id"].tolist() == prop.parcels["parcel_id"].tolist()
    # with everyone willing the proposal is contiguous from the transferred block
    everyone = transfer_proposals(layers, "T1", target_mu=24)
    assert everyone.parcels["parcel_id"].tolist() == ["P002", "P003"]
    assert everyone.owners["household_id"].tolist() == ["H900", "H901"]


def test_not_enough_land_says_how_much_is_missing():
    layers = town([(0, 2, 3)])
    with pytest.raises(InfeasibleError, match="short by 100.0 mu but only 18.0 mu"):
        transfer_proposals(layers, "T1", target_mu=12 + 100)
    with pytest.raises(InfeasibleError, match="of willing owners"):
        transfer_proposals(layers, "T1", target_mu=12 + 10, willing=["H002"])


def test_town_on_track_gets_an_empty_proposal():
    prop = transfer_proposals(town([(0, 5, 5)]), "T1", target_mu=20)
    assert prop.summary["met"] and prop.summary["status"] == "met"
    assert prop.parcels.empty and prop.blocks.empty and prop.owners.empty
    assert "reaches_100_mu" in prop.blocks.columns


def test_on_the_tiny_project_with_the_scenario_target(tiny):
    p = Project(tiny)
    with pytest.raises(InfeasibleError):                 # 3000 mu cannot come from 13.5 mu
        transfer_proposals(p, "T1")
    prop = transfer_proposals(p, "T1", target_mu=20)
    progress = transfer_progress(p)
    short = 20 - progress.loc["T1", "transferred_mu"]
    assert prop.summary["needed_mu"] == pytest.approx(short)
    got = prop.parcels["area_mu"].sum()
    assert got >= short and got - short < m2_to_mu(1500)   # not a parcel more than needed
    f = tiny["farmland"].set_index("parcel_id")
    assert f.loc[prop.parcels["parcel_id"], "transfer_mode"].isna().all()
    assert set(prop.parcels["village_id"]) <= {"T1V1", "T1V2"}
    # the index is the farmland layer's
    assert (tiny["farmland"].loc[prop.parcels.index, "parcel_id"].to_numpy()
            == prop.parcels["parcel_id"].to_numpy()).all()
