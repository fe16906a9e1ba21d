"""Elevation and flood-depth rasters, and the flood-zone polygons derived from them.

The ground is a smooth field over a flat canal plain (about 1.5 to 4.5 m above
the Wusong datum in Jiaxing; no real DEM is used), plus a tiny per-cell
texture that depends only on the cell's absolute position, so every extent
cut from it agrees with every other. Water surfaces sit at about 1 m; house
platforms are raised half a metre. The flood depth is that of a design flood
level of 2.4 m over the ground.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine

CELL_SIZE = 10.0
NODATA = -9999.0
DESIGN_FLOOD_LEVEL = 2.4        # m; an assumption, not a surveyed figure
FLOOD_ZONE_DEPTH = 0.3          # m of design-flood depth that makes a flood zone
WATER_LEVEL = 1.0


@lru_cache(maxsize=8)
def _waves(seed: int):
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3000]))
    waves = []
    for n, (lo, hi), amp in ((4, (2500, 9000), 0.35), (3, (500, 1200), 0.12)):
        for _ in range(n):
            lam = rng.uniform(lo, hi)
            ang = rng.uniform(0, np.pi)
            k = 2 * np.pi / lam * np.array([np.cos(ang), np.sin(ang)])
            waves.append((k, rng.uniform(0, 2 * np.pi), amp))
    return tuple(waves)


def smooth_elevation(seed: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The smooth ground surface (m) at points ``x, y`` (EPSG:4549)."""
    z = np.full(np.broadcast(x, y).shape, 2.9)
    x0, y0 = 570000.0, 3400000.0          # keep the phases well conditioned
    for k, ph, amp in _waves(seed):
        z += amp * np.sin(k[0] * (x - x0) + k[1] * (y - y0) + ph)
    return z


