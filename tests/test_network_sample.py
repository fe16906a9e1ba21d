"""The road network on the bundled one-town sample: invariants, and agreement with networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from landplan.datasets import sample_path
from landplan.network import (
    destinations_from_project,
    distance_matrix,
    graph_from_roads,
    road_components,
    road_gaps,
)
from landplan.network.distance import _routing_matrices
from landplan.project import Project


@pytest.fixture(scope="module")
def sample():
    p = Project.read(sample_path())
    return p, graph_from_roads(p["roads"])


def test_graph_keeps_every_road_and_reports_its_pieces(sample):
    p, g = sample
    roads_in_graph = {d["road_id"] for _, _, d in g.edges(data=True)}
    dropped = set(g.graph["duplicates"]["road_id"])
    assert roads_in_graph | dropped == set(p["roads"]["road_id"])
    comps = road_components(g)
    assert comps["n_edges"].sum() == g.number_of_edges()
    assert comps["length_m"].sum() == pytest.approx(
        p["roads"].length.sum() - g.graph["duplicates"]["length_m"].sum(), rel=1e-3)
    assert comps.iloc[0]["is_main"] and comps["length_m"].is_monotonic_decreasing
    gaps = road_gaps(g, max_gap_m=20)
    assert (gaps["gap_m"] <= 20).all() and (gaps["gap_m"] > g.graph["snap_m"]).all()


def test_every_homestead_is_accounted_for_and_road_distance_beats_no_straight_line(sample):
    p, g = sample
    homes = p["homesteads"].iloc[::25]
    dest = destinations_from_project(p)
    dm = distance_matrix(g, homes, dest, origin_id="homestead_id",
                         destination_id="destination_id", water=p["water"])
    assert len(dm.origins) == len(homes) and dm.origins.index.equals(homes.index)
    reached = set(dm.long["origin"])
    unreached = set(dm.unreachable()["origin"])
    assert reached | unreached == set(homes["homestead_id"]) and not reached & unreached
    assert (dm.long["distance_m"] <= 3000).all()
    o = homes.set_index("homestead_id").geometry.representative_point()
    d = dest.set_index("destination_id").geometry.representative_point()
    straight = o.loc[dm.long["origin"]].distance(d.loc[dm.long["destination"]], align=False)
    assert (dm.long["distance_m"].to_numpy() >= straight.to_numpy() - 1e-6).all()
    # minutes are at most the slowest speed and at least the fastest
    assert (dm.long["minutes"] >= dm.long["distance_m"] / (80 * 1000 / 60) - 1e-6).all()


def test_sample_distances_match_networkx_per_pair(sample):
    p, g = sample
    homes = p["homesteads"].iloc[::97]
    sites = p["sites"]
    dm = distance_matrix(g, homes, sites, origin_id="homestead_id", water=p["water"])
    net = _routing_matrices(g, dm.origins, dm.destinations, link_speed_kmh=15.0)
    G = nx.from_scipy_sparse_array(net["length"], edge_attribute="length")
    link = dm.origins["link_m"].to_numpy()
    got = dm.sparse.toarray()
    have = dm.sparse.copy()
    have.data[:] = 1
    have = have.toarray().astype(bool)
    rng = np.random.default_rng(4)
    for i, j in zip(rng.integers(0, len(homes), 40), rng.integers(0, len(sites), 40)):
        try:
            want = nx.shortest_path_length(G, int(net["dest_nodes"][j]), int(net["origin_nodes"][i]),
                                           weight="length") + link[i]
        except nx.NetworkXNoPath:
            want = np.inf
        if want <= 3000 - 0.01:
            assert have[i, j] and got[i, j] == pytest.approx(want, abs=0.02)
        elif want > 3000 + 0.01:
            assert not have[i, j]
