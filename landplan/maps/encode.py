"""Layers for the browser: simplified, quantised, compactly encoded geometry and columns.

A map's size is mostly coordinates and repeated attribute names. Each layer
is written as one compact record (decoded by a few lines of JavaScript in
:mod:`landplan.maps.elements`), keeping every feature, however small:

- **simplification** in metres before reprojection: adjacent polygons
  (villages, farmland parcels) with :func:`shapely.coverage_simplify`, so that
  shared edges stay shared and no gaps open; other geometries one by one,
  topology kept;
- **quantisation**: coordinates rounded to ``precision`` decimals of a degree
  (6: 0.1 m, 5: about 1 m);
- **encoding**: all vertices of a layer in one Google encoded-polyline string
  (the `polyline` package; decoded in the browser by Leaflet.encoded). Each
  vertex is a delta from the one before, a few characters, and the first
  vertex of a feature is a delta from the last of the previous one, so the
  ring of a 10 m x 60 m parcel costs about 20 bytes. Polygons' closing vertex
  is left out (Leaflet closes rings);
- **columns, not features**: attributes are written column by column, with
  repeated values (village ids, modes, operators) as a table of distinct
  values and small integer codes, instead of a key-value object per feature.

On the 31,013 parcels of the bundled sample town this gives 0.54 MB of
geometry where GeoJSON at the same precision takes 8.1 MB and TopoJSON (the
``topojson`` package, shared edges once, on a 0.1 m grid) 3.6 MB, and it
encodes in 3 s where TopoJSON takes 13 s (``benchmarks/bench_maps.py``).

Text is written compactly (no spaces, UTF-8) and safe inside ``<script>``
(``<``, ``>``, ``&`` escaped as ``\\u003c`` ...).

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> g = gpd.GeoSeries([box(500000, 3400000, 500010, 3400060)], crs="EPSG:4549")
>>> enc = encode_geometry(display_geometry(g), precision=6)
>>> enc["k"], enc["n"], len(enc["g"]) < 30
('polygon', [4], True)
"""

from __future__ import annotations

import html as _html
import json
import logging
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..units import WORKING_CRS

__all__ = [
    "decode_geometry",
    "display_geometry",
    "encode_columns",
    "encode_geometry",
    "html_text",
    "js_json",
    "metres_per_step",
]

log = logging.getLogger(__name__)

#: Metres on the ground per unit of the last decimal of a degree, roughly (latitude).
_M_PER_DEG = 111_320.0
#: Encoded polylines are decoded with 32-bit integers in the browser: 6 decimals at most.
MAX_PRECISION = 6


def metres_per_step(precision: int) -> float:
    """Ground size of one step of ``precision`` decimals of a degree (latitude).

    Examples
    --------
    >>> round(metres_per_step(6), 3)
    0.111
    """
    return _M_PER_DEG * 10.0 ** (-precision)


def display_geometry(geometry: gpd.GeoSeries, *, tolerance_m: float = 0.5, coverage: bool = False,
                     precision: int = 6) -> gpd.GeoSeries:
    """Simplify in metres, reproject to EPSG:4326 and round the coordinates.

    Parameters
    ----------
    geometry : GeoSeries
        In any CRS (a geographic one is projected to EPSG:4549 to simplify).
    tolerance_m : float
        Simplification tolerance in metres; 0 keeps every vertex.
    coverage : bool
        The polygons tile the ground (villages, parcels): simplify them as a
        coverage so that shared edges stay shared. A set that is not a valid
        coverage (overlaps) is simplified polygon by polygon instead, with a
        log message.
    precision : int
        Decimals of a degree kept.

    Returns
    -------
    GeoSeries
        Same index and length, EPSG:4326.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoSeries([box(500000, 3400000, 500100, 3400100),
    ...                    box(500100, 3400000, 500200, 3400100)], crs="EPSG:4549")
    >>> out = display_geometry(g, tolerance_m=1.0, coverage=True)
    >>> out.crs.to_epsg(), out.iloc[0].intersection(out.iloc[1]).length > 0  # edge still shared
    (4326, True)
    """
    gs = geometry
    if gs.crs is None:
        raise ValueError("geometry has no CRS; set it (e.g. gdf.set_crs('EPSG:4549')) before mapping")
    if gs.crs.is_geographic:
        gs = gs.to_crs(WORKING_CRS)
    arr = np.asarray(gs.values)
    # nothing to simplify in triangles and rectangles (generated parcels are rectangles)
    if tolerance_m and tolerance_m > 0 and len(arr) and shapely.get_num_coordinates(arr).max() > 5:
        polys = np.isin(shapely.get_type_id(arr), (3, 6))
        if coverage and polys.all() and shapely.coverage_is_valid(arr):
            arr = shapely.coverage_simplify(arr, tolerance_m, simplify_boundary=True)
        else:
            if coverage:
                log.info("polygons overlap or do not meet edge to edge; simplified one by one")
            arr = shapely.simplify(arr, tolerance_m, preserve_topology=True)
    out = gpd.GeoSeries(arr, index=gs.index, crs=gs.crs).to_crs("EPSG:4326")
    rounded = shapely.transform(np.asarray(out.values), lambda c: np.round(c, precision))
    return gpd.GeoSeries(rounded, index=out.index, crs="EPSG:4326")


