"""Candidate sites from the suitability rasters, and scoring of a layout plan's sites.

:func:`candidate_sites` finds, town by town, the contiguous areas of land that
may be built on and score at least ``min_score``, big enough for the
scenario's minimum households; :func:`score_sites` scores any set of site
polygons -- the candidates, or the planners' own layout plan (布点规划) -- the
same way and flags those on protected land.

Capacity (容纳户数) follows the scenario's plot standard: a household's plot
takes ``plot_standard_cultivated_m2`` (125 m2 in Zhejiang) on cultivated land
and ``plot_standard_other_m2`` (140 m2) on other land, and ``road_green_share``
of a site goes to internal roads, green space and public buildings::

    capacity = floor((1 - road_green_share) * (cultivated_m2 / 125 + other_m2 / 140))

which is ``floor(area * (1 - road_green_share) / plot_standard)`` on a site of
one kind of land. Cultivated land is the part of the site on the farmland
layer.
"""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from pyproj import CRS
from rasterio.features import rasterize, shapes
from rasterio.windows import Window
from scipy import ndimage

from ..errors import CRSError, Problem, ValidationError
from ..units import M2_PER_MU, WORKING_CRS
from .raster import (
    EXCLUSION_BITS,
    EXCLUSION_NODATA,
    EXCLUSIONS_ZH,
    SCORE_NODATA,
    SuitabilityRasters,
    _Layer,
    window_transform,
)

__all__ = [
    "SITE_COLUMNS_ZH", "candidate_sites", "protected_overlap", "score_sites", "site_capacity",
]

log = logging.getLogger(__name__)

#: Chinese headings of the columns of :func:`candidate_sites` and :func:`score_sites`.
SITE_COLUMNS_ZH = {
    "site_id": "安置点编号", "town_id": "镇代码", "kind": "类型", "capacity_households": "容纳户数",
    "fixed_cost": "固定成本(元)", "area_m2": "用地面积(平方米)", "area_mu": "用地面积(亩)",
    "cultivated_m2": "占用耕地(平方米)", "capacity_by_standard": "按用地标准可容纳户数",
    "mean_score": "平均适宜性得分", "buildable_share": "可建设比例",
    "basic_farmland_m2": "占永久基本农田(平方米)", "ecological_redline_m2": "占生态保护红线(平方米)",
    "flood_zone_m2": "占蓄滞洪区(平方米)", "water_m2": "占水域(平方米)",
    "buildings_m2": "占现状建筑(平方米)", "deep_flood_share": "淹没深度超限比例",
    "on_protected": "占用保护区", "in_water": "位于水域", "reasons": "问题说明",
}

_PROTECTED = ("basic_farmland", "ecological_redline", "flood_zone")


def site_capacity(cultivated_m2, other_m2, *, scenario=None) -> np.ndarray:
    """Households a site holds at the scenario's plot standard (see the module notes).

    Examples
    --------
    >>> site_capacity([0.0], [10000.0]).tolist()   # 1 ha of other land: 0.7 ha / 140 m2
    [50]
    >>> site_capacity([10000.0], [0.0]).tolist()   # 1 ha of cultivated land: 0.7 ha / 125 m2
    [56]
    """
    from ..scenario import load_scenario

    scenario = scenario or load_scenario()
    share = float(scenario.sites["road_green_share"])
    std_c = float(scenario.homestead["plot_standard_cultivated_m2"])
    std_o = float(scenario.homestead["plot_standard_other_m2"])
    units = (1.0 - share) * (np.asarray(cultivated_m2, float) / std_c
                             + np.asarray(other_m2, float) / std_o)
    return np.floor(units + 1e-9).astype(np.int64)


def _raster_paths(rasters) -> tuple[Path, Path]:
    if isinstance(rasters, SuitabilityRasters):
        return Path(rasters.score), Path(rasters.exclusions)
    score = Path(rasters)
    return score, score.with_name(f"{score.stem}_exclusions.tif")


def _check_crs(gdf, name):
    if gdf.crs is None:
        raise CRSError([Problem(name, "missing_crs", [], f"the {name} layer has no CRS",
                                f"set it and reproject it to {WORKING_CRS}")])
    if not CRS.from_user_input(gdf.crs).equals(CRS(WORKING_CRS)):
        raise CRSError([Problem(name, "crs_mismatch", [],
                                f"{name} are in {CRS.from_user_input(gdf.crs).to_string()} but the "
                                f"suitability rasters are in {WORKING_CRS}",
                                f"reproject them: gdf.to_crs({WORKING_CRS!r})")])


