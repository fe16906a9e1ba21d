"""Suitability rasters: exclusion masks and a weighted score on the project's grid.

Two GeoTIFFs come out, on one grid (10 m cells by default, EPSG:4549):

``score``
    float32, nodata -9999. Band 1 is the weighted suitability score in
    [0, 1]; bands 2.. are the factors it is made of, each in [0, 1] (1 is
    best), named in the band descriptions. The score is nodata outside the
    towns and wherever building is excluded.
``exclusions``
    uint8, nodata 255, 0 where building is allowed; otherwise the sum of the
    bits of :data:`EXCLUSION_BITS` (permanent basic farmland 1, water 2,
    flood zone 4, ecological red line 8, existing buildings 16, flood depth
    above the scenario's ``max_flood_depth_m`` 32).

Factors (weights from the scenario's ``[suitability] weights``):

- ``town_seat``, ``roads``, ``school``, ``clinic``: ``1 - d / saturation``,
  0 beyond the saturation distance (:data:`SATURATION_M`); ``d`` is the
  straight distance from the cell centre to the seat of the cell's own town,
  to the nearest road (lines densified to half a cell) or to the nearest
  school / clinic, found with a KD-tree per window;
- ``flood``: ``1 - depth / max_flood_depth_m`` from the ``flood_depth`` raster;
- ``elevation``: elevation rescaled between the district's 2nd and 98th
  percentile (higher ground floods less in the canal plain).

A factor whose input the project lacks (no roads, no clinics, no elevation
raster) is left out and the others' weights are rescaled to sum to 1; the
result says which were used. A cell where a used raster factor is nodata gets
no score.

The grid is processed window by window (``block_size`` cells square): each
window rasterises only the features that touch it and reads only its part of
the input rasters, so a district raster never sits in memory whole.
"""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from scipy.spatial import cKDTree

from ..errors import CRSError, Problem, ValidationError
from ..units import M2_PER_MU, WORKING_CRS

__all__ = [
    "EXCLUSIONS_ZH",
    "EXCLUSION_BITS",
    "FACTORS",
    "FACTORS_ZH",
    "SATURATION_M",
    "SuitabilityRasters",
    "check_raster",
    "project_grid",
    "suitability_raster",
]

log = logging.getLogger(__name__)

# rasterio is not safe to call from several threads at once: a dataset handle
# must not be shared between threads, and rasterio silences its own
# NotGeoreferencedWarning with ``warnings.catch_warnings``, which swaps the
# process-wide filter list, so two threads rasterising together can let the
# warning through (an error under ``-W error``).  Every rasterio call made by
# the worker threads holds this lock; the distance queries and the arithmetic
# run in parallel.
_RASTERIO_LOCK = threading.Lock()

#: Bit of each exclusion in the exclusions raster.
EXCLUSION_BITS: dict[str, int] = {"basic_farmland": 1, "water": 2, "flood_zone": 4,
                                  "ecological_redline": 8, "buildings": 16, "deep_flood": 32}
#: Chinese names of the exclusions.
EXCLUSIONS_ZH: dict[str, str] = {"basic_farmland": "永久基本农田", "water": "水域",
                                 "flood_zone": "蓄滞洪区", "ecological_redline": "生态保护红线",
                                 "buildings": "现状建筑", "deep_flood": "淹没深度超限"}
#: The factors of the score, in band order.
FACTORS: tuple[str, ...] = ("town_seat", "roads", "school", "clinic", "flood", "elevation")
#: Chinese names of the factors.
FACTORS_ZH: dict[str, str] = {"town_seat": "距镇政府驻地", "roads": "距道路", "school": "距学校",
                              "clinic": "距卫生院", "flood": "淹没深度", "elevation": "高程"}
#: Distance (m) beyond which a distance factor is 0 (assumption; pass ``saturation_m``).
SATURATION_M: dict[str, float] = {"town_seat": 5000.0, "roads": 1000.0, "school": 3000.0,
                                  "clinic": 3000.0}
SCORE_NODATA = -9999.0
EXCLUSION_NODATA = 255