def _kind(types: np.ndarray) -> str:
    fam = {"Point": "point", "MultiPoint": "point", "LineString": "line",
           "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}
    kinds = {fam.get(t) for t in types}
    if None in kinds or len(kinds) != 1:
        raise ValueError(f"one geometry family per layer expected, found {sorted(set(types))}")
    return kinds.pop()


def encode_geometry(geometry: gpd.GeoSeries, *, precision: int = 6) -> dict:
    """All vertices of a layer as one encoded polyline, and the feature structure.

    Parameters
    ----------
    geometry : GeoSeries
        EPSG:4326 (as from :func:`display_geometry`); one family (points,
        lines or polygons), no empty geometries.
    precision : int
        Decimals of a degree (at most 6).

    Returns
    -------
    dict
        ``k``: ``"point"``, ``"line"`` or ``"polygon"``; ``p``: precision;
        ``g``: the encoded vertices (latitude, longitude); ``n``: per feature,
        for lines the vertex count of each part (a bare number for one part),
        for polygons the vertex count of each ring of each polygon (a bare
        number for one polygon with one ring; closing vertices left out);
        absent for points (one vertex each).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, MultiLineString, Point
    >>> g = gpd.GeoSeries([LineString([(120.0, 30.0), (120.001, 30.0)]),
    ...                    MultiLineString([[(120.0, 30.0), (120.0, 30.1)], [(120.2, 30.0), (120.2, 30.1)]])],
    ...                   crs=4326)
    >>> encode_geometry(g)["n"]
    [2, [2, 2]]
    >>> decode_geometry(encode_geometry(gpd.GeoSeries([Point(120.5, 30.25)], crs=4326)))
    [[30.25, 120.5]]
    """
    import polyline

    if not 0 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be 0..{MAX_PRECISION} (the browser decodes 32-bit integers)")
    arr = np.asarray(geometry.values)
    kind = _kind(geometry.geom_type.to_numpy())
    structure: list = []
    if kind == "point":
        xy = shapely.get_coordinates(shapely.point_on_surface(arr))  # a MultiPoint at one point
    else:
        parts, part_of = shapely.get_parts(arr, return_index=True)
        if kind == "polygon":
            rings, ring_of = shapely.get_rings(parts, return_index=True)
        else:
            rings, ring_of = parts, np.arange(len(parts))
        xy, vertex_of = shapely.get_coordinates(rings, return_index=True)
        counts = np.bincount(vertex_of, minlength=len(rings))
        if kind == "polygon":  # drop each ring's closing vertex: Leaflet closes rings
            last = np.cumsum(counts) - 1
            keep = np.ones(len(xy), dtype=bool)
            keep[last] = False
            xy = xy[keep]
            counts = counts - 1
        structure = _structure(kind, counts.tolist(), ring_of.tolist(), part_of.tolist(), len(arr))
    latlon = np.round(xy[:, ::-1], precision)
    encoded = polyline.encode([tuple(p) for p in latlon.tolist()], precision)
    out = {"k": kind, "p": int(precision), "g": encoded}
    if kind != "point":
        out["n"] = structure
    return out


def _structure(kind, counts, ring_of, part_of, n) -> list:
    """Nest vertex counts per ring into parts (polygons) into features."""
    features: list[list] = [[] for _ in range(n)]
    if kind == "line":
        for part, c in enumerate(counts):
            features[part_of[part]].append(c)
        return [f[0] if len(f) == 1 else f for f in features]
    polys: list[list] = [[] for _ in range(len(part_of))]
    for ring, c in enumerate(counts):
        polys[ring_of[ring]].append(c)
    for p, rings in enumerate(polys):
        features[part_of[p]].append(rings)
    return [f[0][0] if len(f) == 1 and len(f[0]) == 1 else f for f in features]


def decode_geometry(enc: dict) -> list:
    """The inverse of :func:`encode_geometry`, in Leaflet's nesting of [lat, lon] pairs.

    For tests and for reading a saved map back; the browser decodes with
    Leaflet.encoded. Per feature: a point gives one [lat, lon] pair; a line
    a list of parts (each a list of pairs); a polygon a list of polygons
    (each a list of rings, each a list of pairs).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoSeries([box(120.0, 30.0, 120.001, 30.002)], crs=4326)
    >>> decode_geometry(encode_geometry(g))
    [[[[[30.0, 120.001], [30.002, 120.001], [30.002, 120.0], [30.0, 120.0]]]]]
    """
    import polyline

    pts = [list(p) for p in polyline.decode(enc["g"], enc["p"])]
    if enc["k"] == "point":
        return pts
    at = 0

    def take(n):
        nonlocal at
        out = pts[at:at + n]
        at += n
        return out

    features = []
    for entry in enc["n"]:
        if enc["k"] == "line":
            parts = [entry] if isinstance(entry, int) else entry
            features.append([take(n) for n in parts])
        else:
            polys = [[entry]] if isinstance(entry, int) else entry
            features.append([[take(n) for n in rings] for rings in polys])
    return features


def encode_columns(props: pd.DataFrame) -> list:
    """Attribute columns for the browser: plain lists, or distinct values plus codes.

    A column with many repeats (fewer distinct values than half its rows) is
    written as ``{"v": [distinct values], "i": [code per row]}``; others as a
    plain list. Missing values are ``null``.

    Examples
    --------
    >>> import pandas as pd
    >>> encode_columns(pd.DataFrame({"mode": ["出租", "出租", None, "出租"], "id": ["a", "b", "c", "d"]}))
    [{'v': ['出租', None], 'i': [0, 0, 1, 0]}, ['a', 'b', 'c', 'd']]
    """
    out = []
    for col in props.columns:
        values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v
                  for v in props[col].to_numpy(dtype=object).tolist()]
        distinct = list(dict.fromkeys(values))
        if len(values) >= 4 and len(distinct) * 2 <= len(values):
            pos = {v: i for i, v in enumerate(distinct)}
            out.append({"v": distinct, "i": [pos[v] for v in values]})
        else:
            out.append(values)
    return out


