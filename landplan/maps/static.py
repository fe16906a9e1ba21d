"""Static maps for printed reports: PNG and PDF with Chinese labels.

:func:`static_map` draws layers with matplotlib into a PNG and a PDF, with
a title, a legend in Chinese, a scale bar (matplotlib-scalebar, in 米/公里)
and a north arrow; :func:`map_figure` returns the figure without saving it.
Layers are styled from the interactive maps' registry
(:data:`landplan.maps.styles.LAYER_STYLES`: Chinese layer names, colours,
category palettes such as homestead status or road class), so the printed
and the interactive maps agree.

Chinese text needs a CJK font: Debian's ``fonts-noto-cjk`` ("Noto Sans CJK
SC"). The font is looked up (and registered from
``/usr/share/fonts/opentype/noto/`` when matplotlib's cache predates its
installation); without it a :class:`MissingFontError` says how to install it,
rather than printing boxes. Text uses ``["DejaVu Sans", "Noto Sans CJK SC"]``
(matplotlib falls back per glyph), is never parsed as mathtext (a ``$`` in a
village name stays a ``$``), and PDFs embed the subset of the font they use.
The global matplotlib settings are not changed.

The map is drawn in EPSG:4549 (layers in another CRS are reprojected, and
logged); the north arrow shows grid north, within half a degree of true north
in Jiaxing.

Examples
--------
>>> import tempfile
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> villages = gpd.GeoDataFrame({"village_id": ["V1", "V2"], "name": ["竹林村", "东港村"]},
...                             geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
...                             crs="EPSG:4549")
>>> paths = static_map({"villages": villages}, f"{tempfile.mkdtemp()}/村界", title="南湖区 行政村",
...                    labels={"villages": "name"}, dpi=50)
>>> [p.suffix for p in paths]
['.png', '.pdf']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager, patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from pyproj import CRS

from .._io import atomic_path
from .._validate import check_crs
from ..errors import LandplanError, Problem, ValidationError
from ..schema import LAYERS
from ..units import WORKING_CRS
from .styles import FALLBACK_COLOURS, LAYER_STYLES, VALUE_ZH, LayerStyle

__all__ = ["CJK_FAMILY", "MissingFontError", "cjk_font", "map_figure", "static_map"]

log = logging.getLogger(__name__)

#: The CJK font family used for Chinese text.
CJK_FAMILY = "Noto Sans CJK SC"
#: Where Debian's fonts-noto-cjk puts the font.
CJK_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
#: matplotlib settings of every static map (applied in a context, not globally).
RC = {
    "font.family": ["DejaVu Sans", CJK_FAMILY],
    "axes.unicode_minus": True,
    "pdf.fonttype": 3,  # subset outlines: the CFF-based Noto CJK embeds cleanly
    "svg.fonttype": "path",
}
_UNITS_ZH = {"km": "公里", "m": "米", "cm": "厘米"}


class MissingFontError(LandplanError, RuntimeError):
    """The CJK font needed for Chinese labels is not installed."""


def cjk_font(font_path: str | Path | None = None) -> str:
    """Make sure the CJK font is available to matplotlib and return its family name.

    Parameters
    ----------
    font_path : str or Path, optional
        A font file to use instead of Debian's Noto Sans CJK (its family name
        is returned).

    Raises
    ------
    MissingFontError
        When the font is not installed, saying how to install it.

    Examples
    --------
    >>> cjk_font()
    'Noto Sans CJK SC'
    """
    if font_path is not None:
        path = Path(font_path)
        if not path.is_file():
            raise MissingFontError(f"font file {path} not found; install Debian's fonts-noto-cjk "
                                   f"(apt-get install fonts-noto-cjk) and leave font_path unset, "
                                   f"or give an existing .ttf/.otf/.ttc file")
        font_manager.fontManager.addfont(str(path))
        return font_manager.FontProperties(fname=str(path)).get_name()
    if not _has_family(CJK_FAMILY):
        for f in CJK_FONT_FILES:
            if os.path.isfile(f):
                font_manager.fontManager.addfont(f)
    if not _has_family(CJK_FAMILY):
        raise MissingFontError(
            f"the font {CJK_FAMILY!r} for Chinese labels is not installed, so Chinese text would "
            f"print as empty boxes. Install Debian's fonts-noto-cjk (as root: apt-get install "
            f"fonts-noto-cjk), or pass font_path= a CJK font file")
    return CJK_FAMILY


def _has_family(family: str) -> bool:
    return any(f.name == family for f in font_manager.fontManager.ttflist)


def _style(key: str, df, styles: Mapping | None) -> LayerStyle:
    given = (styles or {}).get(key)
    if isinstance(given, LayerStyle):
        return given
    base = LAYER_STYLES.get(key)
    if base is None:
        geom = _family(df)
        zh = LAYERS[key].zh if key in LAYERS else key
        base = LayerStyle(key, zh, geom, (), (), color="#4d4d4d", weight=1.0,
                          fill_color="#cccccc" if geom == "Polygon" else None, fill_opacity=0.5)
    if isinstance(given, Mapping):
        base = base.with_(**given)
    return base


def _family(df) -> str:
    types = set(df.geometry.geom_type.dropna())
    if types and types <= {"Point", "MultiPoint"}:
        return "Point"
    if types and types <= {"LineString", "MultiLineString"}:
        return "LineString"
    return "Polygon"


def _dash(dash: str | None):
    if not dash:
        return "solid"
    return (0, tuple(float(x) for x in dash.split()))


def _groups(df: gpd.GeoDataFrame, style: LayerStyle):
    """(mask, colour, legend label) of each category of a layer; one group when uncategorised."""
    col = next((c for c in style.category if c in df.columns), None)
    if col is None or not (style.palette or style.bins):
        yield np.ones(len(df), dtype=bool), None, style.zh
        return
    values = df[col]
    if style.bins:
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        lower = -np.inf
        for upper, colour, label in style.bins:
            if upper is None:
                yield np.isnan(num), colour, f"{style.zh}: {label}"
                continue
            yield (num > lower) & (num <= upper), colour, f"{style.zh}: {label}"
            lower = upper
        return
    listed = set()
    for value, colour, label in style.palette:
        mask = values.isna().to_numpy() if value is None else (values == value).fillna(False).to_numpy()
        listed.add(value)
        yield mask, colour, f"{style.zh}: {label}"
    others = [v for v in pd.unique(values.dropna()) if v not in listed]
    for i, v in enumerate(sorted(others, key=str)):
        yield (values == v).fillna(False).to_numpy(), FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)], \
            f"{style.zh}: {VALUE_ZH.get(str(v), str(v))}"


def _prepare(layers: Mapping) -> dict[str, gpd.GeoDataFrame]:
    problems = []
    out = {}
    for key, df in layers.items():
        if not isinstance(df, gpd.GeoDataFrame) or df.geometry.name not in df.columns:
            problems.append(Problem(
                key, "missing_geometry_column", [],
                f"the {key} layer has no geometry to draw",
                "give a GeoDataFrame; join a table to its villages' polygons first "
                "(villages.merge(table, on='village_id'))"))
            continue
        p = check_crs(df.crs, key)
        if p:
            problems += p
            continue
        if not CRS.from_user_input(df.crs).equals(CRS(WORKING_CRS)):
            log.info("static map: reprojecting %s from %s to %s", key, df.crs.to_string(), WORKING_CRS)
            df = df.to_crs(WORKING_CRS)
        out[key] = df
    if problems:
        raise ValidationError(problems)
    return out


def map_figure(layers: Mapping[str, gpd.GeoDataFrame], *, title: str, styles: Mapping | None = None,
               labels: Mapping[str, str] | None = None, extent=None, subtitle: str | None = None,
               figsize: tuple[float, float] = (11.69, 8.27), legend: bool = True,
               scale_bar: bool = True, north_arrow: bool = True,
               font_path: str | Path | None = None) -> Figure:
    """Draw layers into a matplotlib figure (not saved): title, legend, scale bar, north arrow.

    Parameters are those of :func:`static_map`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (no global state); draw it inside
        ``matplotlib.rc_context(landplan.maps.static.RC)`` to keep its fonts.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> roads = gpd.GeoDataFrame({"road_id": ["R1", "R2"], "road_class": ["county", "village"]},
    ...     geometry=[LineString([(0, 0), (900, 0)]), LineString([(0, 0), (0, 900)])], crs="EPSG:4549")
    >>> fig = map_figure({"roads": roads}, title="道路")
    >>> [t.get_text() for t in fig.legends[0].get_texts()]
    ['道路: 县道', '道路: 村道']
    """
    family = cjk_font(font_path)
    rc = dict(RC, **{"font.family": ["DejaVu Sans", family]})
    frames = _prepare(layers)
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
        ax.set_aspect("equal")
        ax.set_axis_off()
        handles = []
        for key, df in frames.items():
            df = df[~(df.geometry.isna() | df.geometry.is_empty)]
            if df.empty:
                log.info("static map: layer %s has nothing to draw", key)
                continue
            style = _style(key, df, styles)
            handles += _draw(ax, df, style)
        for key, column in (labels or {}).items():
            if key not in frames:
                raise KeyError(f"labels name layer {key!r}, which is not among the layers drawn "
                               f"({', '.join(frames)})")
            _label(ax, frames[key], column)
        bounds = _extent(frames, extent)
        if bounds is not None:
            ax.set_xlim(bounds[0], bounds[2])
            ax.set_ylim(bounds[1], bounds[3])
        ax.set_title(title, fontsize=16, parse_math=False, pad=12)
        if subtitle:
            fig.text(0.5, 0.005, subtitle, ha="center", va="bottom", fontsize=8, color="#555555",
                     parse_math=False)
        if legend and handles:
            leg = fig.legend(handles=handles, title="图例", loc="outside right upper", fontsize=8,
                             title_fontsize=9, frameon=True)
            for t in leg.get_texts():
                t.set_parse_math(False)
        if scale_bar:
            from matplotlib_scalebar.scalebar import ScaleBar
            ax.add_artist(ScaleBar(1.0, "m", location="lower left", box_alpha=0.8,
                                   scale_formatter=lambda value, unit: f"{value:g} "
                                   f"{_UNITS_ZH.get(unit, unit)}"))
        if north_arrow:
            _north_arrow(ax)
    return fig


def _draw(ax, df: gpd.GeoDataFrame, style: LayerStyle) -> list:
    handles = []
    geom = _family(df)
    for mask, colour, label in _groups(df, style):
        part = df[mask]
        if part.empty:
            continue
        if geom == "Polygon":
            face = colour or style.fill_color or "none"
            edge = style.color
            part.plot(ax=ax, facecolor=face, edgecolor=edge, linewidth=style.weight * 0.6,
                      linestyle=_dash(style.dash),
                      alpha=None if face == "none" else max(style.fill_opacity, 0.5))
            handles.append(Patch(facecolor=face, edgecolor=edge, linewidth=style.weight * 0.6,
                                 linestyle=_dash(style.dash), label=label,
                                 alpha=None if face == "none" else max(style.fill_opacity, 0.5)))
        elif geom == "LineString":
            part.plot(ax=ax, color=colour or style.color, linewidth=style.weight,
                      linestyle=_dash(style.dash))
            handles.append(Line2D([], [], color=colour or style.color, linewidth=style.weight,
                                  linestyle=_dash(style.dash), label=label))
        else:
            face = colour or style.fill_color or style.color
            part.plot(ax=ax, color=face, edgecolor=style.color, markersize=style.radius * 4,
                      linewidth=0.4)
            handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor=face,
                                  markeredgecolor=style.color, markersize=style.radius, label=label))
    return handles


def _label(ax, df: gpd.GeoDataFrame, column: str) -> None:
    if column not in df.columns:
        raise KeyError(f"label column {column!r} is not in the layer (it has: "
                       f"{', '.join(map(str, df.columns))})")
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    pts = df.geometry.representative_point()
    for p, text in zip(pts, df[column]):
        if p is None or p.is_empty or pd.isna(text):
            continue
        ax.text(p.x, p.y, str(text), ha="center", va="center", fontsize=8, parse_math=False,
                path_effects=halo, clip_on=True)


def _extent(frames, extent):
    if extent is None:
        b = np.array([df.total_bounds for df in frames.values() if len(df)])
        if not len(b) or np.isnan(b).all():
            return None
        b = np.array([np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])])
    elif isinstance(extent, str):
        if extent not in frames:
            raise KeyError(f"extent names layer {extent!r}, which is not among the layers drawn")
        b = frames[extent].total_bounds
    else:
        b = np.asarray(extent, dtype=float)
    pad = 0.04 * max(b[2] - b[0], b[3] - b[1], 1.0)
    return b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad


def _north_arrow(ax) -> None:
    ax.annotate("", xy=(0.955, 0.96), xytext=(0.955, 0.86), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3,
                            "headwidth": 10, "headlength": 10})
    ax.text(0.955, 0.835, "北", transform=ax.transAxes, ha="center", va="top", fontsize=12,
            fontweight="bold", parse_math=False)


def static_map(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path, *, title: str,
               styles: Mapping | None = None, labels: Mapping[str, str] | None = None,
               extent=None, subtitle: str | None = None, formats: Iterable[str] = ("png", "pdf"),
               figsize: tuple[float, float] = (11.69, 8.27), dpi: int = 200, legend: bool = True,
               scale_bar: bool = True, north_arrow: bool = True,
               font_path: str | Path | None = None) -> list[Path]:
    """Draw layers into a PNG and a PDF for a printed report.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layer key -> layer, drawn in the order given (the first at the
        bottom). Keys of :data:`landplan.maps.styles.LAYER_STYLES` (``towns``,
        ``villages``, ``roads``, ``farmland``, ``hamlets``, ``sites``, ...) get
        their style; others a grey default with the schema's Chinese name.
    path : str or Path
        Output path without suffix (a suffix is replaced); one file per format.
    title : str
        Map title (Chinese welcome; never parsed as mathtext).
    styles : mapping, optional
        Key -> a :class:`~landplan.maps.styles.LayerStyle`, or a dict of
        changes to the registered style (``{"villages": {"color": "#000"}}``).
    labels : mapping, optional
        Key -> column to write on each feature (``{"villages": "name"}``).
    extent : tuple or str, optional
        ``(minx, miny, maxx, maxy)`` in EPSG:4549, or a layer key to frame;
        default: all layers.
    subtitle : str, optional
        A line under the map (source, date, scenario).
    formats : iterable of {"png", "pdf", "svg"}
    figsize : (float, float)
        Inches; A4 landscape by default.
    dpi : int
        PNG resolution.
    legend, scale_bar, north_arrow : bool
    font_path : str or Path, optional
        A CJK font file to use instead of Noto Sans CJK SC.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``. Each is written to a
        temporary file and moved into place.

    Raises
    ------
    MissingFontError
        When no CJK font is installed.
    ValidationError
        When a layer has no geometry or no CRS.

    Examples
    --------
    >>> import tempfile
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> f = gpd.GeoDataFrame({"facility_id": ["F1"], "name": ["新丰小学"]},
    ...                      geometry=[Point(0, 0)], crs="EPSG:4549")
    >>> [p.name for p in static_map({"facilities": f}, f"{tempfile.mkdtemp()}/设施.png",
    ...                             title="公共服务设施", formats=("png",), dpi=50)]
    ['设施.png']
    """
    formats = tuple(formats)
    bad = [f for f in formats if f not in ("png", "pdf", "svg")]
    if bad or not formats:
        raise ValueError(f"unknown map formats {bad}; use png, pdf or svg")
    fig = map_figure(layers, title=title, styles=styles, labels=labels, extent=extent,
                     subtitle=subtitle, figsize=figsize, legend=legend, scale_bar=scale_bar,
                     north_arrow=north_arrow, font_path=font_path)
    base = Path(path)
    if base.suffix.lower() in (".png", ".pdf", ".svg"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    family = cjk_font(font_path)
    out = []
    with matplotlib.rc_context(dict(RC, **{"font.family": ["DejaVu Sans", family]})):
        for fmt in formats:
            target = base.parent / f"{base.name}.{fmt}"
            with atomic_path(target) as tmp:
                meta = {"CreationDate": None} if fmt == "pdf" else \
                    {"Date": None} if fmt == "svg" else {}
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta, facecolor="white")
            out.append(target)
    log.info("static map %r written: %s", title, ", ".join(str(p) for p in out))
    return out