def _window_of(bounds, transform, width, height) -> Window | None:
    """The grid window covering ``bounds``, clipped to the grid (None if outside)."""
    x0, y0, x1, y1 = bounds
    c0 = max(math.floor((x0 - transform.c) / transform.a), 0)
    c1 = min(math.ceil((x1 - transform.c) / transform.a), width)
    r0 = max(math.floor((y1 - transform.f) / transform.e), 0)
    r1 = min(math.ceil((y0 - transform.f) / transform.e), height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _cultivated(project):
    farm = project.get("farmland")
    if farm is None or not len(farm):
        return None
    return farm.geometry.values


def candidate_sites(project, rasters, *, scenario=None, min_score: float = 0.5,
                    min_width_m: float = 30.0, town_ids=None,
                    progress: bool = False) -> gpd.GeoDataFrame:
    """Contiguous suitable land big enough for the scenario's minimum households.

    Town by town, cells that may be built on (exclusions 0) and score at least
    ``min_score`` are opened with a ``min_width_m`` square (strips narrower
    than that, e.g. along a road, cannot hold a community), grouped into
    4-connected areas, and kept when their capacity reaches the scenario's
    ``min_households``.

    Parameters
    ----------
    project : landplan.project.Project
        Its ``towns`` (and ``farmland``, for cultivated land).
    rasters : SuitabilityRasters or path
        From :func:`~landplan.suitability.suitability_raster` (or the score
        GeoTIFF's path, its exclusions beside it).
    scenario : landplan.scenario.Scenario, optional
        Minimum households, plot standards, road and green share.
    min_score : float
        Lowest score a cell may have.
    min_width_m : float
        Narrowest strip of land kept.
    town_ids : iterable of str, optional
        Only these towns.
    progress : bool
        Show a progress bar.

    Returns
    -------
    geopandas.GeoDataFrame
        A ``sites`` layer (``site_id`` = ``<town_id>-C<nnn>``, best first
        in each town, ``town_id``, ``kind`` = new_community,
        ``capacity_households``, ``fixed_cost`` = 0 -- the scenario has no
        fixed cost per site, set your own) with the columns of
        :func:`score_sites`.

    Examples
    --------
    >>> import geopandas as gpd, tempfile, os
    >>> from shapely.geometry import LineString, box
    >>> from landplan.project import Project
    >>> from landplan.suitability import suitability_raster
    >>> crs = "EPSG:4549"
    >>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [500.0],
    ...                           "seat_y": [500.0]}, geometry=[box(0, 0, 1000, 1000)], crs=crs)
    >>> protected = gpd.GeoDataFrame({"protected_id": ["P1"], "kind": ["basic_farmland"]},
    ...                              geometry=[box(0, 0, 1000, 800)], crs=crs)
    >>> roads = gpd.GeoDataFrame({"road_id": ["R1"], "road_class": ["town"]},
    ...                          geometry=[LineString([(0, 900), (1000, 900)])], crs=crs)
    >>> canal = gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["canal"]},
    ...                          geometry=[box(480, 0, 520, 1000)], crs=crs)
    >>> p = Project({"towns": towns, "protected": protected, "roads": roads, "water": canal},
    ...             validate=False)
    >>> r = suitability_raster(p, os.path.join(tempfile.mkdtemp(), "score.tif"))
    >>> c = candidate_sites(p, r, min_score=0.6)
    >>> c[["site_id", "area_m2", "capacity_households", "on_protected", "in_water"]]
       site_id  area_m2  capacity_households  on_protected  in_water
    0  T1-C001  96000.0                  480         False     False
    1  T1-C002  96000.0                  480         False     False
    """
    from tqdm.auto import tqdm

    from ..scenario import load_scenario

    scenario = scenario or load_scenario()
    min_hh = int(scenario.min_households)
    score_path, excl_path = _raster_paths(rasters)
    towns = project["towns"]
    if town_ids is not None:
        towns = towns[towns["town_id"].isin([str(t) for t in town_ids])]
    cult = _cultivated(project)
    cult_layer = _Layer(cult) if cult is not None else None
    excluded = _exclusion_geoms(project)
    excl_geoms = np.concatenate([g for g in excluded.values()]) if excluded else \
        np.array([], dtype=object)
    excl_tree = shapely.STRtree(excl_geoms)
    found = []  # (town_id, mean score, geometry)
    with rasterio.open(score_path) as src, rasterio.open(excl_path) as esrc:
        t = src.transform
        cell = abs(t.a)
        k = max(1, round(min_width_m / cell))
        for _, town in tqdm(list(towns.iterrows()), disable=not progress, desc="candidate sites",
                            unit="town"):
            win = _window_of(town.geometry.bounds, t, src.width, src.height)
            if win is None:
                log.warning("candidate sites: town %s lies outside the suitability grid",
                            town["town_id"])
                continue
            wt = window_transform(win, t)
            shape = (int(win.height), int(win.width))
            score = src.read(1, window=win)
            excl = esrc.read(1, window=win)
            in_town = rasterize([(town.geometry, 1)], out_shape=shape, transform=wt, fill=0,
                                dtype="uint8").astype(bool)
            ok = in_town & (score != SCORE_NODATA) & (score >= min_score) & (excl == 0)
            if k > 1:
                ok = ndimage.binary_opening(ok, structure=np.ones((k, k), dtype=bool))
            labels, n = ndimage.label(ok)
            if not n:
                continue
            cells = np.bincount(labels.ravel(), minlength=n + 1)
            cmask = None
            if cult_layer is not None:
                cmask = cult_layer.burn(shapely.box(*town.geometry.bounds), shape, wt)
            c_cells = np.bincount(labels[cmask], minlength=n + 1) if cmask is not None else \
                np.zeros(n + 1, dtype=np.int64)
            a = cell * cell
            # a first cut on the cells; the exact capacity comes from the polygons below
            cap = site_capacity(c_cells * a, (cells - c_cells) * a, scenario=scenario)
            keep = np.flatnonzero(cap >= min_hh)
            keep = keep[keep > 0]
            if not len(keep):
                continue
            mean = np.bincount(labels.ravel(), weights=np.where(ok, score, 0).ravel().astype(float),
                               minlength=n + 1) / np.maximum(cells, 1)
            kept = np.zeros(n + 1, dtype=bool)
            kept[keep] = True
            lab = np.where(kept[labels], labels, 0).astype("int32")
            polys: dict[int, list] = {}
            for gj, v in shapes(lab, mask=lab > 0, transform=wt, connectivity=4):
                polys.setdefault(int(v), []).append(shapely.geometry.shape(gj))
            for lb in keep.tolist():
                parts = polys[lb]
                found.append((town["town_id"], float(mean[lb]),
                              parts[0] if len(parts) == 1 else shapely.union_all(parts)))
    # cut the cells' staircase outlines back to the land that may be built on, exactly
    geoms = np.array([f[2] for f in found], dtype=object)
    if len(geoms) and len(excl_geoms):
        si, ej = excl_tree.query(geoms, predicate="intersects")
        for s_ in np.unique(si):
            geoms[s_] = shapely.difference(geoms[s_], shapely.union_all(excl_geoms[ej[si == s_]]))
    cols = ["site_id", "town_id", "kind", "capacity_households", "fixed_cost"]
    out = gpd.GeoDataFrame(pd.DataFrame({
        "site_id": [f"?{i}" for i in range(len(found))], "town_id": [f[0] for f in found],
        "kind": "new_community", "capacity_households": 0, "fixed_cost": 0.0}, columns=cols),
        geometry=gpd.GeoSeries(geoms, crs=WORKING_CRS), crs=WORKING_CRS)
    if len(out):
        scored = score_sites(out, project, rasters, scenario=scenario)
        out = pd.concat([out, scored.drop(columns=["site_id", "geometry"])], axis=1)
        out["capacity_households"] = out["capacity_by_standard"]
        out["_mean"] = [f[1] for f in found]
        out = out[out["capacity_households"] >= min_hh]
        out = out.sort_values(["town_id", "_mean"], ascending=[True, False], kind="stable")
        rank = out.groupby("town_id").cumcount() + 1
        out["site_id"] = out["town_id"] + "-C" + rank.map("{:03d}".format)
        out = out.drop(columns="_mean").reset_index(drop=True)
    out["capacity_households"] = out["capacity_households"].astype("Int64")
    log.info("candidate sites: %d areas of at least %d households in %d town(s)", len(out), min_hh,
             len(towns))
    return out


def _exclusion_geoms(project) -> dict:
    """Vector exclusions by kind: protected kinds, basic farmland, water, buildings."""
    layers = {}
    prot = project.get("protected")
    if prot is not None and len(prot):
        for kind in _PROTECTED:
            layers[kind] = prot.geometry.values[(prot["kind"] == kind).to_numpy()]
    farm = project.get("farmland")
    if farm is not None and len(farm):
        bf = farm.geometry.values[farm["basic_farmland"].fillna(False).astype(bool).to_numpy()]
        layers["basic_farmland"] = np.r_[layers.get("basic_farmland", np.array([], object)), bf]
    for name, lname in (("water", "water"), ("buildings", "homesteads")):
        lay = project.get(lname)
        if lay is not None and len(lay):
            layers[name] = lay.geometry.values
    return {k: np.asarray(v, dtype=object) for k, v in layers.items() if len(v)}


def _overlap_m2(sites, geoms) -> np.ndarray:
    """Area of each site covered by the union of ``geoms`` (overlaps counted once)."""
    out = np.zeros(len(sites))
    if geoms is None or not len(geoms):
        return out
    tree = shapely.STRtree(geoms)
    si, gj = tree.query(sites, predicate="intersects")
    if not len(si):
        return out
    order = np.argsort(si, kind="stable")
    si, gj = si[order], gj[order]
    bounds = np.flatnonzero(np.r_[True, si[1:] != si[:-1], True])
    for b0, b1 in itertools.pairwise(bounds):
        s = si[b0]
        cover = shapely.union_all(geoms[gj[b0:b1]])
        out[s] = shapely.area(shapely.intersection(sites[s], cover))
    return out


#: Kinds of land a site may overlap, in the order of the overlap columns.
OVERLAP_KINDS = ("basic_farmland", "ecological_redline", "flood_zone", "water", "buildings")


_OVERLAP_EN = {"basic_farmland": "on permanent basic farmland",
               "ecological_redline": "inside the ecological red line",
               "flood_zone": "in a flood zone", "water": "on water",
               "buildings": "on existing buildings"}


def _overlap_parts(over: dict, area: float) -> list[tuple[str, str]]:
    """(Chinese, English) phrases for each kind a site overlaps by more than 1 m2."""
    parts = []
    for k, m2 in over.items():
        if m2 > 1.0:
            share = m2 / area if area else 0.0
            parts.append((f"占{EXCLUSIONS_ZH[k]} {m2:,.0f} m2 ({share:.0%})",
                          f"{_OVERLAP_EN[k]} {m2:,.0f} m2 ({share:.0%})"))
    return parts


def protected_overlap(sites, project) -> pd.DataFrame:
    """Area of each site on protected land, water and buildings, from the vector layers.

    The check a layout plan needs before any site is started, without the
    suitability rasters (:func:`score_sites` adds the scores).

    Parameters
    ----------
    sites : geopandas.GeoDataFrame
        Site polygons in the working CRS (points and lines overlap nothing).
    project : landplan.project.Project or mapping
        Its ``protected`` (kinds ``basic_farmland``, ``ecological_redline``,
        ``flood_zone``), ``farmland`` (``basic_farmland`` flag), ``water`` and
        ``homesteads`` layers, those present.

    Returns
    -------
    pandas.DataFrame
        Row-aligned with ``sites``: ``<kind>_m2`` for each of :data:`OVERLAP_KINDS`
        (overlapping polygons counted once), ``on_protected`` (more than 1 m2 on
        basic farmland, the ecological red line or a flood zone: anything less is
        the rounding of an edge), ``in_water`` (more than 1 m2 on water) and
        ``protected_reasons`` (the protected land a site is on, Chinese / English;
        empty when none).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> crs = "EPSG:4549"
    >>> prot = gpd.GeoDataFrame({"protected_id": ["P1"], "kind": ["basic_farmland"]},
    ...                         geometry=[box(0, 0, 100, 100)], crs=crs)
    >>> sites = gpd.GeoDataFrame({"site_id": ["S1", "S2"]},
    ...                          geometry=[box(50, 0, 150, 100), box(300, 0, 400, 100)], crs=crs)
    >>> over = protected_overlap(sites, {"protected": prot})
    >>> over[["basic_farmland_m2", "on_protected"]]
       basic_farmland_m2  on_protected
    0             5000.0          True
    1                0.0         False
    >>> print(over.loc[0, "protected_reasons"])
    占永久基本农田 5,000 m2 (50%) / on permanent basic farmland 5,000 m2 (50%)
    """
    geom = np.asarray(sites.geometry.values, dtype=object)
    layers = _exclusion_geoms(project)
    over = {k: _overlap_m2(geom, layers.get(k)) for k in OVERLAP_KINDS}
    out = pd.DataFrame({f"{k}_m2": v for k, v in over.items()}, index=sites.index)
    out["on_protected"] = (over["basic_farmland"] + over["ecological_redline"]
                           + over["flood_zone"]) > 1.0
    out["in_water"] = over["water"] > 1.0
    area = shapely.area(geom)
    reasons = []
    for i in range(len(geom)):
        parts = _overlap_parts({k: over[k][i] for k in _PROTECTED}, area[i])
        reasons.append("; ".join(z for z, _ in parts) + (" / " if parts else "")
                       + "; ".join(e for _, e in parts))
    out["protected_reasons"] = pd.array(reasons, dtype="str")
    return out


def score_sites(sites: gpd.GeoDataFrame, project, rasters, *, scenario=None,
                id_column: str = "site_id") -> gpd.GeoDataFrame:
    """Score site polygons and flag those on protected land: for a layout plan (布点规划).

    Parameters
    ----------
    sites : geopandas.GeoDataFrame
        Site polygons with an id, in the working CRS -- the planners' own
        layout plan, ``project["sites"]``, or candidate sites. Not modified.
    project : landplan.project.Project
        Its ``protected``, ``farmland``, ``water`` and ``homesteads`` layers.
    rasters : SuitabilityRasters or path
        From :func:`~landplan.suitability.suitability_raster`.
    scenario : landplan.scenario.Scenario, optional
        Plot standards and road and green share.
    id_column : str
        The sites' id column.

    Returns
    -------
    geopandas.GeoDataFrame
        Row-aligned with ``sites`` (same index): the id, ``area_m2``,
        ``area_mu``, ``cultivated_m2``, ``capacity_by_standard``,
        ``mean_score`` (over the cells that may be built on), the mean of each
        factor (``<factor>_score``), ``buildable_share``, the area on each kind
        of excluded land (``basic_farmland_m2``, ``ecological_redline_m2``,
        ``flood_zone_m2``, ``water_m2``, ``buildings_m2``, from the vector
        layers), ``deep_flood_share`` (from the flood depth raster),
        ``on_protected``, ``in_water``, and ``reasons`` (Chinese and English),
        with the site polygons.

    Raises
    ------
    landplan.errors.CRSError
        When the sites have no CRS or another CRS than the rasters (both named).

    Examples
    --------
    >>> import geopandas as gpd, tempfile, os
    >>> from shapely.geometry import box
    >>> from landplan.project import Project
    >>> from landplan.suitability import suitability_raster
    >>> crs = "EPSG:4549"
    >>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [500.0],
    ...                           "seat_y": [500.0]}, geometry=[box(0, 0, 1000, 1000)], crs=crs)
    >>> water = gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["pond"]},
    ...                          geometry=[box(600, 600, 700, 700)], crs=crs)
    >>> p = Project({"towns": towns, "water": water}, validate=False)
    >>> r = suitability_raster(p, os.path.join(tempfile.mkdtemp(), "score.tif"))
    >>> plan = gpd.GeoDataFrame({"site_id": ["规划1", "规划2"]},
    ...                         geometry=[box(400, 400, 500, 500), box(650, 650, 750, 750)], crs=crs)
    >>> s = score_sites(plan, p, r)
    >>> s[["site_id", "capacity_by_standard", "water_m2", "in_water", "buildable_share"]]
      site_id  capacity_by_standard  water_m2  in_water  buildable_share
    0     规划1                    50       0.0     False             1.00
    1     规划2                    50    2500.0      True             0.75
    >>> print(s.loc[1, "reasons"])
    占水域 2,500 m2 (25%) / on water 2,500 m2 (25%)
    """
    from ..scenario import load_scenario

    scenario = scenario or load_scenario()
    if id_column not in sites.columns:
        raise ValidationError([Problem("sites", "missing_column", [],
                                       f"the sites have no id column {id_column!r}",
                                       "pass id_column= the name of their id column")])
    _check_crs(sites, "sites")
    geom = sites.geometry.values
    bad = shapely.is_missing(geom) | shapely.is_empty(geom) | \
        ~np.isin(shapely.get_type_id(geom), [3, 6])
    if bad.any():
        raise ValidationError([Problem("sites", "wrong_geometry_type",
                                       sites.loc[bad, id_column].astype(str).tolist(),
                                       "sites must be polygons", "draw the sites as polygons")])
    score_path, excl_path = _raster_paths(rasters)
    area = shapely.area(geom)
    overlap = protected_overlap(sites, project)
    over = {k: overlap[f"{k}_m2"].to_numpy() for k in OVERLAP_KINDS}
    cultivated = _overlap_m2(geom, _cultivated(project))
    cap = site_capacity(cultivated, np.maximum(area - cultivated, 0.0), scenario=scenario)

    n = len(sites)
    mean_score = np.full(n, np.nan)
    buildable = np.full(n, np.nan)
    deep = np.full(n, np.nan)
    with rasterio.open(score_path) as src, rasterio.open(excl_path) as esrc:
        names = list(src.descriptions)
        factor_names = [d for d in names[1:] if d]
        factor_mean = {f: np.full(n, np.nan) for f in factor_names}
        t = src.transform
        for i, g in enumerate(geom):
            win = _window_of(g.bounds, t, src.width, src.height)
            if win is None:
                continue
            wt = window_transform(win, t)
            shape = (int(win.height), int(win.width))
            m = rasterize([(g, 1)], out_shape=shape, transform=wt, fill=0, dtype="uint8").astype(bool)
            if not m.any():  # smaller than a cell: take the cells it touches
                m = rasterize([(g, 1)], out_shape=shape, transform=wt, fill=0, dtype="uint8",
                              all_touched=True).astype(bool)
            bands = src.read(window=win)
            excl = esrc.read(1, window=win)[m]
            inside = excl != EXCLUSION_NODATA
            if not inside.any():
                continue
            buildable[i] = float(np.mean(excl[inside] == 0))
            deep[i] = float(np.mean((excl[inside] & EXCLUSION_BITS["deep_flood"]) > 0))
            s = bands[0][m]
            s = s[s != SCORE_NODATA]
            if len(s):
                mean_score[i] = float(s.mean())
            for b, f in enumerate(factor_names, start=1):
                v = bands[b][m]
                v = v[v != SCORE_NODATA]
                if len(v):
                    factor_mean[f][i] = float(v.mean())
    # sites cut out of the suitable land (candidates) touch excluded land along their edges;
    # anything up to 1 m2 is rounding, not an overlap
    on_protected = overlap["on_protected"].to_numpy()
    in_water = overlap["in_water"].to_numpy()
    reasons = []
    for i in range(n):
        parts = _overlap_parts({k: over[k][i] for k in OVERLAP_KINDS}, area[i])
        if deep[i] > 0:
            parts.append((f"{EXCLUSIONS_ZH['deep_flood']} {deep[i]:.0%}",
                          f"flood depth above the limit on {deep[i]:.0%}"))
        if np.isnan(buildable[i]):
            parts.append(("不在适宜性评价范围内", "outside the suitability grid"))
        reasons.append("; ".join(z for z, _ in parts) + (" / " if parts else "")
                       + "; ".join(e for _, e in parts))
    out = gpd.GeoDataFrame({
        id_column: sites[id_column].to_numpy(), "area_m2": area.round(1),
        "area_mu": (area / M2_PER_MU).round(2), "cultivated_m2": cultivated.round(1),
        "capacity_by_standard": cap, "mean_score": mean_score.round(4),
        **{f"{f}_score": v.round(4) for f, v in factor_mean.items()},
        "buildable_share": buildable.round(4),
        **{f"{k}_m2": v.round(1) for k, v in over.items()},
        "deep_flood_share": deep.round(4), "on_protected": on_protected, "in_water": in_water,
        "reasons": pd.array(reasons, dtype="str"),
    }, geometry=gpd.GeoSeries(geom, crs=sites.crs), index=sites.index, crs=sites.crs)
    flagged = out[id_column][on_protected | in_water]
    if len(flagged):
        log.warning("sites: %d on protected land or water: %s", len(flagged),
                    ", ".join(map(str, flagged[:10])))
    return out