_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


def js_json(obj) -> str:
    """Compact JSON that is safe inside an HTML ``<script>`` and inside folium's templates.

    ``<``, ``>`` and ``&`` are escaped so that no text can close the script;
    a ``{`` that would open a Jinja tag (``{{``, ``{%``, ``{#``) is escaped
    too, because branca renders each element's output through Jinja again:
    unescaped, a village named ``{{ 7*7 }}`` would come out as ``49`` (and
    worse expressions would run on the machine making the map).

    Examples
    --------
    >>> print(js_json({"name": "</script><b>东港村</b>", "x": [1, 2]}))
    {"name":"\\u003c/script\\u003e\\u003cb\\u003e东港村\\u003c/b\\u003e","x":[1,2]}
    >>> print(js_json(["{{ 7*7 }}"]))
    ["\\u007b{ 7*7 }}"]
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    # compact JSON never has a structural "{" before "{", "%" or "#": these are in strings
    return _JINJA_OPEN.sub(lambda m: "\\u007b", text)


def html_text(value) -> str:
    """Text for HTML: escaped, braces as character references (inert in folium's templates).

    Examples
    --------
    >>> html_text('<img src=x onerror="alert(1)">{{ 7*7 }}')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#123;&#123; 7*7 &#125;&#125;'
    """
    return _html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")
