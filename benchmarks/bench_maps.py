"""Benchmark: offline plan maps, size and render time in headless Chromium.

Targets (issue 6): a whole-district plan map under 15 MB that a real browser
renders in under 5 s; a town map under 3 MB.

Maps:

- district: the generated district (``landplan.datasets.district_path()``,
  5 towns): towns, villages, hamlets, homestead survey flags (every plot
  flagged idle, surplus or oversize), candidate and opened sites, moves,
  farmland blocks, village transfer progress, roads, water, facilities, and
  the elevation hillshade as background; the same again with all 184k
  farmland parcels as a layer (off when the map opens);
- town: the committed sample town (``landplan.datasets.sample_path()``), the
  same layers plus its 31k farmland parcels.

Sites opened and moves are illustrative (each hamlet to its nearest candidate
site; sites gathering 50 households or more open): the map's size and speed
do not depend on the plan's quality, and the benchmark should not depend on
the solver.

Baseline, side by side in the same run: folium's default encoding of the same
layers and columns (``folium.GeoJson`` per layer, every vertex, full float
precision, tooltips with ``GeoJsonTooltip``, points as circle markers without
clustering) on the same offline page (Leaflet inlined), so that only the data
encoding differs. A stock ``folium.Map`` saved with ``m.save`` is also opened
offline: its CDN requests are blocked and counted.

Render time: from navigation start to the second animation frame after the
``load`` event, inside the page (median of 3 opens). The machine has 2 shared
cores: figures vary by tens of percent between runs.

Run: ``python benchmarks/bench_maps.py`` (about 5 minutes; ``--quick`` for the
town only).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from landplan.datasets import district_path, sample_path
from landplan.maps import move_lines, plan_map, save_offline
from landplan.maps.browser import check_in_browser, launch_chromium
from landplan.maps.encode import display_geometry, encode_geometry, js_json
from landplan.maps.interactive import layer_properties
from landplan.maps.offline import OfflineMap
from landplan.maps.styles import LAYER_STYLES
from landplan.project import Project
from landplan.survey import hamlets_from_homesteads, survey_homesteads
from landplan.transfer import operation_blocks, transfer_progress

os.environ.setdefault("TQDM_DISABLE", "1")
MB = 1e6


def plan_layers(project: Project, *, with_farmland: bool) -> tuple[dict, dict]:
    """The plan map's layers for a project, and the seconds each step took."""
    t = {}
    t0 = time.perf_counter()
    flags = survey_homesteads(project["homesteads"], project["households"])
    flags = flags[flags["survey_class"] != "in_use"]
    t["survey"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hamlets = hamlets_from_homesteads(project["homesteads"], project["households"],
                                      water=project["water"], roads=project["roads"],
                                      villages=project["villages"])
    t["hamlets"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    progress = transfer_progress(project.layers, level="village")
    blocks = operation_blocks(project["farmland"], water=project["water"], roads=project["roads"]).blocks
    t["transfer"] = time.perf_counter() - t0
    # illustrative plan: each hamlet to its nearest candidate site
    sites = project["sites"].copy()
    points = hamlets[["hamlet_id", "households", "geometry"]].copy()
    points["geometry"] = points.representative_point()
    near = gpd.sjoin_nearest(points, sites[["site_id", "geometry"]], distance_col="distance_m")
    near = near[~near.index.duplicated()]
    moves = pd.DataFrame({"origin": near["hamlet_id"], "destination": near["site_id"],
                          "households": near["households"], "distance_m": near["distance_m"]})
    gathered = moves.groupby("destination")["households"].sum()
    sites["households"] = sites["site_id"].map(gathered)
    sites["opened"] = sites["households"].fillna(0) >= 50
    moves = moves[moves["destination"].isin(sites.loc[sites["opened"], "site_id"])]
    layers = {"towns": project["towns"], "villages": project["villages"],
              "water": project["water"], "roads": project["roads"],
              "transfer": progress, "blocks": blocks, "hamlets": hamlets,
              "facilities": project["facilities"], "sites": sites,
              "moves": move_lines(moves, hamlets, sites), "homestead_flags": flags}
    if with_farmland:
        layers["farmland"] = project["farmland"]
    return layers, t


def baseline_map(layers: dict) -> OfflineMap:
    """folium's default encoding of the same layers and columns (GeoJson, full precision)."""
    m = OfflineMap(location=[30.75, 120.78], zoom_start=12, prefer_canvas=True, maxZoom=20)
    frames = dict(layers)
    if "sites" in frames and "opened" in frames["sites"].columns:
        s = frames.pop("sites")
        frames["sites"] = s[~s["opened"]]
        frames["opened_sites"] = s[s["opened"]]
    if "transfer" in frames:
        prog = frames.pop("transfer").reset_index()
        v = frames["villages"][["village_id", "geometry"]]
        frames["transfer"] = gpd.GeoDataFrame(v.merge(prog, on="village_id", how="left"),
                                              geometry="geometry", crs=v.crs)
    for key, style in LAYER_STYLES.items():
        if key not in frames or not len(frames[key]):
            continue
        gdf = frames[key]
        props, _, tooltip = layer_properties(gdf, style)
        data = gpd.GeoDataFrame(props, geometry=gdf.geometry.to_crs("EPSG:4326"))
        folium.GeoJson(data, name=style.zh, marker=folium.CircleMarker(radius=4),
                       tooltip=folium.GeoJsonTooltip(fields=tooltip), show=style.show).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    b = pd.concat([f.to_crs("EPSG:4326").geometry for f in frames.values()
                   if isinstance(f, gpd.GeoDataFrame)]).total_bounds
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    return m


def render(path: Path, browser, runs: int = 3, screenshot: Path | None = None):
    reports = [check_in_browser(path, browser=browser, screenshot=screenshot if i == 0 else None)
               for i in range(runs)]
    r = reports[0]
    return statistics.median(x.render_ms for x in reports) / 1000, r


def measure(label: str, build, out: Path, browser) -> dict:
    t0 = time.perf_counter()
    m = build()
    save_offline(m, out)
    build_s = time.perf_counter() - t0
    render_s, r = render(out, browser, screenshot=out.with_suffix(".png"))
    row = {"map": label, "MB": out.stat().st_size / MB, "build_s": build_s, "render_s": render_s,
           "blocked_requests": len(r.blocked_requests), "console_errors": len(r.console_errors),
           "layers_in_control": len(r.layer_names)}
    print(f"  {label:<42} {row['MB']:7.2f} MB  build {build_s:6.1f} s  render {render_s:5.2f} s  "
          f"blocked {row['blocked_requests']}  errors {row['console_errors']}  "
          f"layers {row['layers_in_control']}", flush=True)
    if r.console_errors:
        print("    console:", r.console_errors[:3])
    return row


def geometry_encodings(farmland: gpd.GeoDataFrame) -> None:
    """Parcel geometry alone: GeoJSON vs TopoJSON vs the encoded polylines plan_map writes."""
    disp = display_geometry(farmland.geometry, tolerance_m=0.5, coverage=True, precision=6)
    rows = []
    t0 = time.perf_counter()
    gj = js_json(disp.__geo_interface__)  # a FeatureCollection, compact
    rows.append(("GeoJSON, 6 decimals", len(gj) / MB, time.perf_counter() - t0))
    try:
        import topojson
    except ImportError:
        rows.append(("TopoJSON (topojson package not installed)", float("nan"), float("nan")))
    else:
        t0 = time.perf_counter()
        topo = topojson.Topology(gpd.GeoDataFrame(geometry=disp.reset_index(drop=True)),
                                 prequantize=int(np.ceil(max(np.ptp(disp.total_bounds[[0, 2]]),
                                                             np.ptp(disp.total_bounds[[1, 3]])) * 1e6)),
                                 topology=True).to_dict()
        rows.append((f"TopoJSON (topojson {topojson.__version__}, 0.1 m grid)", len(js_json(topo)) / MB,
                     time.perf_counter() - t0))
    t0 = time.perf_counter()
    enc = encode_geometry(disp, precision=6)
    rows.append(("encoded polylines (plan_map), 6 decimals", len(js_json(enc)) / MB,
                 time.perf_counter() - t0))
    print(f"\nparcel geometry only, {len(farmland):,} parcels of the sample town:")
    for name, mb, s in rows:
        print(f"  {name:<48} {mb:6.2f} MB  {s:5.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the town only")
    ap.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="bench_maps_")))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING)
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        print(f"maps written to {args.out}")

        # a stock folium page, offline
        stock = folium.Map(location=[30.75, 120.78])
        folium.CircleMarker([30.75, 120.78]).add_to(stock)
        stock.save(str(args.out / "stock_folium.html"))
        r = check_in_browser(args.out / "stock_folium.html", browser=browser)
        print(f"stock folium.Map saved with m.save, opened offline: {len(r.blocked_requests)} "
              f"requests leave the file (blocked), {len(r.console_errors)} console errors")

        town = Project.read(sample_path())
        t0 = time.perf_counter()
        tl, steps = plan_layers(town, with_farmland=True)
        print(f"\ntown (sample, {len(town['farmland']):,} parcels): layers in "
              f"{time.perf_counter() - t0:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in steps.items())})")
        elev = town.rasters.get("elevation")
        results.append(measure("town map (plan_map)", lambda: plan_map(
            tl, title="样例镇规划图", background=elev), args.out / "town.html", browser))
        results.append(measure("town baseline (folium GeoJson)", lambda: baseline_map(tl),
                               args.out / "town_baseline.html", browser))
        geometry_encodings(town["farmland"])

        if not args.quick:
            district = Project.read(district_path())
            t0 = time.perf_counter()
            dl, steps = plan_layers(district, with_farmland=True)
            print(f"\ndistrict ({len(district['towns'])} towns, {len(district['villages'])} villages, "
                  f"{len(dl['hamlets']):,} hamlets, {len(dl['homestead_flags']):,} flagged homesteads, "
                  f"{len(district['farmland']):,} parcels): layers in {time.perf_counter() - t0:.1f} s")
            plan = {k: v for k, v in dl.items() if k != "farmland"}
            elev = district.rasters.get("elevation")
            results.append(measure("district plan map (plan_map)", lambda: plan_map(
                plan, title="南湖区规划图", background=elev), args.out / "district.html", browser))
            results.append(measure("district plan map + 184k parcels (plan_map)", lambda: plan_map(
                dl, title="南湖区规划图", background=elev), args.out / "district_parcels.html", browser))
            results.append(measure("district baseline (folium GeoJson)", lambda: baseline_map(plan),
                                   args.out / "district_baseline.html", browser))
        browser.close()

    table = pd.DataFrame(results).set_index("map")
    print("\n" + table.round(2).to_string())
    town_row = table.loc["town map (plan_map)"]
    head = (f"town map {town_row.MB:.2f} MB (target < 3 MB), render {town_row.render_s:.2f} s; "
            f"baseline {table.loc['town baseline (folium GeoJson)'].MB:.1f} MB, "
            f"{table.loc['town baseline (folium GeoJson)'].render_s:.2f} s")
    if not args.quick:
        d = table.loc["district plan map (plan_map)"]
        b = table.loc["district baseline (folium GeoJson)"]
        head = (f"district plan map {d.MB:.2f} MB (target < 15 MB), render {d.render_s:.2f} s "
                f"(target < 5 s); baseline folium GeoJson {b.MB:.1f} MB, {b.render_s:.2f} s; " + head)
    print(head)


if __name__ == "__main__":
    sys.exit(main())
