"""Benchmark: the 10 m suitability rasters and candidate sites on the generated district.

Writes the score and exclusion GeoTIFFs of the whole district (window by
window), once on one thread and once on two, then finds candidate sites and
scores the district's own sites (its layout plan) the same way. Reports the
grid size, the times, the peak memory of the process and the figures a
planner reads (excluded area by kind, candidate sites and capacity).

Run::

    python benchmarks/bench_suitability.py [--towns 5] [--seed 2008] [--out DIR]

The headline figure is printed last, on one line.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2008)
    ap.add_argument("--out", type=Path, default=None, help="folder for the GeoTIFFs (default: temp)")
    args = ap.parse_args()

    import rasterio

    from landplan.datasets import district_path
    from landplan.project import Project
    from landplan.suitability import candidate_sites, score_sites, suitability_raster

    out = args.out or Path(tempfile.mkdtemp(prefix="landplan-suitability-"))
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    project = Project.read(district_path(n_towns=args.towns, seed=args.seed))
    print(f"read district: {time.perf_counter() - t:.1f} s  {project!r}")
    print(f"peak memory after reading: {_peak_mb():,.0f} MB")

    times, cpu = {}, {}
    for workers in (1, 2):
        t, c = time.perf_counter(), time.process_time()
        r = suitability_raster(project, out / f"score_w{workers}.tif", workers=workers,
                               overwrite=True)
        times[workers] = time.perf_counter() - t
        cpu[workers] = time.process_time() - c
        with rasterio.open(r.score) as src:
            shape = (src.height, src.width)
            size_mb = r.score.stat().st_size / 1e6
        print(f"suitability_raster workers={workers}: {times[workers]:.1f} s wall, "
              f"{cpu[workers]:.1f} s CPU, grid "
              f"{shape[1]:,} x {shape[0]:,} = {shape[0] * shape[1] / 1e6:.1f} M cells of "
              f"{r.cell_size_m:g} m, {r.cells / 1e6:.1f} M inside the towns; score file "
              f"{size_mb:.0f} MB; peak memory {_peak_mb():,.0f} MB")
    print("weights used:", {k: round(v, 3) for k, v in r.weights.items()})
    print(r.summary()[["zh", "area_mu", "share"]].round(3).to_string())

    t = time.perf_counter()
    cand = candidate_sites(project, r, min_score=0.5)
    t_cand = time.perf_counter() - t
    print(f"candidate_sites: {len(cand)} sites, capacity {int(cand['capacity_households'].sum()):,} "
          f"households on {cand['area_mu'].sum():,.0f} mu, in {t_cand:.1f} s; "
          f"on protected land: {int(cand['on_protected'].sum())}")
    t = time.perf_counter()
    plan = score_sites(project["sites"], project, r)
    t_plan = time.perf_counter() - t
    print(f"score_sites on the district's {len(plan)} planned sites: {t_plan:.1f} s; "
          f"on protected land {int(plan['on_protected'].sum())}, in water "
          f"{int(plan['in_water'].sum())}, mean score {plan['mean_score'].mean():.3f}")
    print(f"peak memory: {_peak_mb():,.0f} MB; rasters in {out}")
    print(f"load average over the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"HEADLINE suitability raster {shape[1]:,} x {shape[0]:,} cells at {r.cell_size_m:g} m "
          f"(score + 6 factors + exclusions, overviews): {times[2]:.1f} s wall on 2 threads "
          f"({cpu[2]:.1f} s CPU), {times[1]:.1f} s wall on 1 ({cpu[1]:.1f} s CPU)")


if __name__ == "__main__":
    main()