@dataclass
class SuitabilityRasters:
    """The written rasters and what went into them.

    Attributes
    ----------
    score, exclusions : Path
        The two GeoTIFFs (see the module notes).
    weights : dict
        The weight of each factor used (rescaled to sum to 1).
    excluded_cells : dict
        Exclusion -> number of cells it covers (a cell may have several).
    cells : int
        Cells inside the towns.
    cell_size_m : float
    """

    score: Path
    exclusions: Path
    weights: dict
    excluded_cells: dict = field(default_factory=dict)
    cells: int = 0
    cell_size_m: float = 10.0

    def summary(self) -> pd.DataFrame:
        """Area of each exclusion inside the towns, in m2 and mu.

        Returns
        -------
        pandas.DataFrame
            Indexed by exclusion: ``zh``, ``cells``, ``area_m2``, ``area_mu``,
            ``share`` of the towns' cells.
        """
        a = self.cell_size_m ** 2
        rows = [{"exclusion": k, "zh": EXCLUSIONS_ZH[k], "cells": int(v), "area_m2": v * a,
                 "area_mu": v * a / M2_PER_MU, "share": v / self.cells if self.cells else 0.0}
                for k, v in self.excluded_cells.items()]
        return pd.DataFrame(rows).set_index("exclusion")


def check_raster(path, *, name: str, crs=WORKING_CRS) -> list[Problem]:
    """Problems with an input raster: no CRS, no nodata, or a CRS other than the vectors'.

    Examples
    --------
    >>> import numpy as np, rasterio, tempfile, os
    >>> from affine import Affine
    >>> tif = os.path.join(tempfile.mkdtemp(), "elevation.tif")
    >>> with rasterio.open(tif, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
    ...                    crs="EPSG:4326", transform=Affine(1e-4, 0, 120, 0, -1e-4, 31)) as dst:
    ...     dst.write(np.zeros((1, 4, 4), dtype="float32"))
    >>> for p in check_raster(tif, name="elevation"):
    ...     print(p.rule, "|", p.message)
    missing_nodata | the elevation raster has no nodata value
    crs_mismatch | the elevation raster is in EPSG:4326 but the project's layers are in EPSG:4549
    """
    problems = []
    with rasterio.open(path) as src:
        if src.crs is None:
            problems.append(Problem(name, "missing_crs", [str(path)],
                                    f"the {name} raster has no coordinate reference system",
                                    f"assign it (gdal_edit.py -a_srs {crs} {Path(path).name}) if "
                                    f"that is the CRS it was made in"))
        if src.nodata is None:
            problems.append(Problem(name, "missing_nodata", [str(path)],
                                    f"the {name} raster has no nodata value",
                                    f"set one (gdal_edit.py -a_nodata -9999 {Path(path).name}) so "
                                    "cells without data are not read as real values"))
        if src.crs is not None and not CRS.from_user_input(src.crs).equals(CRS.from_user_input(crs)):
            problems.append(Problem(name, "crs_mismatch", [str(path)],
                                    f"the {name} raster is in {src.crs.to_string()} but the "
                                    f"project's layers are in {CRS.from_user_input(crs).to_string()}",
                                    f"reproject the raster to {CRS.from_user_input(crs).to_string()} "
                                    f"(gdalwarp -t_srs {CRS.from_user_input(crs).to_string()})"))
    return problems


def project_grid(project, *, cell_size_m: float = 10.0) -> tuple[Affine, int, int]:
    """The project's grid: the elevation raster's, or the towns' extent at ``cell_size_m``.

    Returns
    -------
    (affine.Affine, int, int)
        Transform, width, height.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from landplan.project import Project
    >>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [5.0],
    ...                           "seat_y": [5.0]}, geometry=[box(3, 4, 995, 493)], crs="EPSG:4549")
    >>> t, w, h = project_grid(Project({"towns": towns}, validate=False))
    >>> (t.c, t.f, w, h)
    (0.0, 500.0, 100, 50)
    """
    elev = project.rasters.get("elevation")
    if elev is not None and Path(elev).exists():
        with rasterio.open(elev) as src:
            if math.isclose(abs(src.transform.a), cell_size_m) and \
                    math.isclose(abs(src.transform.e), cell_size_m) and src.transform.b == 0:
                return src.transform, src.width, src.height
    x0, y0, x1, y1 = project["towns"].total_bounds
    c = float(cell_size_m)
    x0, y0 = math.floor(x0 / c) * c, math.floor(y0 / c) * c
    x1, y1 = math.ceil(x1 / c) * c, math.ceil(y1 / c) * c
    return Affine(c, 0, x0, 0, -c, y1), round((x1 - x0) / c), round((y1 - y0) / c)


