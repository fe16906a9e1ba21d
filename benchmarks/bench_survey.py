"""Benchmark: the homestead survey on the full generated district, vs a row-by-row baseline.

Issue 3 asks for the full district (about 45,000 homesteads and 40,000
households) surveyed end to end in under 10 s on 2 cores with peak memory
under 2 GB, measured side by side in the same run with a straightforward
row-by-row geopandas implementation of the same rules.

What is timed
-------------
* ``landplan.survey.survey_project`` on the whole district read with
  ``Project.read(district_path())`` (reading is timed and reported apart):
  idle flags and reasons, 一户多宅 and 一宅超限, hamlets with footprints,
  reclaimable area per hamlet, village and town, the summary tables and the
  input-problem report. Best and median of ``--repeat`` runs, wall and CPU.
* ``baseline_survey`` below: the same rules written the straightforward way
  (``iterrows``, per-feature geometry calls, a per-feature spatial-index query
  for neighbours, networkx components, per-hamlet footprints, dict totals).
  Its per-row loops make it linear in the homesteads, so by default it runs on
  the first ``--baseline-towns`` town(s) and is extrapolated to the district by
  homestead count (said so in the output); ``--full-baseline`` runs it on the
  whole district (many minutes).
* Both are also run on the same subset, and their results are checked to
  agree (classes, reasons, reclaimable area, hamlet membership and households).

Peak memory is the process's peak resident set (``ru_maxrss``), which includes
reading the GeoPackage.

Run::

    python benchmarks/bench_survey.py            # full district, baseline on 1 town
    python benchmarks/bench_survey.py --full-baseline
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import LineString  # noqa: E402

from landplan.datasets import district_path  # noqa: E402
from landplan.project import Project  # noqa: E402
from landplan.scenario import load_scenario  # noqa: E402
from landplan.survey import survey_project  # noqa: E402
from landplan.survey.hamlets import FOOTPRINT_RATIO  # noqa: E402
from landplan.units import m2_to_mu  # noqa: E402

STATUS_RANK = {"occupied": 0, "vacant": 1, "dilapidated": 2, "collapsed": 3}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w, time.process_time() - c


# --------------------------------------------------------------------------------------------
# The baseline: the same rules, row by row
# --------------------------------------------------------------------------------------------

def baseline_survey(layers: dict, *, vacant_years: int, survey_year: int, keep_rule: str,
                    standard_m2: float, max_gap_m: float = 40.0, bridge_reach_m: float = 15.0,
                    barrier_kinds=("river", "canal"), away=("migrant", "none")) -> dict:
    hs = layers["homesteads"]
    hh = layers["households"]
    villages = layers["villages"]
    water = layers.get("water")
    roads = layers.get("roads")

    households = {}
    for _, row in hh.iterrows():
        households[row["household_id"]] = row

    # 一户多宅: the plots of each household, the kept one by the rule
    plots_of: dict = {}
    for idx, row in hs.iterrows():
        if pd.notna(row["household_id"]) and row["household_id"] in households:
            plots_of.setdefault(row["household_id"], []).append(idx)
    kept, surplus = {}, set()
    for hid, idxs in plots_of.items():
        reg = households[hid]["registered_homestead_id"]

        def key(i, reg=reg):
            r = hs.loc[i]
            status, is_reg = STATUS_RANK[r["status"]], r["homestead_id"] == reg
            area = -r.geometry.area
            if keep_rule == "occupied":
                return (status, not is_reg, area, r["homestead_id"])
            if keep_rule == "largest":
                return (area, status, not is_reg, r["homestead_id"])
            return (not is_reg, status, area, r["homestead_id"])

        ordered = sorted(idxs, key=key)
        kept[hid] = ordered[0]
        surplus.update(ordered[1:])

    # idle reasons and the class of every plot
    rows = []
    for idx, row in hs.iterrows():
        geom = row.geometry
        area = geom.area if geom is not None and not geom.is_empty else 0.0
        h = households.get(row["household_id"]) if pd.notna(row["household_id"]) else None
        reasons = []
        if h is None:
            reasons.append("no_household")
        if row["status"] in ("dilapidated", "collapsed"):
            reasons.append("dilapidated")
        if row["status"] != "occupied" and pd.notna(row["vacant_since"]) and \
                survey_year - row["vacant_since"] >= vacant_years:
            reasons.append("long_vacant")
        if h is not None and h["residence"] in away:
            reasons.append("household_away")
        if idx in surplus:
            reasons.append("surplus")
        excess = max(area - standard_m2, 0.0)
        if any(r != "surplus" for r in reasons):
            cls = "idle"
        elif reasons:
            cls = "surplus"
        elif excess > 0:
            cls = "oversize"
        else:
            cls = "in_use"
        reclaim = area if reasons else excess
        rows.append({"homestead_id": row["homestead_id"], "village_id": row["village_id"],
                     "area_m2": area, "reasons": ";".join(reasons), "survey_class": cls,
                     "reclaimable_m2": reclaim,
                     "reclaim_reason": reasons[0] if reasons else ("oversize" if excess > 0
                                                                  else None)})
    flags = pd.DataFrame(rows, index=hs.index)

    # hamlets: neighbours by a per-plot index query, links checked against water one by one
    barriers = water[water["kind"].isin(barrier_kinds)] if water is not None else None
    bridges = roads[roads["bridge"].fillna(False).astype(bool)] if roads is not None else None
    graph = nx.Graph()
    graph.add_nodes_from(range(len(hs)))
    tree = hs.sindex
    for i, (_, row) in enumerate(hs.iterrows()):
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        for j in tree.query(geom, predicate="dwithin", distance=max_gap_m):
            if j <= i:
                continue
            other = hs.iloc[j]
            if other["village_id"] != row["village_id"]:
                continue
            link = LineString([geom.point_on_surface(), other.geometry.point_on_surface()])
            blocked = False
            if barriers is not None:
                for k in barriers.sindex.query(link, predicate="crosses"):
                    w = barriers.geometry.iloc[k]
                    near = bridges.sindex.query(link, predicate="dwithin",
                                                distance=bridge_reach_m) if bridges is not None \
                        else []
                    if not any(bridges.geometry.iloc[b].intersects(w) for b in near):
                        blocked = True
                        break
            if not blocked:
                graph.add_edge(i, j)
    ids = hs["homestead_id"].tolist()
    hamlet_of = {}
    for comp in nx.connected_components(graph):
        members = [m for m in comp if hs.geometry.iloc[m] is not None]
        if not members:
            continue
        first = min(members, key=lambda m: ids[m])
        name = f"{hs['village_id'].iloc[first]}-{ids[first]}"
        for m in members:
            hamlet_of[m] = name
    flags["hamlet_id"] = [hamlet_of.get(i) for i in range(len(hs))]

    # hamlet table: households once (at the kept plot), area, footprint
    town_of = dict(zip(villages["village_id"], villages["town_id"]))
    hamlets: dict = {}
    kept_plots = {hs.index.get_loc(i): hid for hid, i in kept.items()}
    for i, (_, row) in enumerate(hs.iterrows()):
        name = hamlet_of.get(i)
        if name is None:
            continue
        h = hamlets.setdefault(name, {"hamlet_id": name, "village_id": row["village_id"],
                                      "town_id": town_of.get(row["village_id"]),
                                      "households": 0, "households_willing": 0,
                                      "homestead_area_m2": 0.0, "n_homesteads": 0, "plots": []})
        h["n_homesteads"] += 1
        h["homestead_area_m2"] += row.geometry.area
        h["plots"].append(row.geometry)
        if i in kept_plots:
            h["households"] += 1
            willing = households[kept_plots[i]]["willing_to_relocate"]
            if pd.notna(willing) and bool(willing):
                h["households_willing"] += 1
    for h in hamlets.values():
        plots = shapely.MultiPolygon([p for g in h.pop("plots") for p in getattr(g, "geoms", [g])])
        hull = shapely.concave_hull(plots, ratio=FOOTPRINT_RATIO)
        if not hull.contains(plots):
            hull = shapely.union_all([hull, *plots.geoms])
        h["geometry"] = hull
    hamlet_table = pd.DataFrame(sorted(hamlets.values(), key=lambda h: h["hamlet_id"]))

    # reclaimable area and the summary, accumulated row by row
    totals: dict = {}
    for _, row in flags.iterrows():
        for level, key in (("hamlet", row["hamlet_id"]), ("village", row["village_id"]),
                           ("town", town_of.get(row["village_id"]))):
            t = totals.setdefault((level, key), {"homesteads": 0, "total_m2": 0.0})
            t["homesteads"] += 1
            t["total_m2"] += row["reclaimable_m2"]
            if row["reclaim_reason"] is not None:
                t[row["reclaim_reason"]] = t.get(row["reclaim_reason"], 0.0) + row["reclaimable_m2"]
            t[row["survey_class"]] = t.get(row["survey_class"], 0) + 1
    return {"flags": flags, "hamlets": hamlet_table, "totals": totals}


def compare(result, base) -> list[str]:
    """Differences between the survey and the baseline on the same layers (empty: agree)."""
    out = []
    f, b = result.homesteads, base["flags"]
    if not (f["survey_class"].to_numpy() == b["survey_class"].to_numpy()).all():
        out.append("survey_class differs")
    if not (f["reasons"].to_numpy(dtype=object) == b["reasons"].to_numpy(dtype=object)).all():
        out.append("reasons differ")
    if not np.allclose(f["reclaimable_m2"].to_numpy(), b["reclaimable_m2"].to_numpy()):
        out.append("reclaimable area differs")
    ours = f["hamlet_id"].astype(object).where(f["hamlet_id"].notna(), None).tolist()
    if ours != b["hamlet_id"].tolist():
        out.append("hamlet membership differs")
    h = result.hamlets.set_index("hamlet_id")
    bh = base["hamlets"].set_index("hamlet_id")
    if not h.index.equals(bh.index) or \
            not (h["households"].to_numpy() == bh["households"].to_numpy()).all() or \
            not (h["households_willing"].to_numpy() == bh["households_willing"].to_numpy()).all():
        out.append("hamlet households differ")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=5, help="towns in the district (5)")
    ap.add_argument("--seed", type=int, default=2008)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the vectorised survey")
    ap.add_argument("--baseline-towns", type=int, default=1,
                    help="towns the row-by-row baseline runs on (extrapolated to the district)")
    ap.add_argument("--full-baseline", action="store_true",
                    help="run the baseline on the whole district (many minutes)")
    args = ap.parse_args(argv)

    path = district_path(n_towns=args.towns, seed=args.seed)
    project, w_read, _ = timed(Project.read, path)
    n_hs, n_hh = len(project["homesteads"]), len(project["households"])
    print(f"district: {path}")
    print(f"  {n_hs:,} homesteads, {n_hh:,} households, {len(project['villages'])} villages, "
          f"{len(project['towns'])} towns; read and validated in {w_read:.1f} s")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    walls, cpus = [], []
    for _ in range(args.repeat):
        result, w, c = timed(survey_project, project)
        walls.append(w)
        cpus.append(c)
    peak = peak_rss_mb()
    t = result.totals()
    assert t.loc["total", "homesteads"] == t.loc["input", "homesteads"] == n_hs
    print(f"vectorised survey_project, full district ({args.repeat} runs): best {min(walls):.2f} s "
          f"wall, median {statistics.median(walls):.2f} s wall, best {min(cpus):.2f} s CPU; "
          f"peak RSS {peak:,.0f} MB (including reading)")
    print(f"  {len(result.hamlets):,} hamlets, "
          f"{int(result.homesteads['idle'].sum()):,} idle plots, "
          f"{int(result.households['multiple'].sum()):,} 一户多宅 households, "
          f"{m2_to_mu(result.homesteads['reclaimable_m2'].sum()):,.0f} mu reclaimable, "
          f"{len(result.problems):,} input problems")

    sc = load_scenario()
    settings = {"vacant_years": sc.homestead["idle_vacant_years"],
                "survey_year": sc.plan["survey_year"], "keep_rule": sc.homestead["keep_rule"],
                "standard_m2": sc.homestead["plot_standard_other_m2"]}
    if args.full_baseline:
        subset, label = project, "full district"
    else:
        town_ids = sorted(project["towns"]["town_id"])[: args.baseline_towns]
        subset, label = project.select_towns(town_ids), f"town(s) {', '.join(town_ids)}"
    n_sub = len(subset["homesteads"])
    sub_result, w_vec_sub, c_vec_sub = timed(survey_project, subset)
    base, w_base, c_base = timed(baseline_survey, subset.layers, **settings)
    diffs = compare(sub_result, base)
    print(f"same rules on {label} ({n_sub:,} homesteads): vectorised {w_vec_sub:.2f} s wall "
          f"({c_vec_sub:.2f} s CPU), row-by-row baseline {w_base:.1f} s wall ({c_base:.1f} s CPU); "
          f"results {'agree' if not diffs else 'DIFFER: ' + '; '.join(diffs)}")
    scale = n_hs / n_sub
    base_full = w_base * scale
    extrapolated = "" if args.full_baseline else \
        f" (extrapolated from {n_sub:,} homesteads by homestead count, x{scale:.2f})"
    print(f"row-by-row baseline, full district: {base_full:.0f} s wall{extrapolated}")
    speedup = base_full / min(walls)
    ok = min(walls) < 10 and peak < 2048
    print(f"HEADLINE survey of {n_hs:,} homesteads / {n_hh:,} households: {min(walls):.2f} s "
          f"best, {statistics.median(walls):.2f} s median (target < 10 s), {peak:,.0f} MB peak "
          f"(target < 2,048 MB) vs {base_full:.0f} s "
          f"row by row{' (extrapolated)' if not args.full_baseline else ''}: {speedup:.0f}x faster"
          f"{'' if ok else ' -- TARGET MISSED'}")
    return 0 if ok and not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
