"""Shapefile specifics: file sizes before writing, the 2 GB limit, encodings.

A shapefile's ``.shp`` and ``.dbf`` address their content with 32-bit
offsets; ArcGIS and most readers stop at 2 GB per file. GDAL does not refuse a
bigger file by default, so :func:`estimate_shapefile_bytes` computes each
file's size from the geometries and the field widths before anything is
written, and the export refuses a layer over the limit with the format to use
instead.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> gdf = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs="EPSG:4549")
>>> estimate_shapefile_bytes(gdf.geometry.values, [])["shp"]  # header 100 + record 8 + 128
236
>>> cpg_text("gbk"), cpg_text("utf-8")
('936', 'UTF-8')
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["SHAPEFILE_MAX_BYTES", "cpg_text", "estimate_shapefile_bytes"]

#: The largest .shp or .dbf ArcGIS reads: 2 GB.
SHAPEFILE_MAX_BYTES = 2**31


def cpg_text(encoding: str) -> str:
    """What the ``.cpg`` beside a shapefile says for ``encoding``.

    GBK is written as its Windows code page number ``936``, which ArcGIS and
    GDAL both read; UTF-8 as ``UTF-8``.
    """
    e = encoding.lower().replace("-", "").replace("_", "")
    if e in ("gbk", "cp936", "936"):
        return "936"
    if e == "utf8":
        return "UTF-8"
    raise ValueError(f"unsupported shapefile encoding {encoding!r}; use 'utf-8' or 'gbk'")


def _shape_content_bytes(geoms: np.ndarray) -> np.ndarray:
    """Bytes of each record's content in the .shp (without the 8-byte record header)."""
    n = len(geoms)
    out = np.full(n, 4, dtype=np.int64)  # null shape: the type only
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return out
    g = geoms[present]
    type_id = shapely.get_type_id(g)
    has_z = shapely.has_z(g)
    coords = shapely.get_num_coordinates(g).astype(np.int64)
    size = np.zeros(len(g), dtype=np.int64)
    # point: type + x, y (+ z, m)
    pt = type_id == 0
    size[pt] = 20 + np.where(has_z[pt], 16, 0)
    # multipoint: type + box + count + points
    mp = type_id == 4
    size[mp] = 40 + 16 * coords[mp] + np.where(has_z[mp], 32 + 16 * coords[mp], 0)
    # lines and polygons: type + box + numParts + numPoints + part index + points
    other = ~(pt | mp)
    if other.any():
        go = g[other]
        parts, part_idx = shapely.get_parts(go, return_index=True)
        polys = shapely.get_type_id(parts) == 3
        n_parts = np.zeros(len(go), dtype=np.int64)
        lines_per_part = np.where(polys, shapely.get_num_interior_rings(parts) + 1, 1)
        np.add.at(n_parts, part_idx, lines_per_part)
        pts = coords[other]
        z = has_z[other]
        size[other] = 44 + 4 * n_parts + 16 * pts + np.where(z, 32 + 16 * pts, 0)
    out[present] = size
    return out


def estimate_shapefile_bytes(geoms, widths: list[int], *, n_rows: int | None = None) -> dict[str, int]:
    """The sizes of the ``.shp``, ``.shx`` and ``.dbf`` GDAL will write.

    Parameters
    ----------
    geoms : array of shapely geometries, or None
        The layer's geometries (None for a table, written as a lone ``.dbf``).
    widths : list of int
        The dBASE width of each field, in field order.
    n_rows : int, optional
        Number of records of a table (when ``geoms`` is None).

    Returns
    -------
    dict
        ``{"shp": bytes, "shx": bytes, "dbf": bytes}`` (shp and shx are 0 for a table).

    Examples
    --------
    >>> estimate_shapefile_bytes(None, [10, 8], n_rows=3)
    {'shp': 0, 'shx': 0, 'dbf': 155}
    """
    if geoms is None:
        return {"shp": 0, "shx": 0, "dbf": dbf_bytes(n_rows or 0, widths)}
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    return {"shp": 100 + int((8 + _shape_content_bytes(geoms)).sum()), "shx": 100 + 8 * n,
            "dbf": dbf_bytes(n, widths)}


def dbf_bytes(n_rows: int, widths: list[int]) -> int:
    """Size of a ``.dbf`` of ``n_rows`` records with the given field widths.

    A 32-byte header, 32 bytes per field and a terminator, then one deletion
    flag plus the field widths per record, then the end-of-file marker.

    Examples
    --------
    >>> dbf_bytes(3, [10, 8])
    155
    """
    return 32 + 32 * len(widths) + 1 + n_rows * (1 + sum(widths)) + 1
