"""The transfer functions on the bundled one-town sample: totals conserved, cross-checked."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from landplan.datasets import sample_path
from landplan.project import Project
from landplan.transfer import (apply_transfer_records, block_summary, farmland_adjacency, in_force,
                               land_shares, operation_blocks, transfer_progress, transfer_proposals)
from landplan.units import m2_to_mu


@pytest.fixture(scope="module")
def sample():
    return Project.read(sample_path())


@pytest.fixture(scope="module")
def sample_blocks(sample):
    return operation_blocks(sample["farmland"], water=sample["water"], roads=sample["roads"])


def test_progress_conserves_the_farmland(sample):
    f = sample["farmland"]
    towns = transfer_progress(sample)
    villages = transfer_progress(sample, level="village")
    total = m2_to_mu(f.geometry.area.sum())
    assert towns["farmland_mu"].sum() == pytest.approx(total)
    assert villages["farmland_mu"].sum() == pytest.approx(total)
    assert villages["parcels"].sum() == len(f)
    moved = in_force(f["transfer_start_year"], f["transfer_term_years"], f["transfer_mode"], 2008)
    assert towns["transferred_mu"].sum() == pytest.approx(m2_to_mu(f.geometry.area[moved].sum()))
    modes = [c for c in towns.columns if c.endswith("_mu") and c.split("_")[0] in
             ("lease", "shares", "exchange")]
    np.testing.assert_allclose(towns[modes].sum(axis=1), towns["transferred_mu"])
    assert towns["on_track"].notna().all()


def test_blocks_partition_the_transferred_parcels(sample, sample_blocks):
    f = sample["farmland"]
    p, b = sample_blocks
    moved = in_force(f["transfer_start_year"], f["transfer_term_years"], f["transfer_mode"], 2008)
    assert (p["block_all"].notna().to_numpy() == moved).all()
    for scope in ("all", "operator"):
        part = b[b["scope"] == scope]
        assert part["parcels"].sum() == moved.sum()
        assert part["area_m2"].sum() == pytest.approx(f.geometry.area[moved].sum())
    # dissolved geometry keeps the area
    assert b.geometry.area.sum() == pytest.approx(2 * f.geometry.area[moved].sum(), rel=1e-9)
    s = block_summary(b)
    assert s.loc["all", "reaches_100_mu"] == (b.query("scope == 'all'")["area_mu"] >= 100).sum()


def test_blocks_agree_with_a_plain_geopandas_computation(sample, sample_blocks):
    """Without barriers, blocks must equal buffer + sjoin + connected components."""
    f = sample["farmland"]
    moved = in_force(f["transfer_start_year"], f["transfer_term_years"], f["transfer_mode"], 2008)
    m = f[moved][["parcel_id", "geometry"]].copy()
    m["geometry"] = m.geometry.buffer(2.0)
    pairs = gpd.sjoin(m, m, predicate="intersects")
    g = nx.Graph()
    g.add_nodes_from(m["parcel_id"])
    g.add_edges_from(zip(pairs["parcel_id_left"], pairs["parcel_id_right"]))
    want = {frozenset(c) for c in nx.connected_components(g)}
    free = operation_blocks(f, geometry=False).parcels.dropna(subset=["block_all"])
    got = {frozenset(v) for _, v in free.groupby("block_all")["parcel_id"]}
    assert got == want
    # barriers can only split blocks, never join them
    barred = sample_blocks.parcels.dropna(subset=["block_all"])
    inside = barred.groupby("block_all")["parcel_id"].apply(frozenset)
    owner = {pid: blk for blk in want for pid in blk}
    assert all(len({owner[p] for p in blk}) == 1 for blk in inside)


def test_a_proposal_on_the_sample_is_contiguous_and_meets_the_target(sample):
    towns = transfer_progress(sample)
    tid = towns.index[0]
    target = float(towns.loc[tid, "transferred_mu"]) + 150
    prop = transfer_proposals(sample, tid, target_mu=target)
    s = prop.summary
    assert s["met"] and s["status"] == "Optimal"
    assert prop.parcels["area_mu"].sum() >= 150 - 1e-9
    # the fewest blocks possible: one, if any field of untransferred land holds 150 mu
    f = sample["farmland"]
    moved = in_force(f["transfer_start_year"], f["transfer_term_years"], f["transfer_mode"], 2008)
    free = f[~moved]
    adj = farmland_adjacency(free, water=sample["water"], roads=sample["roads"])
    g = nx.Graph()
    g.add_nodes_from(free["parcel_id"])
    g.add_edges_from(adj[["parcel_a", "parcel_b"]].itertuples(index=False, name=None))
    mu = dict(zip(free["parcel_id"], m2_to_mu(free.geometry.area.to_numpy())))
    largest = max(sum(mu[v] for v in c) for c in nx.connected_components(g))
    assert s["blocks"] == int(np.ceil(150 / largest)) if largest >= 150 else s["blocks"] >= 2
    assert f.set_index("parcel_id").loc[prop.parcels["parcel_id"], "transfer_mode"].isna().all()
    ids = set(prop.parcels["parcel_id"])
    sub = sample["farmland"][sample["farmland"]["parcel_id"].isin(ids)]
    adj = farmland_adjacency(sub, water=sample["water"], roads=sample["roads"])
    g = nx.Graph()
    g.add_nodes_from(ids)
    g.add_edges_from(adj[["parcel_a", "parcel_b"]].itertuples(index=False, name=None))
    assert nx.is_connected(g)


def test_import_and_shares_on_the_sample(sample, tmp_path):
    f = sample["farmland"]
    free = f[f["transfer_mode"].isna()].head(4)
    t = pd.DataFrame({"地块编号": list(free["parcel_id"]) + ["不存在"],
                      "流转方式": ["入股"] * 5, "流入方": ["样本土地股份合作社"] * 5,
                      "起始年": [2008] * 5, "期限": [15] * 5, "租金": [700] * 5})
    res = apply_transfer_records(f, t, rejected_path=tmp_path / "rejected.csv")
    assert len(res.rejected) == 1 and (tmp_path / "rejected.csv").exists()
    assert len(res.farmland) == len(f)
    ls = land_shares(res.farmland, free["parcel_id"])
    assert ls.summary["rent_per_mu"] == pytest.approx(700)
    assert ls.holders["area_m2"].sum() == pytest.approx(free.geometry.area.sum())
    assert ls.holders["dividend_yuan"].sum() == pytest.approx(
        round(700 * m2_to_mu(free.geometry.area.sum()), 2))