def _texture(seed: int, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Per-cell noise in [-0.5, 0.5) from absolute cell indices (a hash)."""
    h = (ix.astype(np.uint64) * np.uint64(0x9E3779B1)) ^ (iy.astype(np.uint64)
                                                          * np.uint64(0x85EBCA77))
    h ^= np.uint64((int(seed) * 0xC2B2AE3D) & 0xFFFFFFFF)
    h ^= h >> np.uint64(15)
    h *= np.uint64(0x2C1B3C6D)
    h ^= h >> np.uint64(12)
    h &= np.uint64(0xFFFFFFFF)
    return h.astype(np.float64) / 2.0**32 - 0.5


def grid_for(bounds, cell: float = CELL_SIZE):
    """Shape and transform of a grid aligned to absolute multiples of ``cell``."""
    minx, miny, maxx, maxy = bounds
    x0, y0 = np.floor(minx / cell) * cell, np.floor(miny / cell) * cell
    x1, y1 = np.ceil(maxx / cell) * cell, np.ceil(maxy / cell) * cell
    shape = (int(round((y1 - y0) / cell)), int(round((x1 - x0) / cell)))
    return shape, Affine(cell, 0.0, x0, 0.0, -cell, y1)


def make_rasters(seed: int, town_polys, water, homesteads):
    """Elevation and flood depth (float32, metres) over the towns.

    Returns
    -------
    dict, affine.Affine
        ``{"elevation": array, "flood_depth": array}`` and their transform.
    """
    bounds = shapely.total_bounds(np.asarray(town_polys, dtype=object))
    shape, transform = grid_for(bounds)
    rows, cols = shape
    x0, y1 = transform.c, transform.f
    ix = np.floor(x0 / CELL_SIZE).astype(np.int64) + np.arange(cols)
    iy = np.floor(y1 / CELL_SIZE).astype(np.int64) - 1 - np.arange(rows)
    xs = x0 + (np.arange(cols) + 0.5) * CELL_SIZE
    ys = y1 - (np.arange(rows) + 0.5) * CELL_SIZE
    elev = smooth_elevation(seed, xs[None, :], ys[:, None])
    elev += 0.04 * _texture(seed, ix[None, :], iy[:, None])

    def burn(geoms):
        geoms = [g for g in geoms if g is not None and not g.is_empty]
        if not geoms:
            return np.zeros(shape, bool)
        return rasterio.features.rasterize(((g, 1) for g in geoms), out_shape=shape,
                                           transform=transform, fill=0,
                                           dtype="uint8").astype(bool)

    # house platforms: the cells under each homestead's centre and its neighbours
    c = shapely.get_coordinates(shapely.centroid(np.asarray(homesteads, dtype=object)))
    if len(c):
        col = np.floor((c[:, 0] - x0) / CELL_SIZE).astype(int)
        row = np.floor((y1 - c[:, 1]) / CELL_SIZE).astype(int)
        houses = np.zeros(shape, bool)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = np.clip(row + dr, 0, rows - 1), np.clip(col + dc, 0, cols - 1)
                houses[rr, cc] = True
        elev[houses] += 0.5
    wet = burn(water)
    elev[wet] = WATER_LEVEL + 0.05 * _texture(seed + 1, ix[None, :], iy[:, None])[wet]
    inside = burn(town_polys)
    elev = np.round(elev, 2)
    depth = np.round(np.clip(DESIGN_FLOOD_LEVEL - elev, 0.0, None), 2)
    elev = np.where(inside, elev, NODATA).astype(np.float32)
    depth = np.where(inside, depth, NODATA).astype(np.float32)
    return {"elevation": elev, "flood_depth": depth}, transform


def flood_zones(seed: int, town_poly, *, cell: float = 50.0, min_area: float = 30000.0):
    """Flood-prone low ground of one town as polygons (a 50 m analysis grid)."""
    shape, transform = grid_for(town_poly.bounds, cell)
    rows, cols = shape
    xs = transform.c + (np.arange(cols) + 0.5) * cell
    ys = transform.f - (np.arange(rows) + 0.5) * cell
    z = smooth_elevation(seed, xs[None, :], ys[:, None])
    inside = rasterio.features.rasterize([(town_poly, 1)], out_shape=shape, transform=transform,
                                         fill=0, dtype="uint8").astype(bool)
    low = (z < DESIGN_FLOOD_LEVEL - FLOOD_ZONE_DEPTH) & inside
    polys = [shapely.geometry.shape(geom) for geom, val in
             rasterio.features.shapes(low.astype("uint8"), mask=low, transform=transform)
             if val == 1]
    if not polys:
        return []
    polys = shapely.simplify(np.array(polys, dtype=object), cell / 2)
    polys = shapely.make_valid(shapely.intersection(polys, town_poly))
    out = []
    for p in polys:
        for part in shapely.get_parts(p):
            if part.geom_type == "Polygon" and part.area >= min_area:
                out.append(part)
    return out


def write_geotiff(path, array: np.ndarray, transform, *, crs: str, description: str,
                  units: str = "metre", overviews: bool = True, zlevel: int = 6) -> None:
    """Write a float32 GeoTIFF: DEFLATE, tiled, with overviews; the same bytes every run.

    No predictor: values rounded to the centimetre repeat their bytes, which
    DEFLATE packs better on its own than after the floating-point predictor
    (the district's rasters take 9.2 MB instead of 12.9 MB; the sample's, at
    ``zlevel=9``, 0.7 MB instead of 1.7 MB), and every TIFF reader handles it.
    """
    profile = dict(driver="GTiff", height=array.shape[0], width=array.shape[1], count=1,
                   dtype="float32", crs=crs, transform=transform, nodata=NODATA,
                   compress="DEFLATE", predictor=1, zlevel=zlevel, tiled=True, blockxsize=256,
                   blockysize=256)
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)
        dst.set_band_description(1, description)
        dst.set_band_unit(1, units)
        factors = [f for f in (2, 4, 8, 16) if min(array.shape) // f >= 64 and overviews]
        if factors:
            dst.build_overviews(factors, rasterio.enums.Resampling.average)
            dst.update_tags(ns="rio_overview", resampling="average")
