"""An offline map background from the project's own GeoTIFF.

With no basemap tiles, a hillshade of the elevation raster (or a colour ramp
of any other raster, e.g. flood depth) gives a plan map its ground. The
raster is warped to Web Mercator (the map's own projection, so the image
lines up everywhere, not only at its corners), reduced to at most
``max_size`` pixels a side, coloured, and embedded as a PNG ``data:`` URI in
a Leaflet image overlay.

Examples
--------
>>> import numpy as np, rasterio, tempfile, pathlib
>>> from affine import Affine
>>> path = pathlib.Path(tempfile.mkdtemp()) / "elevation.tif"
>>> z = np.add.outer(np.arange(50.0), np.arange(60.0)) / 20
>>> with rasterio.open(path, "w", driver="GTiff", width=60, height=50, count=1, dtype="float32",
...                    crs="EPSG:4549", transform=Affine(10, 0, 500000, 0, -10, 3400500)) as dst:
...     dst.write(z.astype("float32"), 1)
>>> overlay = raster_overlay(path)
>>> overlay.url.startswith("data:image/png;base64,"), overlay.layer_name
(True, '背景：elevation(晕渲)')
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import numpy as np
from folium.raster_layers import ImageOverlay

from ..errors import CRSError, Problem

__all__ = ["hillshade", "raster_overlay"]

log = logging.getLogger(__name__)

_ELEVATION_WORDS = ("elev", "dem", "dtm", "height", "高程")


def hillshade(z: np.ndarray, *, cell_m: float, azimuth: float = 315.0, altitude: float = 45.0,
              exaggeration: float = 1.0) -> np.ndarray:
    """Hillshade (0 dark .. 1 lit) of an elevation grid, NaN where ``z`` is NaN.

    Parameters
    ----------
    z : 2-D array
        Elevation in metres, rows north to south.
    cell_m : float
        Cell size on the ground, metres.
    azimuth, altitude : float
        Sun direction and height, degrees.
    exaggeration : float
        Vertical exaggeration (a plain's relief needs some).

    Examples
    --------
    >>> hs = hillshade(np.zeros((3, 3)), cell_m=10)
    >>> round(float(hs[1, 1]), 3)  # flat ground: sin(altitude)
    0.707
    """
    z = np.asarray(z, dtype="float64") * exaggeration
    filled = np.where(np.isnan(z), np.nanmean(z) if np.isfinite(z).any() else 0.0, z)
    dzdy, dzdx = np.gradient(filled, cell_m)
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(-dzdx, dzdy)
    az = np.radians(360.0 - azimuth + 90.0)
    alt = np.radians(altitude)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    shade = np.clip(shade, 0.0, 1.0)
    shade[np.isnan(z)] = np.nan
    return shade


def raster_overlay(path: str | Path, *, name: str | None = None, shade: bool | None = None,
                   cmap: str | None = None, max_size: int = 768, colours: int = 64,
                   opacity: float = 0.6,
                   band: int = 1, exaggeration: float = 10.0, show: bool = True) -> ImageOverlay:
    """A GeoTIFF as an embedded image overlay for an offline plan map.

    Parameters
    ----------
    path : str or Path
        A single- or multi-band GeoTIFF with a CRS (e.g. ``project.rasters["elevation"]``).
    name : str, optional
        Layer name; default ``背景：<file stem>``.
    shade : bool, optional
        Draw a hillshade blended with a colour ramp. Default: yes when the
        file name says elevation (``elev``, ``dem``, ``高程`` ...).
    cmap : str, optional
        matplotlib colour map; default ``"terrain"`` for a hillshade, else
        ``"Blues"``. Without a hillshade, values <= 0 and nodata are
        transparent (dry ground in a flood-depth raster).
    max_size : int
        Largest side of the embedded image, pixels (768: about 40 m a pixel
        over a district, 12 m over a town).
    colours : int
        The image is written as a palette PNG of this many colours (a
        hillshade needs few; 0 keeps full colour).
    opacity : float
    band : int
    exaggeration : float
        Vertical exaggeration of the hillshade.
    show : bool

    Returns
    -------
    folium.raster_layers.ImageOverlay
    """
    import matplotlib
    import rasterio
    from affine import Affine
    from PIL import Image
    from pyproj import Transformer
    from rasterio.warp import Resampling, reproject

    path = Path(path)
    with rasterio.open(path) as src:
        if src.crs is None:
            raise CRSError([Problem(path.name, "no_crs", [], "the raster has no CRS",
                                    "write the CRS into the GeoTIFF (EPSG:4549 for landplan data)")])
        left, bottom, right, top = _mercator_bounds(src)
        # about as many pixels as the source, in the source's aspect on the ground
        aspect = (right - left) / (top - bottom)
        w0 = max(src.width, src.height * aspect)
        h0 = w0 / aspect
        scale = min(1.0, max_size / max(w0, h0))
        width, height = max(1, round(w0 * scale)), max(1, round(h0 * scale))
        dst_transform = Affine((right - left) / width, 0.0, left, 0.0, -(top - bottom) / height, top)
        data = np.full((height, width), np.nan, dtype="float32")
        reproject(rasterio.band(src, band), data, src_nodata=src.nodata, dst_transform=dst_transform,
                  dst_crs="EPSG:3857", dst_nodata=np.nan, resampling=Resampling.bilinear)
    auto = any(w in path.stem.lower() for w in _ELEVATION_WORDS)
    shade = auto if shade is None else shade
    valid = np.isfinite(data)
    rgba = np.zeros((height, width, 4), dtype="uint8")
    if valid.any():
        lo, hi = np.nanpercentile(data[valid], [2, 98])
        norm = np.clip((data - lo) / ((hi - lo) or 1.0), 0, 1)
        ramp = matplotlib.colormaps[cmap or ("terrain" if shade else "Blues")]
        rgb = ramp(np.nan_to_num(norm))[..., :3]
        alpha = valid.copy()
        if shade:
            lat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(
                (left + right) / 2, (bottom + top) / 2)[1]
            cell = (right - left) / width * np.cos(np.radians(lat))
            hs = np.nan_to_num(hillshade(data, cell_m=cell, exaggeration=exaggeration), nan=0.0)
            rgb = rgb * (0.45 + 0.55 * hs[..., None])
        else:
            alpha &= data > 0
        rgba[..., :3] = np.round(rgb * 255).astype("uint8")
        rgba[..., 3] = np.where(alpha, 255, 0)
    buf = io.BytesIO()
    image = Image.fromarray(rgba, "RGBA")
    if colours:
        image = image.quantize(colors=int(colours), method=Image.Quantize.FASTOCTREE)
    image.save(buf, format="PNG", optimize=True)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    (w, e), (s, n) = zip(*[to_ll.transform(x, y) for x, y in ((left, bottom), (right, top))])
    label = name or f"背景：{path.stem}" + ("(晕渲)" if shade else "")
    log.info("background %s: %dx%d px, %.0f kB", path.name, width, height, len(uri) / 1e3)
    return ImageOverlay(uri, bounds=[[s, w], [n, e]], name=label, opacity=opacity, overlay=True,
                        control=True, show=show, interactive=False, cross_origin=False, zindex=1)


def _mercator_bounds(src) -> tuple[float, float, float, float]:
    from rasterio.warp import transform_bounds
    return transform_bounds(src.crs, "EPSG:3857", *src.bounds, densify_pts=21)
