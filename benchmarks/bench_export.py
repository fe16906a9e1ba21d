"""Benchmark: county GIS export (Shapefile + GeoPackage + File Geodatabase).

Measures :func:`landplan.export.export_county` against the baseline a planner
would otherwise write -- ``GeoDataFrame.to_file`` of every layer in the same
three formats (pyogrio engine, no checks) -- in the same run, on the
committed one-town sample and on the generated five-town district. It also
counts what the baseline gets wrong for ArcGIS: shapefile field names cut at
10 bytes, integer columns stored as Double or Big Integer in the File
Geodatabase (ArcMap 10.x cannot read Big Integer), personal columns written.

Run: ``python benchmarks/bench_export.py [--sample-only] [--repeat N]``.
The last line is the headline figure.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio

from landplan.datasets import district_path, sample_path
from landplan.export import PERSONAL_COLUMNS, export_county
from landplan.project import Project


def baseline(project: Project, out: Path) -> dict:
    """Every layer with to_file in the three formats; returns the defects found."""
    cut = int64 = personal = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (out / "shp").mkdir(parents=True)
        for name, df in project.layers.items():
            if isinstance(df, gpd.GeoDataFrame):
                df.to_file(out / "shp" / f"{name}.shp", engine="pyogrio", encoding="utf-8")
                df.to_file(out / "project.gpkg", layer=name, driver="GPKG", engine="pyogrio")
                # mixed Polygon/MultiPolygon fails in a File Geodatabase without promotion
                df.to_file(out / "project.gdb", layer=name, driver="OpenFileGDB", engine="pyogrio",
                           promote_to_multi=True)
            else:  # a table: what to_file does for a GeoDataFrame, through pyogrio directly
                pyogrio.write_dataframe(df, out / "shp" / f"{name}.dbf", encoding="utf-8")
                pyogrio.write_dataframe(df, out / "project.gpkg", layer=name, driver="GPKG",
                                        append=(out / "project.gpkg").exists())
                pyogrio.write_dataframe(df, out / "project.gdb", layer=name, driver="OpenFileGDB",
                                        append=(out / "project.gdb").exists())
            cut += sum(len(c.encode()) > 10 for c in df.columns)
            personal += sum(c in PERSONAL_COLUMNS for c in df.columns)
    for name, df in project.layers.items():
        info = pyogrio.read_info(out / "project.gdb", layer=name)
        types = dict(zip(info["fields"], info["ogr_types"]))
        ints = [c for c in df.columns if str(df[c].dtype) in ("Int64", "int64")]
        int64 += sum(types.get(c) in ("OFTReal", "OFTInteger64") for c in ints)
    return {"names_cut": cut, "integers_as_float_or_int64_in_gdb": int64,
            "personal_columns": personal}


def run(label: str, path: Path, repeat: int) -> tuple[float, float, int]:
    project = Project.read(path)
    features = sum(len(v) for v in project.layers.values())
    ours, base = [], []
    defects = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            defects = baseline(project, Path(tmp) / "baseline")
            base.append(time.perf_counter() - t)
            t = time.perf_counter()
            manifest = export_county(project, Path(tmp) / "landplan", name="project")
            ours.append(time.perf_counter() - t)
            size = sum(p.stat().st_size for p in (Path(tmp) / "landplan").rglob("*") if p.is_file())
            shutil.rmtree(Path(tmp) / "landplan")
    assert int(manifest["features"].sum()) == 3 * features  # every feature, every format
    print(f"{label}: {features:,} features in {len(project.layers)} layers; "
          f"export_county {min(ours):.2f} s ({size / 2**20:.0f} MB), "
          f"baseline to_file {min(base):.2f} s; baseline defects: {defects}")
    return min(ours), min(base), features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample-only", action="store_true", help="skip the five-town district")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (best is reported)")
    args = ap.parse_args()
    results = [("sample (1 town)",) + run("sample (1 town)", sample_path(), args.repeat)]
    if not args.sample_only:
        results.append(("district (5 towns)",) +
                       run("district (5 towns)", district_path(n_towns=5, seed=2008), args.repeat))
    label, ours, base, features = results[-1]
    print(f"HEADLINE export_county {label}, {features:,} features to shp+gpkg+gdb: {ours:.1f} s "
          f"vs to_file baseline {base:.1f} s ({ours / base:.2f}x)")


if __name__ == "__main__":
    main()
