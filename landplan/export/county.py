"""County GIS export: Shapefile, GeoPackage and File Geodatabase, written atomically.

:func:`export_county` writes a project's layers (or any layers and result
tables) in the formats a county GIS office opens, in CGCS2000 / 3-degree GK
CM 120E (EPSG:4549, whose ESRI ``.prj`` name is
``CGCS2000_3_Degree_GK_CM_120E``). Into ``out_dir`` it writes, for an export
called ``name``:

``<name>_shp/<layer>.shp`` (``.shx``, ``.dbf``, ``.prj``, ``.cpg``)
    One shapefile per layer (a lone ``.dbf`` for a table such as households),
    with ASCII field names of at most 10 bytes
    (:func:`~landplan.export.fields.shapefile_field_names`), UTF-8 by default
    or GBK (``.cpg`` ``936``) on request, and ``<layer>_fields.csv`` beside it:
    the Chinese field dictionary (字段名, 全名, 中文名称, 类型, 说明; UTF-8 with
    BOM so Excel opens it).
``<name>.gpkg``
    All layers in one GeoPackage, with the Chinese headings as field names
    (``gpkg_names="zh"``, the default; each field's alternative name is the
    landplan name) or landplan's names (``gpkg_names="en"``, Chinese as the
    alternative name). Each table's identifier is its Chinese layer name.
``<name>.gdb``
    A File Geodatabase through GDAL's OpenFileGDB driver, readable by ArcMap
    10.x: landplan's field names with the Chinese headings as aliases, no
    64-bit integers (Long when they fit, else Text), booleans as Short 1/0,
    dates as Date. Each feature class has its Chinese name as alias.
``<name>_fields.csv`` and ``<name>_manifest.csv``
    The field dictionary of every layer in every format, and one row per
    layer and format written (features, fields, the columns left out).

See :mod:`landplan.export.columns` for the type of each column in each format.

Nothing is written until every layer has been checked: text a shapefile
cannot hold (over 254 bytes, or outside GBK when GBK is asked for), a layer
over a shapefile's 2 GB, field names given that collide, columns of types no
format can hold: every problem is raised at once as a
:class:`~landplan.errors.ValidationError` naming the layer, the rows and the
format to use instead. Writing goes to a temporary folder beside the outputs
and is moved into place at the end, so a failure leaves no half-written file
set; the files you had are kept.

Personal columns (:attr:`landplan.schema.Column.personal`: 户主姓名, 户主身份证号)
are left out unless ``include_personal=True``; the manifest lists them.

Examples
--------
>>> import tempfile, pyogrio
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [5.0],
...                           "seat_y": [5.0]}, geometry=[box(0, 0, 10, 10)], crs="EPSG:4549")
>>> out = tempfile.mkdtemp()
>>> manifest = export_county({"towns": towns}, out)
>>> manifest[["layer", "format", "path", "features"]]
  layer format                path  features
0  towns    shp  landplan_shp/towns.shp         1
1  towns   gpkg       landplan.gpkg         1
2  towns    gdb        landplan.gdb         1
>>> pyogrio.read_dataframe(f"{out}/landplan.gpkg", layer="towns").columns.tolist()
['镇代码', '镇名称', '镇政府驻地X', '镇政府驻地Y', 'geometry']
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyproj import CRS
from tqdm.auto import tqdm

from .._io import fixed_gpkg_time
from .._validate import check_crs, validate_layer
from ..errors import Problem, ValidationError
from ..schema import LAYERS
from ..units import WORKING_CRS
from .columns import ColumnPlan, check_text, column_kind, plan_column, to_arrow
from .fields import chinese_headings, gdb_field_name, per_layer, shapefile_field_names
from .shapefile import SHAPEFILE_MAX_BYTES, cpg_text, estimate_shapefile_bytes

__all__ = [
    "FIELD_DICTIONARY_HEADINGS",
    "FORMATS",
    "MANIFEST_HEADINGS",
    "PERSONAL_COLUMNS",
    "export_county",
]

log = logging.getLogger(__name__)

#: Formats :func:`export_county` writes.
FORMATS = ("shp", "gpkg", "gdb")
#: Columns holding personal data in any layer (from the schema).
PERSONAL_COLUMNS = frozenset(c.name for spec in LAYERS.values() for c in spec.columns if c.personal)

#: Column -> Chinese heading of the field dictionaries written beside the exports.
FIELD_DICTIONARY_HEADINGS = {
    "layer": "图层", "layer_zh": "图层名称", "name": "全名", "zh": "中文名称", "kind": "源类型",
    "shp_field": "字段名", "shp_type": "类型", "gpkg_field": "GeoPackage字段名",
    "gdb_field": "GDB字段名", "gdb_type": "GDB类型", "note": "说明",
}
#: Column -> Chinese heading of the manifest.
MANIFEST_HEADINGS = {
    "layer": "图层", "zh": "图层名称", "format": "格式", "path": "路径", "features": "要素数",
    "fields": "字段数", "encoding": "编码", "omitted": "未导出字段",
}
_DRIVERS = {"shp": "ESRI Shapefile", "gpkg": "GPKG", "gdb": "OpenFileGDB"}


@dataclass
class _LayerPlan:
    name: str
    zh: str
    description: str
    df: pd.DataFrame
    geometry: np.ndarray | None
    geometry_type: str | None
    columns: list[str]
    kinds: dict[str, str]
    zh_names: dict[str, str]
    shp_names: dict[str, str] = field(default_factory=dict)
    gdb_names: dict[str, str] = field(default_factory=dict)
    plans: dict[str, dict[str, ColumnPlan]] = field(default_factory=dict)
    omitted: list[str] = field(default_factory=list)
    gpkg_names: str = "zh"


def export_county(project, out_dir: str | Path, *, formats: Iterable[str] = FORMATS,
                  encoding: str = "utf-8", layers: Iterable[str] | None = None,
                  include_personal: bool = False,
                  headings: Mapping | None = None, field_names: Mapping | None = None,
                  gpkg_names: str = "zh", name: str | None = None, overwrite: bool = False,
                  progress: bool = False) -> pd.DataFrame:
    """Write layers for the county GIS as Shapefile, GeoPackage and File Geodatabase.

    Parameters
    ----------
    project : Project or mapping
        A :class:`~landplan.project.Project`, or layer name -> DataFrame /
        GeoDataFrame. Landplan layers given in a mapping are validated (ids
        as text); other names (result layers such as hamlets or plan tables)
        are written as they are, reprojected to EPSG:4549 when needed.
        The frames are not modified.
    out_dir : str or Path
        Folder to write into (created if missing).
    formats : iterable of {"shp", "gpkg", "gdb"}
        Formats to write; all three by default.
    encoding : {"utf-8", "gbk"}
        Shapefile text encoding. GBK is written with a ``.cpg`` saying ``936``;
        a value with a character outside GBK is refused, naming value and row.
    layers : iterable of str, optional
        Only these layers (default: all).
    include_personal : bool
        Also write personal columns (户主姓名, 户主身份证号). Off by default.
    headings : mapping, optional
        Chinese headings for columns the schema does not know, flat
        (``{"idle_reason": "闲置原因"}``) or per layer
        (``{"hamlets": {"n": "户数"}}``). They take precedence over the schema's.
    field_names : mapping, optional
        Shapefile field names you want (flat or per layer). Used as given; a
        name that is not ASCII, is over 10 bytes or repeats another is an error.
    gpkg_names : {"zh", "en"}
        GeoPackage field names: Chinese headings (default) or landplan names.
    name : str, optional
        Base name of the files (default: the project's name, or ``"landplan"``).
    overwrite : bool
        Replace existing outputs of the same name. Without it, existing outputs
        are an error and nothing is written.
    progress : bool
        Show a progress bar over layers and formats.

    Returns
    -------
    pandas.DataFrame
        The manifest: one row per layer and format with ``layer``, ``zh``,
        ``format``, ``path`` (relative to ``out_dir``), ``features``,
        ``fields``, ``encoding`` and ``omitted`` (columns left out).

    Raises
    ------
    ValidationError
        Listing every value, row and layer no requested format can hold, with
        the format to use instead. Nothing is written.
    FileExistsError
        When outputs exist and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> plots = gpd.GeoDataFrame({"plot_id": ["007"], "registered_homestead_id": ["Z1"],
    ...                           "note": ["<b>南湖</b>"]}, geometry=[box(0, 0, 10, 10)],
    ...                          crs="EPSG:4549")
    >>> out = tempfile.mkdtemp()
    >>> m = export_county({"plots": plots}, out, formats=("shp",), headings={"note": "备注"})
    >>> m.loc[0, "path"], int(m.loc[0, "features"])
    ('landplan_shp/plots.shp', 1)
    >>> import pandas as pd
    >>> pd.read_csv(f"{out}/landplan_shp/plots_fields.csv", encoding="utf-8-sig").iloc[:, :3]
         字段名                     全名   中文名称
    0  plot_id                plot_id  plot_id
    1  reg_hs_id  registered_homestead_id  户籍地址宅基地
    2     note                   note     备注
    """
    formats = tuple(dict.fromkeys(formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown export formats {bad}; choose from {', '.join(FORMATS)}")
    if gpkg_names not in ("zh", "en"):
        raise ValueError(f"gpkg_names must be 'zh' or 'en', not {gpkg_names!r}")
    cpg = cpg_text(encoding)
    writable = pyogrio.list_drivers(write=True)
    missing = [f for f in formats if _DRIVERS[f] not in writable]
    if missing:
        raise RuntimeError(f"this GDAL ({pyogrio.__gdal_version_string__}) cannot write "
                           f"{', '.join(_DRIVERS[f] for f in missing)}; install a pyogrio wheel "
                           f"with GDAL >= 3.6, or leave {', '.join(missing)} out of formats")
    out_dir = Path(out_dir)
    name = name or (getattr(project, "name", None) if not isinstance(project, Mapping) else None) \
        or "landplan"

    frames = _layers_of(project, layers)
    problems: list[Problem] = []
    plans: list[_LayerPlan] = []
    for lname, df in frames.items():
        plan, p = _plan_layer(lname, df, formats=formats, encoding=encoding,
                              include_personal=include_personal,
                              headings=per_layer(headings, lname),
                              given=per_layer(field_names, lname))
        problems += p
        if plan is not None:
            plans.append(plan)
    if problems:
        raise ValidationError(problems, header=f"cannot export {len(problems)} problem"
                              f"{'s' if len(problems) != 1 else ''} found (nothing was written):")

    targets = _targets(name, formats, plans)
    existing = [t for t in targets if (out_dir / t).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out_dir} already holds {', '.join(existing[:5])}"
                              f"{' ...' if len(existing) > 5 else ''}; pass overwrite=True to "
                              f"replace them, or another name=")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".landplan-export-"))
    try:
        manifest = _write_all(plans, tmp, name=name, formats=formats, encoding=encoding, cpg=cpg,
                              gpkg_names=gpkg_names, progress=progress)
        _commit(tmp, out_dir, targets)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("exported %d layers (%s) to %s as %s", len(plans),
             ", ".join(f"{len(p.df):,} {p.name}" for p in plans), out_dir, ", ".join(formats))
    return manifest


# inputs ---------------------------------------------------------------------------------
def _layers_of(project, only) -> dict[str, pd.DataFrame]:
    if isinstance(project, Mapping):
        frames = {k: v for k, v in project.items() if v is not None}
        validated = False
    else:
        frames = dict(project.layers)
        validated = True
    if only is not None:
        only = list(only)
        missing = [n for n in only if n not in frames]
        if missing:
            raise ValidationError([Problem(", ".join(missing), "unknown_layer", [],
                                           f"layers asked for but not given: {', '.join(missing)}",
                                           f"choose from: {', '.join(frames)}")])
        frames = {n: frames[n] for n in only}
    problems: list[Problem] = []
    out = {}
    for lname, df in frames.items():
        if not validated and lname in LAYERS:
            df, p = validate_layer(lname, df)
            problems += p
        elif isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
            p = check_crs(df.crs, lname)
            problems += p
            if not p and not CRS.from_user_input(df.crs).equals(CRS(WORKING_CRS)):
                log.info("reprojecting %s from %s to %s for export", lname, df.crs.to_string(),
                         WORKING_CRS)
                df = df.to_crs(WORKING_CRS)
        out[lname] = df
    if problems:
        raise ValidationError(problems)
    return out


def _plan_layer(lname, df, *, formats, encoding, include_personal, headings, given):
    spec = LAYERS.get(lname)
    problems: list[Problem] = []
    is_geo = isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns
    geom_col = df.geometry.name if is_geo else None
    if not isinstance(df.index, pd.RangeIndex) and all(n is not None for n in df.index.names) \
            and not any(n in df.columns for n in df.index.names):
        df = df.reset_index()  # keyed by its index: keep the keys as columns
    columns = [c for c in df.columns if c != geom_col]
    omitted = [c for c in columns if c in PERSONAL_COLUMNS] if not include_personal else []
    if omitted:
        log.info("%s: personal columns left out (include_personal=True writes them): %s",
                 lname, ", ".join(omitted))
    columns = [c for c in columns if c not in omitted]
    nonstr = [c for c in columns if not isinstance(c, str)]
    if nonstr:
        df = df.rename(columns={c: str(c) for c in nonstr})
        columns = [str(c) for c in columns]
    key = spec.key if spec else next((c for c in columns if c.endswith("_id")), None)
    labels = df[key].astype(str) if key in df.columns else pd.Series(
        [f"row {i}" for i in range(len(df))], index=df.index)
    kinds = {}
    for c in columns:
        k = column_kind(df[c])
        if k is None:
            types = sorted({type(v).__name__ for v in df[c].dropna()})
            problems.append(Problem(lname, "unsupported_column", [],
                                    f"column {c!r} holds {', '.join(types) or df[c].dtype} values, "
                                    f"which no GIS format stores",
                                    f"convert {c!r} to text, numbers or dates, or drop it"))
        else:
            kinds[c] = k
    columns = [c for c in columns if c in kinds]
    zh_names = chinese_headings(lname, columns, headings=headings)
    plan = _LayerPlan(lname, spec.zh if spec else (headings.get(lname) or lname),
                      spec.description if spec else "", df, None, None, columns, kinds, zh_names,
                      omitted=omitted)
    if is_geo:
        plan.geometry, plan.geometry_type = _geometries(df.geometry.values)
        if plan.geometry_type is None:  # no geometry at all: the schema's type, else polygons
            plan.geometry_type = spec.geometry if spec and spec.geometry else "Polygon"
        elif plan.geometry_type in ("Unknown", "GeometryCollection"):
            found = sorted(set(df.geometry.geom_type.dropna()))
            for fmt in [f for f in formats if f != "gpkg"]:
                problems.append(Problem(
                    lname, "mixed_geometry", [],
                    f"the {lname} layer mixes {', '.join(found)} geometries; a "
                    f"{'shapefile' if fmt == 'shp' else 'File Geodatabase'} holds one geometry "
                    f"type per layer", "split the layer by geometry type, or export it to "
                    "GeoPackage alone (formats=('gpkg',))"))
    if "shp" in formats:
        try:
            plan.shp_names = shapefile_field_names(columns, given=given, layer=lname)
        except ValidationError as exc:
            problems += exc.problems
    elif given:
        log.info("%s: field_names apply to shapefiles only; not writing shapefiles", lname)
    gdb_taken: set[str] = set()
    for c in columns:
        base = n = gdb_field_name(c)
        k = 1
        while n.upper() in gdb_taken:
            k += 1
            n = f"{base[:60]}_{k}"
        gdb_taken.add(n.upper())
        plan.gdb_names[c] = n
    for fmt in formats:
        plan.plans[fmt] = {c: plan_column(df[c], fmt, encoding=encoding) for c in columns}
        for c in columns:
            if kinds[c] == "text":
                problems += check_text(df[c], layer=lname, column=c, labels=labels, fmt=fmt,
                                       encoding=encoding)
    if "shp" in formats and not problems:
        widths = [plan.plans["shp"][c].width for c in columns]
        sizes = estimate_shapefile_bytes(plan.geometry, widths, n_rows=len(df))
        over = {k: v for k, v in sizes.items() if v > SHAPEFILE_MAX_BYTES}
        if over:
            problems.append(Problem(
                lname, "shapefile_too_large", [],
                f"the {lname} layer ({len(df):,} features) would make "
                + ", ".join(f"a {v / 2**30:.2f} GB .{k}" for k, v in over.items())
                + "; a shapefile holds at most 2 GB per file",
                "export it as GeoPackage or File Geodatabase (formats=('gpkg', 'gdb')), or "
                "split it by town (Project.select_towns)"))
    return plan, problems


def _geometries(values) -> tuple[np.ndarray, str | None]:
    """WKB-ready geometries and the layer geometry type (singles promoted when mixed).

    The type is None when no feature has a geometry, ``"Unknown"`` for mixed families.
    """
    geoms = np.asarray(values, dtype=object)
    present = ~shapely.is_missing(geoms)
    types = set(shapely.get_type_id(geoms[present]).tolist())
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
             6: "MultiPolygon", 7: "GeometryCollection"}
    if not types:
        return geoms, None
    if len(types) == 1:
        return geoms, names[types.pop()]
    pairs = {frozenset({0, 4}): (0, 4, shapely.multipoints),
             frozenset({1, 5}): (1, 5, shapely.multilinestrings),
             frozenset({3, 6}): (3, 6, shapely.multipolygons)}
    if frozenset(types) in pairs:
        single, multi, make = pairs[frozenset(types)]
        geoms = geoms.copy()
        ids = shapely.get_type_id(geoms)
        idx = np.flatnonzero(present & (ids == single))
        geoms[idx] = make(geoms[idx], indices=np.arange(len(idx)))
        return geoms, names[multi]
    return geoms, "Unknown"


# writing --------------------------------------------------------------------------------
def _targets(name: str, formats, plans) -> list[str]:
    out = []
    if "shp" in formats:
        for p in plans:
            exts = ("shp", "shx", "dbf", "prj", "cpg") if p.geometry is not None else ("dbf", "cpg")
            out += [f"{name}_shp/{p.name}.{e}" for e in exts] + [f"{name}_shp/{p.name}_fields.csv"]
    if "gpkg" in formats:
        out.append(f"{name}.gpkg")
    if "gdb" in formats:
        out.append(f"{name}.gdb")
    out += [f"{name}_fields.csv", f"{name}_manifest.csv"]
    return out


def _table(plan: _LayerPlan, fmt: str) -> pa.Table:
    arrays, fields = [], []
    for c in plan.columns:
        cp = plan.plans[fmt][c]
        md = {}
        if fmt == "shp":
            out_name = plan.shp_names[c]
        elif fmt == "gpkg":
            out_name, alt = (plan.zh_names[c], c) if plan.gpkg_names == "zh" else (c, plan.zh_names[c])
            if alt != out_name:
                md["GDAL:OGR:alternative_name"] = alt
        else:
            out_name = plan.gdb_names[c]
            md["GDAL:OGR:alternative_name"] = plan.zh_names[c]
        if cp.width is not None and cp.kind != "float":  # floats keep GDAL's 24.15
            md["GDAL:OGR:width"] = str(cp.width)
        arrays.append(to_arrow(plan.df[c], cp))
        fields.append(pa.field(out_name, cp.arrow_type, metadata=md or None))
    if plan.geometry is not None:
        arrays.append(pa.array(shapely.to_wkb(plan.geometry, flavor="iso"), type=pa.binary()))
        fields.append(pa.field("geometry", pa.binary()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _write_layer(plan: _LayerPlan, fmt: str, path: Path, *, encoding: str | None,
                 layer_options: dict, append: bool) -> None:
    geo = plan.geometry is not None
    pyogrio.write_arrow(_table(plan, fmt), str(path), layer=plan.name if fmt != "gdb" else
                        gdb_field_name(plan.name), driver=_DRIVERS[fmt],
                        geometry_name="geometry" if geo else None,
                        geometry_type=plan.geometry_type if geo else None,
                        crs=CRS(WORKING_CRS).to_wkt() if geo else None, encoding=encoding,
                        append=append, layer_options=layer_options)


def _write_all(plans: list[_LayerPlan], tmp: Path, *, name, formats, encoding, cpg, gpkg_names,
               progress) -> pd.DataFrame:
    rows, dictionary = [], []
    tasks = [(p, f) for f in formats for p in plans]
    for plan in plans:
        plan.gpkg_names = gpkg_names
    with fixed_gpkg_time():
        for plan, fmt in tqdm(tasks, desc="export", unit="layer", disable=not progress):
            if fmt == "shp":
                folder = tmp / f"{name}_shp"
                folder.mkdir(exist_ok=True)
                rel = f"{name}_shp/{plan.name}.{'shp' if plan.geometry is not None else 'dbf'}"
                _write_layer(plan, "shp", tmp / rel, encoding=cpg, layer_options={}, append=False)
                _shapefile_dictionary(plan).to_csv(folder / f"{plan.name}_fields.csv",
                                                   index=False, encoding="utf-8-sig")
                enc = encoding.upper()
            elif fmt == "gpkg":
                rel = f"{name}.gpkg"
                opts = {"IDENTIFIER": plan.zh}
                if plan.description:
                    opts["DESCRIPTION"] = plan.description
                _write_layer(plan, "gpkg", tmp / rel, encoding=None, layer_options=opts,
                             append=(tmp / rel).exists())
                enc = "UTF-8"
            else:
                rel = f"{name}.gdb"
                _write_layer(plan, "gdb", tmp / rel, encoding=None,
                             layer_options={"LAYER_ALIAS": plan.zh, "TARGET_ARCGIS_VERSION": "ALL"},
                             append=(tmp / rel).exists())
                enc = "UTF-8"
            rows.append({"layer": plan.name, "zh": plan.zh, "format": fmt, "path": rel,
                         "features": len(plan.df), "fields": len(plan.columns), "encoding": enc,
                         "omitted": ", ".join(plan.omitted)})
    for plan in plans:
        for c in plan.columns:
            row = {"layer": plan.name, "layer_zh": plan.zh, "name": c, "zh": plan.zh_names[c],
                   "kind": plan.kinds[c]}
            notes = []
            if "shp" in formats:
                row["shp_field"] = plan.shp_names[c]
                row["shp_type"] = plan.plans["shp"][c].esri_type
                notes.append(plan.plans["shp"][c].note)
            if "gpkg" in formats:
                row["gpkg_field"] = plan.zh_names[c] if gpkg_names == "zh" else c
            if "gdb" in formats:
                row["gdb_field"] = plan.gdb_names[c]
                row["gdb_type"] = plan.plans["gdb"][c].esri_type
                notes.append(plan.plans["gdb"][c].note)
            row["note"] = "; ".join(dict.fromkeys(n for n in notes if n))
            dictionary.append(row)
    fields = pd.DataFrame(dictionary, columns=[k for k in FIELD_DICTIONARY_HEADINGS
                                               if any(k in r for r in dictionary)]
                          or list(FIELD_DICTIONARY_HEADINGS))
    fields.rename(columns=FIELD_DICTIONARY_HEADINGS).to_csv(
        tmp / f"{name}_fields.csv", index=False, encoding="utf-8-sig")
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_HEADINGS))
    manifest.rename(columns=MANIFEST_HEADINGS).to_csv(tmp / f"{name}_manifest.csv", index=False,
                                                      encoding="utf-8-sig")
    return manifest


def _shapefile_dictionary(plan: _LayerPlan) -> pd.DataFrame:
    """The field dictionary written beside one shapefile, with Chinese headings."""
    rows = [{"字段名": plan.shp_names[c], "全名": c, "中文名称": plan.zh_names[c],
             "类型": plan.plans["shp"][c].esri_type, "源类型": plan.kinds[c],
             "说明": plan.plans["shp"][c].note} for c in plan.columns]
    return pd.DataFrame(rows, columns=["字段名", "全名", "中文名称", "类型", "源类型", "说明"])


def _commit(tmp: Path, out_dir: Path, targets: list[str]) -> None:
    """Move every written file from ``tmp`` into ``out_dir``; on failure, undo all moves."""
    backup = tmp / ".replaced"
    moved: list[tuple[Path, Path | None]] = []
    try:
        for rel in targets:
            src, dst = tmp / rel, out_dir / rel
            if not src.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            old = None
            if dst.exists():
                old = backup / rel
                old.parent.mkdir(parents=True, exist_ok=True)
                os.replace(dst, old)
            os.replace(src, dst)
            moved.append((dst, old))
    except BaseException:
        for dst, old in reversed(moved):
            if dst.is_dir():
                shutil.rmtree(dst, ignore_errors=True)
            elif dst.exists():
                dst.unlink()
            if old is not None:
                os.replace(old, dst)
        for rel in targets:  # folders created for the outputs and left empty
            d = (out_dir / rel).parent
            if d != out_dir and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise
