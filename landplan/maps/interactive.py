"""Interactive plan maps: folium maps that work at a township meeting with no internet.

:func:`plan_map` draws a plan's layers (towns, villages, hamlets, homestead
flags, candidate and opened sites, moves, farmland blocks, transfer progress,
and the project's roads, water and parcels) on one Leaflet map with a layer
control, a legend, a search box for village names, and Chinese tooltips and
popups. The map is an :class:`~landplan.maps.offline.OfflineMap`:
``m.save("plan.html")`` writes one self-contained file (no CDN, no basemap
needed), and it displays in a notebook the same way.

What leaves in the file is decided by a whitelist (:mod:`landplan.maps.styles`):
only the columns a layer's style lists, plus those named in ``columns=``; the
names and ID numbers of household heads only with ``include_personal=True``.
Every value shown is HTML-escaped before it reaches folium, so markup in an
attribute (``<b>东港村</b>``) is shown as text and never runs. Every row given
becomes one feature: a row that cannot be drawn (no geometry) is an error
naming it, never dropped.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> from landplan.maps import plan_map
>>> villages = gpd.GeoDataFrame(
...     {"village_id": ["V1", "V2"], "town_id": ["T1", "T1"], "name": ["竹林村", "<b>东港村</b>"]},
...     geometry=[box(500000, 3400000, 501000, 3402000), box(501000, 3400000, 502000, 3402000)],
...     crs="EPSG:4549")
>>> m = plan_map({"villages": villages}, title="新丰镇规划图")
>>> page = m.get_root().render()
>>> "<b>东港村</b>" in page  # the markup never reaches the page as markup
False
>>> m.layer_counts
{'villages': 2}
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.plugins import Search

from ..errors import Problem, ValidationError
from ..units import WORKING_CRS, m2_to_mu
from .elements import ClusteredPoints, CompactLayer, DrawOrder, Legend, MetricScale, Title
from .encode import display_geometry, encode_columns, encode_geometry, html_text
from .offline import OfflineMap
from .styles import (
    FALLBACK_COLOURS,
    LAYER_STYLES,
    PERSONAL_COLUMNS,
    VALUE_ZH,
    Field,
    LayerStyle,
    label_for,
)
from .tiles import tile_layers

__all__ = ["layer_properties", "plan_map"]

log = logging.getLogger(__name__)

_GEOM_FAMILY = {"Polygon": ("Polygon", "MultiPolygon"), "LineString": ("LineString", "MultiLineString"),
                "Point": ("Point", "MultiPoint")}


def plan_map(layers, *, title: str = "规划图", subtitle: str | None = None, background=None,
             tiles=None, include_personal: bool = False,
             columns: Mapping[str, list[str]] | None = None,
             styles: Mapping[str, LayerStyle] | None = None, simplify_m: float = 0.5,
             precision: int = 6, cluster: bool = True,
             search: str | None = "villages", legend: bool = True,
             progress: bool = False) -> OfflineMap:
    """Draw a plan's layers on one offline interactive map.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame, or Project
        Layer name -> frame, in any projected or geographic CRS. Names are
        those of :data:`landplan.maps.styles.LAYER_STYLES`: ``towns``,
        ``villages``, ``hamlets``, ``homestead_flags``, ``sites`` (split into
        candidate and opened sites by a boolean ``opened`` column),
        ``opened_sites``, ``moves`` (lines), ``blocks``, ``transfer`` (per
        village; a table keyed by ``village_id`` is drawn on the villages'
        polygons), ``farmland``, ``roads``, ``water``, ``homesteads``,
        ``protected``, ``facilities``. A :class:`~landplan.project.Project`
        draws its styled layers (tables such as households are not drawn).
    title, subtitle : str
        Shown at the top of the map and as the page title.
    background : str, Path or folium.raster_layers.ImageOverlay, optional
        An offline background: a GeoTIFF (see
        :func:`landplan.maps.background.raster_overlay`) or a ready overlay.
    tiles : str, folium.TileLayer or list, optional
        Online basemap tiles, e.g. ``tianditu_tiles(key)``. GCJ-02 (Gaode,
        Tencent) and BD-09 (Baidu) tiles are refused. None (default): no
        basemap, no request leaves the file.
    include_personal : bool
        Write household heads' names and ID numbers (``head_name``,
        ``id_number``) where a layer has them. Off by default.
    columns : mapping of str to list of str, optional
        Extra columns to show per layer (beyond the style's whitelist).
    styles : mapping of str to LayerStyle, optional
        Styles that replace or add to :data:`~landplan.maps.styles.LAYER_STYLES`.
    simplify_m : float
        Simplification tolerance in metres (0 keeps every vertex).
    precision : int
        Decimals of a degree kept (6: 0.1 m; 5: about 1 m; at most 6).
    cluster : bool
        Cluster point layers whose style says so.
    search : str or None
        The layer whose ``search`` column the search box looks up (village
        names by default); None for no search box.
    legend : bool
    progress : bool
        Show a progress bar over the layers.

    Returns
    -------
    OfflineMap
        A folium map; ``m.save(path)`` writes the offline page.
        ``m.layer_counts`` gives the features drawn per layer.

    Raises
    ------
    landplan.errors.ValidationError
        A layer without a CRS, with rows without geometry, of the wrong
        geometry type, without its key column, asking for personal columns
        without ``include_personal``, or transfer rows whose village is not
        in ``villages``. Every problem is listed with its rows and fix.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> moves = gpd.GeoDataFrame(
    ...     {"origin": ["H1"], "destination": ["S1"], "households": [12], "distance_m": [850.0]},
    ...     geometry=[LineString([(500000, 3400000), (500800, 3400300)])], crs="EPSG:4549")
    >>> m = plan_map({"moves": moves}, title="搬迁")
    >>> m.layer_counts["moves"]
    1
    """
    from tqdm.auto import tqdm

    if hasattr(layers, "layers") and not isinstance(layers, Mapping):
        layers = _styled_project_layers(layers.layers)
    all_styles = dict(LAYER_STYLES)
    all_styles.update(styles or {})
    frames = _split_sites(dict(layers))
    frames = {k: v for k, v in frames.items() if v is not None}
    columns = {k: list(v) for k, v in (columns or {}).items()}

    problems = _check_layers(frames, all_styles, columns, include_personal)
    if problems:
        raise ValidationError(problems)

    m = OfflineMap(location=[30.75, 120.78], zoom_start=12, prefer_canvas=True, maxZoom=20,
                   minZoom=6)
    MetricScale().add_to(m)
    figure = m.get_root()
    figure.title = html_text(title)
    for t in tile_layers(tiles):
        t.add_to(m)
    if background is not None:
        from folium.raster_layers import ImageOverlay

        from .background import raster_overlay
        overlay = background if isinstance(background, ImageOverlay) else raster_overlay(background)
        overlay.add_to(m)

    order = [k for k in all_styles if k in frames]
    # the view is set before any layer is added: MarkerCluster must not be re-clustering
    # when a later fitBounds changes the zoom
    view = _lonlat_bounds([frames[k] for k in order if isinstance(frames[k], gpd.GeoDataFrame)])
    if view is not None:
        m.fit_bounds([[view[1], view[0]], [view[3], view[2]]])
    counts: dict[str, int] = {}
    legend_entries = []
    search_layer = None
    drawn = []
    for key in tqdm(order, desc="map layers", disable=not progress):
        style = all_styles[key]
        gdf = frames[key]
        if key == "transfer":
            gdf = _transfer_on_villages(gdf, frames["villages"])
        element, n, swatches = _layer_element(
            gdf, style, extra=columns.get(key, []), include_personal=include_personal,
            simplify_m=simplify_m, precision=precision, cluster=cluster,
            search_column=style.search if (search == key and len(gdf)) else None)
        element.add_to(m)
        drawn.append(element)
        counts[key] = n
        legend_entries.append((style.zh, swatches))
        if search is not None and key == search and style.search and n:
            search_layer = element
        log.info("map layer %s (%s): %d features", key, style.zh, n)
    if search_layer is not None:
        Search(search_layer, search_label=all_styles[search].search, geom_type="Polygon",
               placeholder="搜索村名", collapsed=False, position="topleft").add_to(m)
        figure.header.add_child(Element("<style>.leaflet-control-search .search-input "
                                        "{ width: 9em; }</style>"), name="landplan_search_css")
    if len(drawn) > 1:
        DrawOrder(drawn).add_to(m)
    Title(title, subtitle).add_to(m)
    if legend and legend_entries:
        Legend(legend_entries).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.layer_counts = counts
    log.info("plan map %r: %s", title, ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return m


# ---------------------------------------------------------------------------------------------
# input checks


def _lonlat_bounds(frames) -> tuple[float, float, float, float] | None:
    """West, south, east, north of the layers' geometries in EPSG:4326."""
    from pyproj import Transformer

    boxes = []
    for gdf in frames:
        if gdf.crs is None or not len(gdf) or gdf.geometry.isna().all():
            continue
        x0, y0, x1, y1 = gdf.total_bounds
        if not np.isfinite([x0, y0, x1, y1]).all():
            continue
        t = Transformer.from_crs(gdf.crs, "EPSG:4326", always_xy=True)
        boxes.append(t.transform_bounds(x0, y0, x1, y1))
    if not boxes:
        return None
    b = np.array(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _styled_project_layers(project_layers: Mapping) -> dict:
    out = {}
    for k, v in project_layers.items():
        if k in LAYER_STYLES:
            out[k] = v
        else:
            log.info("project layer %r has no map style and is not drawn", k)
    return out


def _split_sites(frames: dict) -> dict:
    sites = frames.get("sites")
    if sites is None or "opened" not in getattr(sites, "columns", ()):
        return frames
    opened = sites["opened"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    out = dict(frames)
    out["sites"] = sites[~opened]
    if opened.any():
        if "opened_sites" in frames:
            raise ValidationError([Problem(
                "sites", "opened_twice", [], "sites has an 'opened' column and opened_sites is given too",
                "pass either sites with an 'opened' column or separate sites and opened_sites")])
        out["opened_sites"] = sites[opened]
    if not (~opened).any():
        del out["sites"]
    return out


def _key_column(style: LayerStyle, df) -> str | None:
    return next((c for c in style.id_columns if c in df.columns), None)


def _check_layers(frames, styles, columns, include_personal) -> list[Problem]:
    problems: list[Problem] = []
    if "transfer" in frames and not isinstance(frames["transfer"], gpd.GeoDataFrame):
        frames["transfer"] = _village_id_column(frames["transfer"])
    for key, df in frames.items():
        if key not in styles:
            problems.append(Problem(key, "unknown_layer", [],
                                    f"no map style for layer {key!r}",
                                    f"use one of: {', '.join(styles)}; or pass styles={{{key!r}: "
                                    "LayerStyle(...)}"))
            continue
        style = styles[key]
        kcol = _key_column(style, df)
        if kcol is None:
            problems.append(Problem(key, "missing_key", [],
                                    f"no key column ({' or '.join(style.id_columns)})",
                                    "add the key column so each feature can be traced to its row"))
            continue
        asked = [c for c in columns.get(key, []) if c in PERSONAL_COLUMNS]
        if asked and not include_personal:
            problems.append(Problem(key, "personal_columns", asked,
                                    f"columns {', '.join(asked)} hold personal data",
                                    "pass include_personal=True to write them into the map"))
        missing = [c for c in columns.get(key, []) if c not in df.columns]
        if missing:
            problems.append(Problem(key, "unknown_columns", missing,
                                    f"columns asked for are not in the layer: {', '.join(missing)}",
                                    f"choose from: {', '.join(map(str, df.columns))}"))
        if key == "transfer" and not isinstance(df, gpd.GeoDataFrame):
            if "villages" not in frames:
                problems.append(Problem("transfer", "no_geometry", [],
                                        "the transfer table has no geometry and no villages layer "
                                        "is given to draw it on",
                                        "pass the villages layer too (layers['villages'])"))
            elif "village_id" in df.columns:
                known = set(frames["villages"]["village_id"].astype(str))
                vid = df["village_id"].astype(str)
                dup = sorted(set(vid[vid.duplicated()]))
                if dup:
                    problems.append(Problem("transfer", "duplicate_village", dup,
                                            "several transfer rows for the same village",
                                            "give one row per village (sum the records first)"))
                bad = sorted(set(vid) - known)
                if bad:
                    problems.append(Problem("transfer", "dangling_reference", bad,
                                            "village_id points at villages not in the villages layer",
                                            "correct village_id or pass the missing villages"))
            continue
        if not isinstance(df, gpd.GeoDataFrame):
            problems.append(Problem(key, "no_geometry", [], "the layer is a table without geometry",
                                    "pass a GeoDataFrame"))
            continue
        if df.crs is None:
            problems.append(Problem(key, "no_crs", [], "the layer has no CRS",
                                    f"set it, e.g. gdf.set_crs('{WORKING_CRS}')"))
        ids = df[kcol].astype(str).to_numpy()
        empty = df.geometry.isna().to_numpy() | df.geometry.is_empty.to_numpy()
        if empty.any():
            problems.append(Problem(key, "no_geometry", list(ids[empty]),
                                    f"{int(empty.sum())} rows have no geometry and cannot be drawn",
                                    "give them a geometry, or remove them knowingly before mapping"))
        types = df.geometry.geom_type.to_numpy()
        allowed = _GEOM_FAMILY[style.geometry]
        if style.geometry == "Point":
            allowed = allowed + _GEOM_FAMILY["Polygon"]  # drawn at a representative point
        wrong = ~empty & ~np.isin(types, allowed)
        if wrong.any():
            found = sorted(set(types[wrong]))
            problems.append(Problem(key, "geometry_type", list(ids[wrong]),
                                    f"expected {style.geometry} geometries, found {', '.join(found)}",
                                    f"pass {style.geometry} geometries for {key}"))
    return problems


def _village_id_column(df: pd.DataFrame) -> pd.DataFrame:
    """transfer_progress(level="village") has village_id as its index: make it a column."""
    if "village_id" not in df.columns and df.index.name == "village_id":
        return df.reset_index()
    return df


def _transfer_on_villages(progress: pd.DataFrame, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Per-village transfer progress on the villages' polygons (every village drawn)."""
    if isinstance(progress, gpd.GeoDataFrame):
        return progress
    progress = _village_id_column(progress)
    extra = [c for c in progress.columns if c not in ("geometry",) and c not in ("town_id",)]
    base = villages[["village_id", "name", "geometry"]].copy()
    base["village_id"] = base["village_id"].astype(str)
    prog = progress[extra].copy()
    prog["village_id"] = prog["village_id"].astype(str)
    if "name" in prog.columns:
        prog = prog.drop(columns="name")
    merged = base.merge(prog, on="village_id", how="left", validate="one_to_one")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=villages.crs)


# ---------------------------------------------------------------------------------------------
# properties


def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v))
    except TypeError:
        return False


def _format(v, fmt: str) -> str | None:
    if _is_missing(v):
        return None
    if fmt == "bool":
        s = "是" if bool(v) else "否"
    elif fmt == "int":
        s = f"{round(float(v)):,}"
    elif fmt in ("float0", "float1", "float2"):
        s = f"{float(v):,.{fmt[-1]}f}"
    elif fmt == "pct":
        s = f"{float(v) * 100:.1f}%"
    elif fmt == "year":
        s = str(int(v))
    elif fmt == "code":
        s = VALUE_ZH.get(str(v), str(v))
    else:
        s = str(v)
    return html_text(s)


def _format_column(series: pd.Series, fmt: str) -> list:
    """_format over a column, each distinct value formatted once."""
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    done = [_format(u, fmt) for u in uniques]
    return [done[c] if c >= 0 else None for c in codes.tolist()]


def layer_properties(df: pd.DataFrame, style: LayerStyle, *, extra=(), include_personal: bool = False,
                     area_m2=None) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The whitelisted, formatted and HTML-escaped properties of a layer.

    Parameters
    ----------
    df : DataFrame
        The layer.
    style : LayerStyle
        Its style (the whitelist).
    extra : list of str
        More columns to show.
    include_personal : bool
        Keep personal columns (names, ID numbers).
    area_m2 : array, optional
        Areas for an ``面积(亩)`` field (styles with ``area_mu``).

    Returns
    -------
    props : DataFrame
        One column per field shown (strings, escaped; None where missing),
        index aligned with ``df``.
    labels : list of str
        Escaped Chinese labels of the columns.
    tooltip : list of str
        The columns the tooltip shows.

    Examples
    --------
    >>> import pandas as pd
    >>> from landplan.maps.styles import LAYER_STYLES
    >>> df = pd.DataFrame({"village_id": ["V1"], "name": ["<b>东港村</b>"], "secret": ["x"]})
    >>> props, labels, tip = layer_properties(df, LAYER_STYLES["villages"])
    >>> props.to_dict("records"), labels
    ([{'name': '&lt;b&gt;东港村&lt;/b&gt;', 'village_id': 'V1'}], ['村名称', '村代码'])
    """
    fields: list[tuple[str, Field]] = []
    seen = set()
    for f in style.fields:
        col = f.present(df.columns)
        if col is None or col in seen:
            continue
        if col in PERSONAL_COLUMNS and not include_personal:
            continue
        fields.append((col, f))
        seen.add(col)
    kcol = _key_column(style, df)
    if kcol is not None and kcol not in seen:
        fields.insert(0, (kcol, Field(kcol, label_for(style.key, kcol))))
        seen.add(kcol)
    for col in extra:
        if col not in seen and col != "geometry":
            fields.append((col, Field(col, label_for(style.key, col))))
            seen.add(col)
    out = {col: _format_column(df[col], f.fmt) for col, f in fields}
    labels = [html_text(f.zh) for _, f in fields]
    tooltip = [col for col, f in fields if f.tooltip] or [fields[0][0]]
    if style.area_mu and area_m2 is not None:
        out["area_mu"] = [_format(v, "float2") for v in m2_to_mu(np.asarray(area_m2, dtype=float))]
        if "area_mu" not in seen:
            labels.append(html_text("面积(亩)"))
            tooltip.append("area_mu")
    props = pd.DataFrame(out, index=df.index, dtype=object)
    return props, labels, tooltip


def _categories(df: pd.DataFrame, style: LayerStyle) -> tuple[np.ndarray | None, list, list]:
    """Category index per row, colours, and (colour, label) legend swatches for present classes."""
    col = next((c for c in style.category if c in df.columns), None)
    if col is None:
        return None, [], []
    values = df[col].to_numpy(dtype=object)
    missing = np.array([_is_missing(v) for v in values], dtype=bool)
    if style.bins:
        finite = [(u, c, lab) for u, c, lab in style.bins if u is not None]
        nodata = next(((c, lab) for u, c, lab in style.bins if u is None), ("#d9d9d9", "无数据"))
        uppers = np.array([u for u, _, _ in finite], dtype=float)
        colours = [c for _, c, _ in finite] + [nodata[0]]
        labels = [lab for _, _, lab in finite] + [nodata[1]]
        num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
        missing |= np.isnan(num)
        idx = np.searchsorted(uppers, np.where(missing, 0.0, num), side="left")
        idx = np.where(missing, len(finite), idx)
    else:
        colours, labels, lookup = [], [], {}
        for value, colour, label in style.palette:
            lookup[value] = len(colours)
            colours.append(colour)
            labels.append(label)
        idx = np.empty(len(values), dtype=int)
        for i, (v, miss) in enumerate(zip(values, missing)):
            key = None if miss else str(v)
            if key not in lookup:
                lookup[key] = len(colours)
                colours.append(FALLBACK_COLOURS[len(colours) % len(FALLBACK_COLOURS)]
                               if key is not None else "#cccccc")
                labels.append(VALUE_ZH.get(key, key) if key is not None else "无")
            idx[i] = lookup[key]
    present = sorted(set(idx.tolist()))
    return idx, colours, [(colours[i], labels[i]) for i in present]


def _base_style(style: LayerStyle) -> dict:
    s = {"color": style.color, "weight": style.weight, "opacity": style.opacity}
    if style.dash:
        s["dashArray"] = style.dash
    if style.geometry == "LineString":
        s["fill"] = False
    elif style.fill_color is None:
        # outline only; the transparent inside still answers the pointer where no layer
        # drawn above it does (such layers are drawn lowest)
        s.update(fill=True, fillOpacity=0.0)
    else:
        s.update(fill=True, fillColor=style.fill_color, fillOpacity=style.fill_opacity)
    if style.geometry == "Point":
        s["radius"] = style.radius
    return s


def _swatch_kind(style: LayerStyle, categorised: bool) -> str:
    if style.geometry == "Point":
        return "point"
    if style.geometry == "LineString" or style.fill_color is None:
        return "dash" if style.dash and not categorised else "line"
    return "fill"


def _outline(geometry: gpd.GeoSeries, gap_m: float) -> gpd.GeoSeries:
    """Parts closer than ``gap_m`` joined into one outline (closing: grow, then shrink)."""
    half = gap_m / 2
    grown = shapely.buffer(np.asarray(geometry.values), half, quad_segs=1, join_style="mitre")
    closed = shapely.buffer(grown, -half, quad_segs=1, join_style="mitre")
    empty = shapely.is_empty(closed)  # never lose a feature: keep a part too thin to survive
    closed[empty] = np.asarray(geometry.values)[empty]
    return gpd.GeoSeries(closed, index=geometry.index, crs=geometry.crs)


def _layer_element(gdf, style: LayerStyle, *, extra, include_personal, simplify_m, precision, cluster,
                   search_column: str | None):
    """The folium element of one layer, its feature count and legend swatches."""
    name = html_text(style.zh)
    n = len(gdf)
    geom = gdf.geometry
    work = geom.to_crs(WORKING_CRS) if geom.crs is not None and geom.crs.is_geographic else geom
    area = work.area.to_numpy() if style.area_mu else None
    if style.geometry == "Point" and (work.geom_type != "Point").any():
        work = work.representative_point()  # polygons (and multipoints) drawn at one point
    elif style.close_gaps_m > 0:
        work = _outline(work, style.close_gaps_m)
    props, labels, tooltip = layer_properties(gdf, style, extra=extra,
                                              include_personal=include_personal, area_m2=area)
    cat, colours, swatches = _categories(gdf, style)
    kind = _swatch_kind(style, cat is not None)
    if cat is None:
        swatches = [(style.fill_color or style.color, style.zh, kind)]
    else:
        swatches = [(c, lab, kind) for c, lab in swatches]
    disp = display_geometry(work, tolerance_m=0.0 if style.geometry == "Point" else simplify_m,
                            coverage=style.coverage, precision=precision)
    # tooltip fields first: the browser shows the first `t` columns on hover
    order = list(tooltip) + [c for c in props.columns if c not in tooltip]
    label_of = dict(zip(props.columns, labels))
    props = props[order]
    record = encode_geometry(disp, precision=precision)
    record.update(
        id=style.key, c=encode_columns(props), fn=order, f=[label_of[c] for c in order],
        t=len(tooltip),
        s=_base_style(style),
        cat=[int(c) for c in cat] if cat is not None else None, col=colours,
        target="fillColor" if (style.geometry == "Point" or style.fill_color is not None) else "color",
        q=order.index(search_column) if search_column in order else -1, qn=search_column or "",
        lazy=not style.show)
    drawn = n if record["k"] == "point" else len(record["n"])
    if drawn != n:  # every row in is a feature out
        raise RuntimeError(f"{style.key}: {drawn} features written for {n} rows")
    if style.geometry == "Point" and style.cluster and cluster:
        element = ClusteredPoints(record, name=name, show=style.show)
    else:
        element = CompactLayer(record, name=name, show=style.show)
    return element, n, swatches
