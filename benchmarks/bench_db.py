"""Benchmark: write and read back the full generated district in PostGIS.

Issue 8's target: write and read back the full generated district (about 250,000
features) in under 60 s. Measured side by side, in the same run, on the same data:

- landplan: ``write_project_postgis`` (one transaction, streamed binary COPY, indexes,
  metadata, rasters) then ``read_project_postgis`` (streamed COPY, then the Project's
  validation restores dtypes and checks the data contract). The raw read without
  validation is reported too.
- baseline: geopandas' own path, ``GeoDataFrame.to_postgis`` / ``DataFrame.to_sql`` per
  layer then ``geopandas.read_postgis`` / ``pandas.read_sql`` per layer (no transaction
  across layers, no indexes, no validation, no rasters).

Usage::

    export LANDPLAN_TEST_DB=$(bash tools/postgis.sh)
    python benchmarks/bench_db.py              # full district (5 towns)
    python benchmarks/bench_db.py --towns 1    # one town, quicker

The headline is the last line.
"""

from __future__ import annotations

import argparse
import os
import time

import geopandas as gpd
import numpy as np
import pandas as pd

from landplan.datasets import district_path
from landplan.db import read_project_postgis, write_project_postgis
from landplan.db.connection import connect, redact_url
from landplan.project import Project

TARGET_S = 60.0


def _drop(url: str, schema: str) -> None:
    with connect(url) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _check_same(a: Project, b: Project) -> None:
    """The read-back project holds the same features, ids, values and geometries."""
    assert list(a.layers) == list(b.layers), (list(a.layers), list(b.layers))
    for name, left in a.layers.items():
        right = b[name]
        assert len(left) == len(right), name
        cols = [c for c in left.columns if c != getattr(left, "_geometry_column_name", None)]
        pd.testing.assert_frame_equal(pd.DataFrame(left[cols]), pd.DataFrame(right[cols]))
        if isinstance(left, gpd.GeoDataFrame):
            assert right.crs == left.crs, name
            same = left.geometry.values.geom_equals_exact(right.geometry.values, 0)
            assert bool(np.all(same)), name


def bench_landplan(project: Project, url: str, schema: str) -> dict:
    _drop(url, schema)
    t0 = time.perf_counter()
    write_project_postgis(project, url, schema=schema)
    t1 = time.perf_counter()
    back = read_project_postgis(url, schema=schema)
    t2 = time.perf_counter()
    read_project_postgis(url, schema=schema, validate=False)
    t3 = time.perf_counter()
    _check_same(project, back)
    return {"write_s": t1 - t0, "read_s": t2 - t1, "read_raw_s": t3 - t2, "total_s": t2 - t0}


def bench_geopandas(project: Project, url: str, schema: str) -> dict:
    import sqlalchemy

    _drop(url, schema)
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        t0 = time.perf_counter()
        for name, df in project.layers.items():
            if isinstance(df, gpd.GeoDataFrame):
                df.to_postgis(name, engine, schema=schema, if_exists="replace", index=False)
            else:
                df.to_sql(name, engine, schema=schema, if_exists="replace", index=False)
        t1 = time.perf_counter()
        n = 0
        for name, df in project.layers.items():
            sql = f'SELECT * FROM "{schema}"."{name}"'
            if isinstance(df, gpd.GeoDataFrame):
                back = gpd.read_postgis(sql, engine, geom_col=df.geometry.name)
            else:
                back = pd.read_sql(sql, engine)
            n += len(back)
        t2 = time.perf_counter()
    finally:
        engine.dispose()
    assert n == sum(len(df) for df in project.layers.values())
    return {"write_s": t1 - t0, "read_s": t2 - t1, "read_raw_s": t2 - t1, "total_s": t2 - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("LANDPLAN_TEST_DB"),
                        help="postgresql://user@host:port/db without password "
                             "(default: $LANDPLAN_TEST_DB)")
    parser.add_argument("--towns", type=int, default=None, help="towns (default: the full 5)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schemas")
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("set LANDPLAN_TEST_DB (export LANDPLAN_TEST_DB=$(bash tools/postgis.sh)) "
                         "or pass --url")
    t = time.perf_counter()
    project = Project.read(district_path(n_towns=args.towns))
    features = sum(len(df) for df in project.layers.values())
    print(f"district: {features:,} features in {len(project.layers)} layers "
          f"({', '.join(f'{len(v):,} {k}' for k, v in project.layers.items())}), "
          f"{len(project.rasters)} rasters; loaded from GeoPackage in "
          f"{time.perf_counter() - t:.1f} s")
    print(f"database: {redact_url(args.url)}")

    ours = bench_landplan(project, args.url, "bench_landplan")
    base = bench_geopandas(project, args.url, "bench_geopandas")
    if not args.keep:
        _drop(args.url, "bench_landplan")
        _drop(args.url, "bench_geopandas")
    table = pd.DataFrame({"landplan": ours, "geopandas to_postgis/read_postgis": base}).T
    table["features_per_s"] = 2 * features / table["total_s"]
    with pd.option_context("display.width", 160, "display.max_columns", 10,
                           "display.float_format", "{:,.1f}".format):
        print(table)
    print("read_s: landplan's includes the Project validation (dtypes, data contract); "
          "read_raw_s is the read alone. The baseline neither validates nor writes rasters, "
          "indexes or one transaction.")
    verdict = "meets" if ours["total_s"] < TARGET_S else "MISSES"
    print(f"PostGIS write + read back of {features:,} features: landplan {ours['total_s']:.1f} s "
          f"(write {ours['write_s']:.1f} s + read {ours['read_s']:.1f} s; {verdict} the "
          f"{TARGET_S:.0f} s target) vs geopandas to_postgis/read_postgis {base['total_s']:.1f} s")


if __name__ == "__main__":
    main()
