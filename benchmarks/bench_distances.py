"""Benchmark: hamlets x destinations road distance matrix on the generated district.

Measures, in one run on the same graph and the same attachments:

1. ``landplan.network.distance_matrix`` -- one capped scipy.sparse.csgraph
   Dijkstra per destination, all origins at once (metres and minutes);
2. networkx, one ``single_source_dijkstra_path_length`` per destination with
   the same cutoff (the best one can do in networkx alone);
3. networkx per pair: ``shortest_path_length`` for each hamlet x destination
   pair -- timed on a random sample of pairs and extrapolated to all pairs
   (the full run would take hours); the sample's values are checked against (1).

Run::

    python benchmarks/bench_distances.py [--towns 5] [--seed 2008] [--pairs 300]

The headline figure is printed last, on one line.
"""

from __future__ import annotations

import argparse
import os
import time

import networkx as nx
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2008)
    ap.add_argument("--pairs", type=int, default=300, help="pairs sampled for the per-pair baseline")
    ap.add_argument("--max-distance", type=float, default=3000.0)
    args = ap.parse_args()

    from landplan.datasets import district_path
    from landplan.network import destinations_from_project, distance_matrix, graph_from_roads
    from landplan.network.distance import _routing_matrices
    from landplan.project import Project

    t = time.perf_counter()
    project = Project.read(district_path(n_towns=args.towns, seed=args.seed))
    print(f"read district: {time.perf_counter() - t:.1f} s  {project!r}")

    t = time.perf_counter()
    from landplan.survey import hamlets_from_homesteads
    hamlets = hamlets_from_homesteads(project["homesteads"], project["households"],
                                      water=project["water"], roads=project["roads"],
                                      villages=project["villages"])
    print(f"hamlets (survey): {len(hamlets):,} in {time.perf_counter() - t:.1f} s")

    dest = destinations_from_project(project, facility_kinds=("school",))
    print(f"destinations: {len(dest)} ({', '.join(f'{k} {v}' for k, v in dest['kind'].value_counts().items())})")

    t = time.perf_counter()
    graph = graph_from_roads(project["roads"])
    t_graph = time.perf_counter() - t
    print(f"road graph: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges from "
          f"{len(project['roads']):,} roads in {t_graph:.2f} s "
          f"({len(graph.graph['duplicates'])} duplicate edges dropped)")

    # 1. landplan ------------------------------------------------------------------------
    t, c = time.perf_counter(), time.process_time()
    dm = distance_matrix(graph, hamlets, dest, origin_id="hamlet_id",
                         destination_id="destination_id", water=project["water"],
                         max_distance_m=args.max_distance)
    t_ours = time.perf_counter() - t
    c_ours = time.process_time() - c
    n_o, n_d = len(dm.origin_ids), len(dm.destination_ids)
    print(f"landplan distance_matrix: {t_ours:.2f} s wall ({c_ours:.2f} s CPU) for {n_o:,} x {n_d} "
          f"({len(dm.long):,} pairs within {args.max_distance:g} m, "
          f"{len(dm.unreachable())} hamlets reach none) -- including attachment")

    # the same graph with the attachment points spliced in, for the baselines
    net = _routing_matrices(graph, dm.origins, dm.destinations, link_speed_kmh=15.0)
    G = nx.from_scipy_sparse_array(net["length"], edge_attribute="length")
    link_o = dm.origins["link_m"].to_numpy(float)
    onodes, dnodes = net["origin_nodes"], net["dest_nodes"]

    # 2. networkx, one search per destination -----------------------------------------------
    t = time.perf_counter()
    nx_pairs = 0
    for d in dnodes:
        lengths = nx.single_source_dijkstra_path_length(G, int(d), cutoff=args.max_distance,
                                                        weight="length")
        for i, o in enumerate(onodes):
            v = lengths.get(int(o))
            if v is not None and v + link_o[i] <= args.max_distance:
                nx_pairs += 1
    t_nx_dest = time.perf_counter() - t
    print(f"networkx single_source_dijkstra per destination (cutoff): {t_nx_dest:.2f} s, "
          f"{nx_pairs:,} pairs (landplan {len(dm.long):,})")

    # 3. networkx per pair, sampled -----------------------------------------------------------
    rng = np.random.default_rng(0)
    sample = rng.choice(n_o * n_d, size=min(args.pairs, n_o * n_d), replace=False)
    got = dm.sparse.tolil()
    t = time.perf_counter()
    mismatches = 0
    for k in sample:
        i, j = divmod(int(k), n_d)
        try:
            v = nx.shortest_path_length(G, int(dnodes[j]), int(onodes[i]), weight="length")
            v += link_o[i]
        except nx.NetworkXNoPath:
            v = np.inf
        mine = got[i, j] if (got.rows[i] and j in got.rows[i]) else np.inf
        if v <= args.max_distance and not np.isclose(mine, v, atol=0.05):
            mismatches += 1
        if v > args.max_distance + 0.05 and np.isfinite(mine):
            mismatches += 1
    t_pair = (time.perf_counter() - t) / len(sample)
    t_pairs_all = t_pair * n_o * n_d
    print(f"networkx shortest_path_length per pair: {t_pair * 1000:.1f} ms/pair on {len(sample)} "
          f"sampled pairs -> {t_pairs_all:,.0f} s for all {n_o * n_d:,} pairs (extrapolated); "
          f"{mismatches} mismatches with landplan")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"HEADLINE distance matrix {n_o:,} hamlets x {n_d} destinations on "
          f"{graph.number_of_edges():,} road edges: landplan {t_ours:.2f} s vs networkx per pair "
          f"~{t_pairs_all:,.0f} s (extrapolated, {t_pairs_all / t_ours:,.0f}x) and networkx per "
          f"destination {t_nx_dest:.1f} s ({t_nx_dest / t_ours:.1f}x our time)")


if __name__ == "__main__":
    main()