def _geojson_polygons(geoms) -> list[dict]:
    """Polygons as GeoJSON-like dicts with numpy rings, built in bulk.

    rasterio converts shapely geometries one by one through
    ``__geo_interface__``, which dominates the time on a district's 200,000
    polygons; dicts built once from flat coordinate arrays are several
    times faster to rasterise.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    rings, ridx = shapely.get_rings(parts, return_index=True)
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    ring_arrays = np.split(coords, np.flatnonzero(np.diff(cidx)) + 1) if len(coords) else []
    rb = np.flatnonzero(np.r_[True, ridx[1:] != ridx[:-1]]) if len(ridx) else np.zeros(0, int)
    re_ = np.r_[rb[1:], len(ridx)]
    part_rings = [ring_arrays[a:b] for a, b in zip(rb, re_)]
    out: list[list] = [[] for _ in range(len(geoms))]
    for owner, rs in zip(pidx[ridx[rb]] if len(rb) else [], part_rings):
        out[owner].append(rs)
    return [{"type": "Polygon", "coordinates": p[0]} if len(p) == 1 else
            {"type": "MultiPolygon", "coordinates": p} for p in out]


class _Layer:
    """Polygons of one exclusion, with a spatial index for per-window queries."""

    def __init__(self, geoms):
        self.geoms = np.asarray(geoms, dtype=object)
        self.tree = shapely.STRtree(self.geoms)
        self.json = _geojson_polygons(self.geoms)

    def burn(self, bbox, shape, transform) -> np.ndarray | None:
        hits = self.tree.query(bbox, predicate="intersects")
        if not len(hits):
            return None
        with _RASTERIO_LOCK:
            burnt = rasterize(((self.json[i], 1) for i in hits), out_shape=shape,
                              transform=transform, fill=0, dtype="uint8")
        return burnt.astype(bool)


class _Source:
    """An input raster read window by window on the output grid."""

    def __init__(self, path, grid_transform, width, height):
        self.src = rasterio.open(path)
        self.nodata = self.src.nodata
        t = self.src.transform
        aligned = (math.isclose(t.a, grid_transform.a) and math.isclose(t.e, grid_transform.e)
                   and t.b == 0 and t.d == 0)
        dc = (grid_transform.c - t.c) / t.a
        dr = (grid_transform.f - t.f) / t.e
        if aligned and abs(dc - round(dc)) < 1e-6 and abs(dr - round(dr)) < 1e-6:
            self.reader, self.dc, self.dr = self.src, round(dc), round(dr)
        else:
            self.reader = WarpedVRT(self.src, crs=self.src.crs, transform=grid_transform, width=width,
                                    height=height, resampling=Resampling.bilinear,
                                    src_nodata=self.nodata, nodata=self.nodata)
            self.dc = self.dr = 0

    def read(self, win: Window) -> np.ndarray:
        # read the part of the window the raster covers; the rest is NaN
        # (rasterio's boundless reads warn under affine 3, so padding is done here)
        c0, r0 = int(win.col_off) + self.dc, int(win.row_off) + self.dr
        h, w = int(win.height), int(win.width)
        out = np.full((h, w), np.nan)
        cc0, rr0 = max(c0, 0), max(r0, 0)
        cc1, rr1 = min(c0 + w, self.reader.width), min(r0 + h, self.reader.height)
        if cc1 > cc0 and rr1 > rr0:
            with _RASTERIO_LOCK:
                a = self.reader.read(1, window=Window(cc0, rr0, cc1 - cc0, rr1 - rr0),
                                     out_dtype="float64")
            a[a == self.nodata] = np.nan
            out[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0] = a
        return out

    def percentiles(self, q) -> np.ndarray:
        h, w = self.src.height, self.src.width
        f = max(1, int(max(h, w) // 512))
        a = self.src.read(1, out_shape=(max(1, h // f), max(1, w // f)), masked=True,
                          resampling=Resampling.nearest)
        vals = a.compressed()
        return np.percentile(vals, q) if len(vals) else np.array([np.nan] * len(q))

    def close(self):
        if self.reader is not self.src:
            self.reader.close()
        self.src.close()


def suitability_raster(project, path, *, scenario=None, exclusions_path=None,
                       cell_size_m: float | None = None, saturation_m: dict | None = None,
                       block_size: int = 512, workers: int = 1, overwrite: bool = False,
                       progress: bool = False) -> SuitabilityRasters:
    """Write the suitability score and exclusion rasters of a project.

    Parameters
    ----------
    project : landplan.project.Project
        Uses ``towns`` (required), and when present ``protected``,
        ``farmland`` (``basic_farmland``), ``water``, ``homesteads``,
        ``roads``, ``facilities``, and the ``elevation`` and ``flood_depth``
        rasters.
    path : str or Path
        The score GeoTIFF to write.
    scenario : landplan.scenario.Scenario, optional
        Weights, ``cell_size_m`` and ``max_flood_depth_m`` (default: the 2008
        Nanhu scenario).
    exclusions_path : str or Path, optional
        The exclusions GeoTIFF (default: ``<path stem>_exclusions.tif`` beside it).
    cell_size_m : float, optional
        Overrides the scenario's cell size.
    saturation_m : dict, optional
        Factor -> distance at which it reaches 0, overriding :data:`SATURATION_M`.
    block_size : int
        Window size in cells (a multiple of 256).
    workers : int
        Windows computed at once (threads).
    overwrite : bool
        Replace existing files.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SuitabilityRasters

    Raises
    ------
    landplan.errors.CRSError
        When a raster has no CRS or nodata, or another CRS than the layers
        (both named).

    Examples
    --------
    >>> import geopandas as gpd, rasterio, tempfile, os
    >>> from shapely.geometry import LineString, box
    >>> from landplan.project import Project
    >>> crs = "EPSG:4549"
    >>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [500.0],
    ...                           "seat_y": [500.0]}, geometry=[box(0, 0, 1000, 1000)], crs=crs)
    >>> water = gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["canal"]},
    ...                          geometry=[box(0, 480, 1000, 520)], crs=crs)
    >>> roads = gpd.GeoDataFrame({"road_id": ["R1"], "road_class": ["town"]},
    ...                          geometry=[LineString([(500, 0), (500, 1000)])], crs=crs)
    >>> p = Project({"towns": towns, "water": water, "roads": roads}, validate=False)
    >>> out = suitability_raster(p, os.path.join(tempfile.mkdtemp(), "score.tif"))
    >>> out.weights
    {'town_seat': 0.545..., 'roads': 0.454...}
    >>> out.summary().loc["water", ["cells", "area_m2"]].tolist()
    [400.0, 40000.0]
    >>> with rasterio.open(out.score) as src:
    ...     print(src.crs.to_epsg(), src.nodata, src.count, src.descriptions[:2], src.overviews(1))
    4549 -9999.0 3 ('score', 'town_seat') []
    """
    from tqdm.auto import tqdm

    from ..scenario import load_scenario

    scenario = scenario or load_scenario()
    suit = scenario.suitability
    cell = float(cell_size_m or suit.get("cell_size_m", 10.0))
    max_depth = float(suit.get("max_flood_depth_m", 0.5))
    sat = dict(SATURATION_M)
    sat.update(suit.get("saturation_m", {}) or {})
    sat.update(saturation_m or {})
    path = Path(path)
    exclusions_path = Path(exclusions_path) if exclusions_path else \
        path.with_name(f"{path.stem}_exclusions.tif")
    for p in (path, exclusions_path):
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists; pass overwrite=True to replace it")
    if block_size % 16:
        raise ValueError("block_size must be a multiple of 16 (GeoTIFF tiles)")

    # rasters: refuse before doing any work
    problems = []
    rasters = {}
    for rname in ("elevation", "flood_depth"):
        rpath = project.rasters.get(rname)
        if rpath is None:
            continue
        problems += check_raster(rpath, name=rname, crs=WORKING_CRS)
        rasters[rname] = rpath
    if problems:
        raise CRSError(problems)

    towns = project["towns"]
    transform, width, height = project_grid(project, cell_size_m=cell)

    # exclusions -------------------------------------------------------------------
    layers: dict[str, _Layer] = {}
    prot = project.get("protected")
    if prot is not None and len(prot):
        for kind in ("basic_farmland", "ecological_redline", "flood_zone"):
            g = prot.geometry.values[(prot["kind"] == kind).to_numpy()]
            if len(g):
                layers[kind] = g
    farm = project.get("farmland")
    if farm is not None and len(farm):
        bf = farm.geometry.values[farm["basic_farmland"].fillna(False).astype(bool).to_numpy()]
        if len(bf):
            layers["basic_farmland"] = np.r_[layers.get("basic_farmland", np.array([], object)), bf]
    water = project.get("water")
    if water is not None and len(water):
        layers["water"] = water.geometry.values
    homes = project.get("homesteads")
    if homes is not None and len(homes):
        layers["buildings"] = homes.geometry.values
    excl_layers = {k: _Layer(v) for k, v in layers.items()}

    # factors ---------------------------------------------------------------------
    weights = {k: float(v) for k, v in suit.get("weights", {}).items()}
    unknown = sorted(set(weights) - set(FACTORS))
    if unknown:
        raise ValidationError([Problem("scenario", "unknown_factor", unknown,
                                       f"suitability weights name unknown factors {unknown}",
                                       f"use factors of {', '.join(FACTORS)}")])
    trees: dict[str, cKDTree] = {}
    roads = project.get("roads")
    if roads is not None and len(roads):
        pts = shapely.get_coordinates(shapely.segmentize(roads.geometry.values, cell / 2))
        trees["roads"] = cKDTree(pts)
    fac = project.get("facilities")
    for kind in ("school", "clinic"):
        if fac is not None and len(fac) and (fac["kind"] == kind).any():
            trees[kind] = cKDTree(shapely.get_coordinates(fac.geometry.values[
                (fac["kind"] == kind).to_numpy()]))
    available = {"town_seat": True, "roads": "roads" in trees, "school": "school" in trees,
                 "clinic": "clinic" in trees, "flood": "flood_depth" in rasters,
                 "elevation": "elevation" in rasters}
    missing = [k for k, w in weights.items() if w > 0 and not available[k]]
    if missing:
        log.warning("suitability: no input for factor(s) %s; left out, the other weights rescaled",
                    ", ".join(missing))
    used = [k for k in FACTORS if weights.get(k, 0) > 0 and available[k]]
    total_w = sum(weights[k] for k in used)
    if not used or total_w <= 0:
        raise ValidationError([Problem("scenario", "no_factors", [],
                                       "no suitability factor has both a weight and an input",
                                       "give weights in [suitability] and the layers they need")])
    wts = {k: weights[k] / total_w for k in used}
    seat_x = towns["seat_x"].to_numpy(float)
    seat_y = towns["seat_y"].to_numpy(float)
    town_layer = _Layer(towns.geometry.values)

    sources = {k: _Source(v, transform, width, height) for k, v in rasters.items()}
    elev_lo, elev_hi = (sources["elevation"].percentiles([2, 98]) if "elevation" in sources
                        else (np.nan, np.nan))
    if "elevation" in used and not elev_hi > elev_lo:
        elev_hi = elev_lo + 1.0

    def compute(win: Window):
        h, w = int(win.height), int(win.width)
        wt = window_transform(win, transform)
        bbox = shapely.box(wt.c, wt.f + h * wt.e, wt.c + w * wt.a, wt.f)
        hits = town_layer.tree.query(bbox, predicate="intersects")
        score = np.full((1 + len(used), h, w), SCORE_NODATA, dtype="float32")
        excl = np.full((h, w), EXCLUSION_NODATA, dtype="uint8")
        counts = dict.fromkeys(EXCLUSION_BITS, 0)
        if not len(hits):
            return win, score, excl, counts, 0
        with _RASTERIO_LOCK:
            tidx = rasterize(((town_layer.json[i], int(i) + 1) for i in hits),
                             out_shape=(h, w), transform=wt, fill=0, dtype="int32")
        inside = tidx > 0
        n_in = int(inside.sum())
        if not n_in:
            return win, score, excl, counts, 0
        bits = np.zeros((h, w), dtype="uint8")
        for k, layer in excl_layers.items():
            m = layer.burn(bbox, (h, w), wt)
            if m is not None:
                bits[m] |= EXCLUSION_BITS[k]
        rr, cc = np.nonzero(inside)
        xs = wt.c + (cc + 0.5) * wt.a
        ys = wt.f + (rr + 0.5) * wt.e
        factor = {}
        t = tidx[rr, cc] - 1
        factor["town_seat"] = np.hypot(xs - seat_x[t], ys - seat_y[t])
        for k in ("roads", "school", "clinic"):
            if k in used:
                d, _ = trees[k].query(np.c_[xs, ys], distance_upper_bound=sat[k])
                factor[k] = d
        for k in ("town_seat", "roads", "school", "clinic"):
            if k in factor:
                factor[k] = np.clip(1.0 - factor[k] / sat[k], 0.0, 1.0)
        if "flood_depth" in sources:
            depth = sources["flood_depth"].read(win)[rr, cc]
            deep = depth > max_depth
            bits[rr[deep], cc[deep]] |= EXCLUSION_BITS["deep_flood"]
            factor["flood"] = np.clip(1.0 - np.maximum(depth, 0) / max_depth, 0.0, 1.0)
        if "elevation" in used:
            z = sources["elevation"].read(win)[rr, cc]
            factor["elevation"] = np.clip((z - elev_lo) / (elev_hi - elev_lo), 0.0, 1.0)
        s = np.zeros(len(rr))
        for k in used:
            s += wts[k] * factor[k]
        for b, k in enumerate(used, start=2):
            f = factor[k]
            score[b - 1, rr, cc] = np.where(np.isnan(f), SCORE_NODATA, f)
        cell_bits = bits[rr, cc]
        ok = (cell_bits == 0) & ~np.isnan(s)
        score[0, rr[ok], cc[ok]] = s[ok]
        excl[rr, cc] = cell_bits
        for k, bit in EXCLUSION_BITS.items():
            counts[k] = int(np.count_nonzero(cell_bits & bit))
        return win, score, excl, counts, n_in

    windows = [Window(c, r, min(block_size, width - c), min(block_size, height - r))
               for r in range(0, height, block_size) for c in range(0, width, block_size)]
    tile = min(256, block_size)
    common = {"driver": "GTiff", "width": width, "height": height, "crs": CRS(WORKING_CRS).to_wkt(),
                  "transform": transform, "tiled": True, "blockxsize": tile, "blockysize": tile,
                  "compress": "deflate", "BIGTIFF": "IF_SAFER"}
    path.parent.mkdir(parents=True, exist_ok=True)
    totals = dict.fromkeys(EXCLUSION_BITS, 0)
    n_cells = 0
    with rasterio.open(path, "w", count=1 + len(used), dtype="float32", nodata=SCORE_NODATA,
                       predictor=3, **common) as dst, \
            rasterio.open(exclusions_path, "w", count=1, dtype="uint8", nodata=EXCLUSION_NODATA,
                          **common) as edst:
        dst.set_band_description(1, "score")
        for b, k in enumerate(used, start=2):
            dst.set_band_description(b, k)
        dst.update_tags(weights=str(wts), scenario=scenario.name,
                        saturation_m=str({k: sat[k] for k in used if k in sat}),
                        max_flood_depth_m=str(max_depth))
        edst.set_band_description(1, "exclusions")
        edst.update_tags(**{k: str(v) for k, v in EXCLUSION_BITS.items()},
                         zh=", ".join(f"{v}={EXCLUSIONS_ZH[k]}" for k, v in EXCLUSION_BITS.items()))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = pool.map(compute, windows) if workers > 1 else map(compute, windows)
            for win, score, excl, counts, n_in in tqdm(results, total=len(windows),
                                                       disable=not progress, desc="suitability",
                                                       unit="window"):
                dst.write(score, window=win)
                edst.write(excl, indexes=1, window=win)
                for k, v in counts.items():
                    totals[k] += v
                n_cells += n_in
    for s in sources.values():
        s.close()
    _overviews(path, Resampling.average)
    _overviews(exclusions_path, Resampling.nearest)
    log.info("suitability: %s cells inside the towns, weights %s; wrote %s and %s", f"{n_cells:,}",
             {k: round(v, 3) for k, v in wts.items()}, path.name, exclusions_path.name)
    return SuitabilityRasters(score=path, exclusions=exclusions_path, weights=wts,
                              excluded_cells=totals, cells=n_cells, cell_size_m=cell)


def window_transform(win: Window, transform: Affine) -> Affine:
    """The transform of a window of a north-up grid (without affine's deprecated ``*``)."""
    return Affine(transform.a, transform.b, transform.c + win.col_off * transform.a,
                  transform.d, transform.e, transform.f + win.row_off * transform.e)


def _overviews(path: Path, resampling: Resampling) -> None:
    with rasterio.open(path, "r+") as dst:
        factors = []
        f = 2
        while max(dst.width, dst.height) / f >= 256:
            factors.append(f)
            f *= 2
        if factors:
            dst.build_overviews(factors, resampling)
            dst.update_tags(ns="rio_overview", resampling=resampling.name)
