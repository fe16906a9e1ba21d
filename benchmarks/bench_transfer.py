"""Benchmark: transfer progress and contiguous operation blocks on the generated district.

The issue asks for blocks and progress for the full generated district (about
150,000 parcels) in under 15 s on 2 cores. Measured in one run, on the same
layers:

1. ``landplan.transfer.transfer_progress`` (towns and villages) and
   ``landplan.transfer.operation_blocks`` (adjacency with water and road
   barriers, components overall and per operator, dissolved block geometry);
2. the baseline a GIS analyst would write with geopandas alone: buffer every
   parcel by half the join gap, ``sjoin`` the buffers on ``intersects``,
   networkx connected components of the transferred parcels, and
   ``dissolve`` by block -- with *no* barrier test (it does less work, and
   joins blocks across rivers); its partition is compared with (1) run without
   barriers, which must agree exactly.

Also timed, for the note: a proposal (networkx + HiGHS) for the town with the
least transferred land, asked to add 3,000 mu.

Run::

    python benchmarks/bench_transfer.py [--towns 5] [--seed 2008] [--skip-baseline]

The headline figure is printed last, on one line.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import networkx as nx
import numpy as np
import pandas as pd


def baseline_blocks(farmland, *, gap: float, year: int):
    """Blocks of transferred land the plain geopandas way (no barriers)."""
    import geopandas as gpd

    from landplan.transfer import in_force

    active = in_force(farmland["transfer_start_year"], farmland["transfer_term_years"],
                      farmland["transfer_mode"], year)
    moved = farmland[active][["parcel_id", "transfer_operator", "geometry"]].copy()
    buffered = moved.copy()
    buffered["geometry"] = moved.geometry.buffer(gap / 2)
    pairs = gpd.sjoin(buffered, buffered, predicate="intersects")
    pairs = pairs[pairs["parcel_id_left"] < pairs["parcel_id_right"]]
    g = nx.Graph()
    g.add_nodes_from(moved["parcel_id"])
    g.add_edges_from(zip(pairs["parcel_id_left"], pairs["parcel_id_right"]))
    label = {}
    for k, comp in enumerate(nx.connected_components(g)):
        for v in comp:
            label[v] = k
    moved["block"] = moved["parcel_id"].map(label)
    dissolved = moved.dissolve(by="block")
    return moved, dissolved


def partition(parcel_ids, labels) -> set:
    s = pd.Series(np.asarray(parcel_ids), index=np.asarray(labels, dtype=object))
    return {frozenset(v) for _, v in s.groupby(level=0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2008)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-proposal", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from landplan.datasets import district_path
    from landplan.project import Project
    from landplan.scenario import load_scenario
    from landplan.transfer import (block_summary, operation_blocks, transfer_progress,
                                   transfer_proposals)

    scenario = load_scenario()
    gap = float(scenario.transfer["join_gap_m"])
    year = int(scenario.plan["year"])
    t = time.perf_counter()
    project = Project.read(district_path(n_towns=args.towns, seed=args.seed))
    farmland = project["farmland"]
    print(f"read district: {time.perf_counter() - t:.1f} s  ({len(farmland):,} farmland parcels, "
          f"{len(project['water']):,} water, {len(project['roads']):,} roads)")

    print(f"load average before timing (2 cores shared): "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    t0, c0 = time.perf_counter(), time.process_time()
    towns = transfer_progress(project, scenario=scenario)
    villages = transfer_progress(project, level="village", scenario=scenario)
    t1, c1 = time.perf_counter(), time.process_time()
    result = operation_blocks(farmland, water=project["water"], roads=project["roads"],
                              scenario=scenario)
    t2, c2 = time.perf_counter(), time.process_time()
    ours, ours_cpu = t2 - t0, c2 - c0
    print(f"landplan progress (towns + {len(villages)} villages): {t1 - t0:.2f} s wall, "
          f"{c1 - c0:.2f} s CPU")
    print(f"landplan operation_blocks (barriers, per operator, dissolved): {t2 - t1:.2f} s wall, "
          f"{c2 - c1:.2f} s CPU")
    print(towns[["town", "transferred_mu", "target_mu", "on_track", "short_by_mu"]]
          .round(1).to_string())
    summ = block_summary(result.blocks)
    print(f"blocks of transferred land: {int(summ.loc['all', 'blocks']):,}; "
          f">= 100 mu (百亩方): {int(summ.loc['all', 'reaches_100_mu'])}; "
          f">= 500 mu: {int(summ.loc['all', 'reaches_500_mu'])}; "
          f"largest {summ.loc['all', 'largest_mu']:.0f} mu")

    base = None
    if not args.skip_baseline:
        t, c = time.perf_counter(), time.process_time()
        moved, dissolved = baseline_blocks(farmland, gap=gap, year=year)
        base, base_cpu = time.perf_counter() - t, time.process_time() - c
        print(f"baseline geopandas buffer + sjoin + networkx + dissolve (no barriers): "
              f"{base:.2f} s wall, {base_cpu:.2f} s CPU, {len(dissolved):,} blocks")
        t = time.perf_counter()
        free = operation_blocks(farmland, scenario=scenario, geometry=False)
        print(f"landplan without barriers, for the comparison: {time.perf_counter() - t:.2f} s")
        p = free.parcels.dropna(subset=["block_all"])
        same = partition(p["parcel_id"], p["block_all"]) == partition(moved["parcel_id"],
                                                                     moved["block"])
        print(f"partitions without barriers agree with the baseline: {same}")
        merged = int(summ.loc["all", "blocks"]) - len(dissolved)
        print(f"blocks the baseline merges across water or barrier roads: {merged:,}")

    if not args.skip_proposal:
        tid = towns["transferred_mu"].idxmin()
        target = float(towns.loc[tid, "transferred_mu"]) + 3000.0
        t, c = time.perf_counter(), time.process_time()
        prop = transfer_proposals(project, tid, target_mu=target, scenario=scenario)
        s = prop.summary
        print(f"proposal for {s['town']} (+3,000 mu): {time.perf_counter() - t:.1f} s wall, "
              f"{time.process_time() - c:.1f} s CPU, "
              f"{s['parcels']:,} parcels of {s['households']:,} households in {s['blocks']} "
              f"blocks ({s['new_blocks']} new), {s['proposed_mu']:,.1f} mu; solver {s['status']}, "
              f"gap {s['mip_gap']:.2g}")

    vs = (f"; geopandas baseline without barriers {base:.1f} s wall / {base_cpu:.1f} s CPU"
          if base is not None else "")
    print(f"HEADLINE: progress + blocks for {len(farmland):,} parcels in {ours:.1f} s wall / "
          f"{ours_cpu:.1f} s CPU (budget 15 s{vs})")


if __name__ == "__main__":
    main()
