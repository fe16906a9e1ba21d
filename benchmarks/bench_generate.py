"""Benchmark: generate the full synthetic district and write it.

Runs the generator in a child process (so its peak memory is the child's
``ru_maxrss``), writes ``project.gpkg`` and the two GeoTIFFs into a temporary
folder (or ``--out``), prints the count of every layer and the time of each
stage, and prints the headline figure last, on one line.

Run::

    python benchmarks/bench_generate.py [--towns 5] [--seed 2008] [--out DIR]

Target: the five-town district in under 60 s and under 4 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(args) -> None:
    from landplan.datasets import generate_district

    t0 = time.perf_counter()
    d = generate_district(n_towns=args.towns, seed=args.seed)
    t1 = time.perf_counter()
    d.write(args.out)
    t2 = time.perf_counter()
    counts = {name: len(df) for name, df in d.layers.items()}
    sizes = {p.relative_to(args.out).as_posix(): p.stat().st_size
             for p in sorted(Path(args.out).rglob("*")) if p.is_file()}
    print(json.dumps({"generate_s": t1 - t0, "write_s": t2 - t1, "counts": counts,
                      "sizes": sizes, "raster_shape": list(d.rasters["elevation"].shape)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2008)
    ap.add_argument("--out", type=Path, default=None, help="folder to write (default: temporary)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="landplan-bench-") as tmp:
        out = args.out or Path(tmp) / "district"
        cmd = [sys.executable, __file__, "--child", "--towns", str(args.towns),
               "--seed", str(args.seed), "--out", str(out)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            sys.stderr.write(proc.stderr)
            raise SystemExit(proc.returncode)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_gb = after.ru_maxrss * 1024 / 1e9          # ru_maxrss is in KiB on Linux
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    print(f"towns: {args.towns}, seed: {args.seed}")
    for name, n in res["counts"].items():
        print(f"  {name:<12} {n:>9,}")
    print(f"  rasters      {res['raster_shape'][0]} x {res['raster_shape'][1]} cells of 10 m")
    for name, size in res["sizes"].items():
        print(f"  {name:<24} {size / 1e6:8.1f} MB")
    print(f"generate {res['generate_s']:.1f} s, write {res['write_s']:.1f} s, "
          f"process wall {wall:.1f} s (incl. imports), cpu {cpu:.1f} s")
    total = res["generate_s"] + res["write_s"]
    print(f"generate district: {total:.1f} s, peak {peak_gb:.2f} GB "
          f"(target < 60 s, < 4 GB; {args.towns} towns)")


if __name__ == "__main__":
    main()
