"""One frame <-> one PostGIS table: column types, streamed binary COPY, structure checks.

Writing streams the frame in chunks of rows through ``COPY ... FROM STDIN (FORMAT
BINARY)``: only one chunk is turned into Python values at a time, and geometries
travel as EWKB with their SRID. Reading streams ``COPY (SELECT ...) TO STDOUT`` and
builds the columns chunk by chunk. Both run inside the caller's transaction.

Column types
------------
==================  ==========================  =========================
pandas              PostgreSQL                  read back as
==================  ==========================  =========================
str / object text   text                        str
bool / boolean      boolean                     boolean
int* / Int*         bigint                      Int64
float*              double precision            float64
datetime64          timestamp                   datetime64
datetime64 + tz     timestamptz                 datetime64, UTC
category (text)     text                        str
geometry            geometry(TYPE, SRID)        geometry
==================  ==========================  =========================

A geometry column holding both single and multi parts of one family
(Polygon and MultiPolygon) is stored as the multi type, so that GIS clients see
one geometry type; the reader turns single-part multis back into singles when
asked (``demote=True``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

try:  # faster conversion of fetched values; pandas works without it
    import pyarrow as pa
except ImportError:  # pragma: no cover
    pa = None

from ..errors import Problem

__all__ = ["ColumnDef", "column_defs", "create_table_sql", "copy_frame", "read_table",
           "table_columns", "compare_columns", "geometry_columns"]

log = logging.getLogger(__name__)

_MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
_SINGLE = {v: k for k, v in _MULTI.items()}
_GEOM_TYPE_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint",
                    5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
# catalog type name -> (psycopg COPY type, how to read)
_READ_TYPES = {
    "text": ("text", "text"), "varchar": ("text", "text"), "bpchar": ("text", "text"),
    "name": ("text", "text"),
    "int8": ("int8", "int"), "int4": ("int4", "int"), "int2": ("int2", "int"),
    "float8": ("float8", "float"), "float4": ("float4", "float"),
    "bool": ("bool", "bool"),
    "timestamp": ("timestamp", "timestamp"), "timestamptz": ("timestamptz", "timestamptz"),
    "geometry": ("bytea", "geometry"),
}
#: The internal row-order column of every table landplan writes.
FID = "fid"


@dataclass(frozen=True)
class ColumnDef:
    """How one column of a frame is stored.

    Attributes
    ----------
    name : str
        Column name (in the frame and the table).
    sql_type : str
        The type in ``CREATE TABLE`` (``text``, ``geometry(MultiPolygon,4549)``).
    copy_type : str
        The psycopg type name used by binary COPY.
    kind : str
        text, bool, int, float, timestamp, timestamptz or geometry.
    srid : int or None
        For geometry columns.
    promote : bool
        Geometry column whose single parts are written as one-part multis.
    """

    name: str
    sql_type: str
    copy_type: str
    kind: str
    srid: int | None = None
    promote: bool = False


def _geometry_def(name: str, geoms, crs, *, family: str | None,
                  layer: str) -> tuple[ColumnDef | None, list[Problem]]:
    if crs is None:
        return None, [Problem(layer, "missing_crs", [], f"geometry column {name!r} has no CRS",
                              "set the CRS (GeoDataFrame.set_crs) before writing")]
    srid = crs.to_epsg()
    if srid is None:
        return None, [Problem(layer, "crs_without_epsg", [],
                              f"the CRS of {name!r} has no EPSG code ({crs.name})",
                              "reproject to EPSG:4549 (CGCS2000 / 3-degree GK CM 120E)")]
    values = np.asarray(geoms)
    ids = shapely.get_type_id(values)
    present = ids[ids >= 0]
    types = {_GEOM_TYPE_NAMES.get(int(t), "Geometry") for t in np.unique(present)}
    has_z = bool(np.any(shapely.has_z(values[ids >= 0]))) if len(present) else False
    promote = False
    if not types:
        gtype = family or "Geometry"
    elif len(types) == 1:
        gtype = types.pop()
    else:
        bases = {_SINGLE.get(t, t) for t in types}
        base = next(iter(bases))
        if len(bases) == 1 and base in _MULTI:
            gtype, promote = _MULTI[base], True
        else:
            gtype = "Geometry"
    sql_type = f"geometry({gtype}{'Z' if has_z else ''},{srid})"
    return ColumnDef(name, sql_type, "bytea", "geometry", srid=srid, promote=promote), []


def column_defs(frame: pd.DataFrame, *, layer: str, family: str | None = None
                ) -> tuple[list[ColumnDef], list[Problem]]:
    """The column definitions of a frame, and the problems that stop it being written.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
    layer : str
        Name for messages.
    family : str, optional
        Geometry family of an empty layer (``"Polygon"``).

    Examples
    --------
    >>> import pandas as pd
    >>> defs, problems = column_defs(pd.DataFrame({"村名称": ["竹林村"], "n": [3]}), layer="t")
    >>> [(d.name, d.sql_type) for d in defs], problems
    ([('村名称', 'text'), ('n', 'bigint')], [])
    """
    defs: list[ColumnDef] = []
    problems: list[Problem] = []
    geom_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) and \
        getattr(frame, "_geometry_column_name", None) in frame.columns else None
    seen: set[str] = set()
    for name in frame.columns:
        if not isinstance(name, str):
            problems.append(Problem(layer, "bad_column_name", [repr(name)],
                                    f"column name {name!r} is not text",
                                    "give every column a text name"))
            continue
        if name.lower() == FID:
            problems.append(Problem(layer, "reserved_column", [name],
                                    f"column {name!r} is reserved for the row order in the "
                                    "database",
                                    f"rename the column (e.g. to 'source_{name}')"))
            continue
        if not name or "\x00" in name or len(name.encode("utf-8")) > 63:
            problems.append(Problem(layer, "bad_column_name", [name],
                                    f"column name {name!r} is empty, holds a NUL or is longer "
                                    "than 63 bytes (21 Chinese characters), where PostgreSQL "
                                    "would cut it",
                                    "shorten the column name"))
            continue
        if name.lower() in seen:
            problems.append(Problem(layer, "duplicate_column", [name],
                                    f"column {name!r} appears twice (names differing only in case "
                                    "are confusing in GIS clients)", "rename one of them"))
            continue
        seen.add(name.lower())
        s = frame[name]
        if isinstance(s, pd.DataFrame):  # duplicate label
            problems.append(Problem(layer, "duplicate_column", [name],
                                    f"column {name!r} appears twice", "rename one of them"))
            continue
        if name == geom_name or isinstance(s.dtype, gpd.array.GeometryDtype):
            d, p = _geometry_def(name, s.values, getattr(s, "crs", None) or
                                 (frame.crs if name == geom_name else None),
                                 family=family, layer=layer)
            problems += p
            if d is not None:
                defs.append(d)
            continue
        d = _scalar_def(name, s)
        if d is None:
            problems.append(Problem(layer, "unsupported_dtype", [name],
                                    f"column {name!r} has values of type {s.dtype} "
                                    f"({pd.api.types.infer_dtype(s, skipna=True)}) that have no "
                                    "database column type here",
                                    "convert it to text, numbers, booleans or timestamps "
                                    "(e.g. df[col].astype(str))"))
            continue
        if d.kind == "text":
            nul = s.astype("str").str.contains("\x00", regex=False).fillna(False).to_numpy(bool)
            if nul.any():
                problems.append(Problem(layer, "nul_in_text", _row_ids(frame, nul, layer),
                                        f"column {name!r} holds NUL characters (\\x00), which "
                                        "PostgreSQL text cannot store",
                                        "remove the NUL characters (often left by a broken DBF)"))
                continue
        defs.append(d)
    return defs, problems


def _row_ids(frame: pd.DataFrame, mask, layer: str) -> list[str]:
    from ..schema import LAYERS
    key = LAYERS[layer].key if layer in LAYERS else None
    if key and key in frame.columns:
        return [str(v) for v in frame[key].to_numpy()[mask]]
    return [f"row {i}" for i in np.flatnonzero(mask)]


def _scalar_def(name: str, s: pd.Series) -> ColumnDef | None:
    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        inner = pd.api.types.infer_dtype(dt.categories, skipna=True)
        return ColumnDef(name, "text", "text", "text") if inner in ("string", "empty") else None
    if pd.api.types.is_bool_dtype(dt):
        return ColumnDef(name, "boolean", "bool", "bool")
    if pd.api.types.is_integer_dtype(dt):
        if str(dt).lower() == "uint64":
            return None
        return ColumnDef(name, "bigint", "int8", "int")
    if pd.api.types.is_float_dtype(dt):
        return ColumnDef(name, "double precision", "float8", "float")
    if isinstance(dt, pd.DatetimeTZDtype):
        return ColumnDef(name, "timestamp with time zone", "timestamptz", "timestamptz")
    if pd.api.types.is_datetime64_dtype(dt):
        return ColumnDef(name, "timestamp without time zone", "timestamp", "timestamp")
    if pd.api.types.is_string_dtype(dt) or pd.api.types.is_object_dtype(dt):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred in ("string", "empty"):
            return ColumnDef(name, "text", "text", "text")
        if inferred == "boolean":
            return ColumnDef(name, "boolean", "bool", "bool")
    return None


def create_table_sql(schema: str, table: str, defs: list[ColumnDef], *, fid: bool = True):
    """``CREATE TABLE`` for the columns, with an integer ``fid`` primary key first.

    ``fid`` is the row order; it is an identity column, so that a GIS client
    editing the table can insert rows without giving one.
    """
    from psycopg import sql

    # an identity, so that GIS clients editing the shared table can add rows
    cols = [sql.SQL("{} bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY").format(
        sql.Identifier(FID))] if fid else []
    cols += [sql.SQL("{} {}").format(sql.Identifier(d.name), sql.SQL(d.sql_type)) for d in defs]
    return sql.SQL("CREATE TABLE {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(cols))


def _values(s: pd.Series, d: ColumnDef) -> list:
    """One chunk of a column as Python values for binary COPY (None for missing)."""
    if d.kind == "geometry":
        geoms = np.asarray(s.values, dtype=object)
        if d.promote:
            ids = shapely.get_type_id(geoms)
            single = np.isin(ids, (0, 1, 3))
            if single.any():
                make = {"MultiPoint": shapely.multipoints,
                        "MultiLineString": shapely.multilinestrings,
                        "MultiPolygon": shapely.multipolygons}[_geom_base(d.sql_type)]
                geoms = geoms.copy()
                geoms[single] = make(geoms[single].reshape(-1, 1))
        wkb = shapely.to_wkb(shapely.set_srid(geoms, d.srid), include_srid=True)
        return wkb.tolist()
    if d.kind == "text" and isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if d.kind in ("timestamp", "timestamptz"):
        return [None if pd.isna(v) else v.to_pydatetime() for v in s]
    return s.to_numpy(dtype=object, na_value=None).tolist()


def _geom_base(sql_type: str) -> str:
    return re.match(r"geometry\((\w+?)Z?,", sql_type).group(1)


def _write_chunk(copy, columns: list[list]) -> None:
    """Send one chunk of rows (column lists) into a running COPY."""
    for row in zip(*columns):
        copy.write_row(row)


def copy_frame(conn, schema: str, table: str, frame: pd.DataFrame, defs: list[ColumnDef], *,
               chunksize: int = 50_000, fid: bool = True, bar=None) -> int:
    """Stream a frame into an existing table with binary COPY, ``chunksize`` rows at a time.

    Returns the number of rows the server stored.
    """
    from psycopg import sql

    names = ([FID] if fid else []) + [d.name for d in defs]
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(schema), sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(n) for n in names))
    n = len(frame)
    with conn.cursor() as cur:
        with cur.copy(stmt) as copy:
            copy.set_types((["int8"] if fid else []) + [d.copy_type for d in defs])
            for start in range(0, n, chunksize):
                chunk = frame.iloc[start:start + chunksize]
                columns = [_values(chunk[d.name], d) for d in defs]
                if fid:
                    columns.insert(0, range(start + 1, start + len(chunk) + 1))
                _write_chunk(copy, columns)
                if bar is not None:
                    bar.update(len(chunk))
        stored = cur.rowcount
    if fid and n:
        # rows came with their own fid: move the identity past them
        conn.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), %s)").format(
            sql.Literal(sql.Identifier(schema, table).as_string(conn)), sql.Literal(FID)), (n,))
    return stored


def table_columns(conn, schema: str, table: str) -> dict[str, tuple[str, str]]:
    """Column name -> (catalog type name, formatted type) of an existing table, in order."""
    rows = conn.execute(
        "SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum", (schema, table)).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def geometry_columns(conn, schema: str, table: str) -> dict[str, int]:
    """Geometry column -> SRID (0 when the column has none) of an existing table."""
    rows = conn.execute(
        "SELECT f_geometry_column, srid FROM geometry_columns "
        "WHERE f_table_schema = %s AND f_table_name = %s", (schema, table)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def compare_columns(actual: dict[str, tuple[str, str]], expected: dict[str, str]) -> list[str]:
    """Differences between an existing table's columns and the expected ``name -> type``.

    Examples
    --------
    >>> compare_columns({"zjdbh": ("text", "text")}, {"homestead_id": "text"})
    ['missing column homestead_id (text)', 'unexpected column zjdbh (text)']
    """
    out = []
    norm = {k: v[1].lower().replace(" ", "") for k, v in actual.items()}
    for name, typ in expected.items():
        if name not in norm:
            out.append(f"missing column {name} ({typ})")
        elif norm[name] != typ.lower().replace(" ", ""):
            out.append(f"column {name} is {actual[name][1]}, not {typ}")
    for name in actual:
        if name not in expected:
            out.append(f"unexpected column {name} ({actual[name][1]})")
    return out


def read_table(conn, schema: str, table: str, *, order_by: str | None = FID, drop: tuple = (FID,),
               chunksize: int = 50_000, demote: bool = False, bar=None) -> pd.DataFrame:
    """Stream a table into a (Geo)DataFrame, ``chunksize`` rows at a time.

    Text comes back as ``str``, integers as ``Int64``, booleans as ``boolean``,
    geometries with the column's SRID as CRS. Columns of other types are read as
    text. Without geometry the result is a plain DataFrame. Rows come in
    ``order_by`` order (landplan's ``fid`` is sorted here, not by the server).
    """
    from psycopg import sql

    cols = table_columns(conn, schema, table)
    geoms = geometry_columns(conn, schema, table)
    select, copy_types, kinds, names = [], [], [], []
    for name, (typname, _fmt) in cols.items():
        if name in drop and name != order_by:
            continue
        copy_type, kind = _READ_TYPES.get(typname, ("text", "text"))
        ident = sql.Identifier(name)
        if typname == "numeric":
            select.append(sql.SQL("{}::double precision").format(ident))
            copy_type, kind = "float8", "float"
        elif typname not in _READ_TYPES:
            select.append(sql.SQL("{}::text").format(ident))
        else:
            select.append(ident)
        copy_types.append(copy_type)
        kinds.append(kind)
        names.append(name)
    query = sql.SQL("SELECT {} FROM {}.{}").format(
        sql.SQL(", ").join(select) if select else sql.SQL("NULL"),
        sql.Identifier(schema), sql.Identifier(table))
    sort_here = order_by == FID and order_by in names and kinds[names.index(FID)] == "int"
    if order_by and order_by in cols and not sort_here:
        query = query + sql.SQL(" ORDER BY {}").format(sql.Identifier(order_by))
    stmt = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)
    parts: list[list] = [[] for _ in names]
    with conn.cursor() as cur:
        with cur.copy(stmt) as copy:
            copy.set_types(copy_types)
            rows = []
            for row in copy.rows():
                rows.append(row)
                if len(rows) >= chunksize:
                    _collect(rows, kinds, parts)
                    if bar is not None:
                        bar.update(len(rows))
                    rows = []
            if rows:
                _collect(rows, kinds, parts)
                if bar is not None:
                    bar.update(len(rows))
    data = {name: _concat(chunks, kind) for name, kind, chunks in zip(names, kinds, parts)}
    if sort_here:
        fid = np.asarray(data[FID], dtype="int64")
        if len(fid) and np.any(fid[1:] < fid[:-1]):
            order = np.argsort(fid, kind="stable")
            data = {k: v[order] for k, v in data.items()}
    keep = [n for n in names if n not in drop]
    kinds = dict(zip(names, kinds))
    data = {n: data[n] for n in keep}
    geom_cols = [n for n in keep if kinds[n] == "geometry"]
    if not geom_cols:
        return pd.DataFrame(data, columns=keep)
    for g in geom_cols:
        srid = geoms.get(g) or 0
        values = data[g]
        if demote:
            values = _demote(values)
        data[g] = gpd.GeoSeries(values, crs=f"EPSG:{srid}" if srid else None).values
    return gpd.GeoDataFrame(data, columns=keep, geometry=geom_cols[0])


def _collect(rows: list[tuple], kinds: list[str], parts: list[list]) -> None:
    for i, (values, kind) in enumerate(zip(zip(*rows), kinds)):
        parts[i].append(_column(values, kind))


def _column(values: list, kind: str):
    if kind == "text":
        return pd.array(pa.array(values, type=pa.large_string()) if pa else list(values),
                        dtype="str")
    if kind == "int":
        return pd.array(pa.array(values, type=pa.int64()) if pa else list(values), dtype="Int64")
    if kind == "float":
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    if kind == "bool":
        return pd.array(list(values), dtype="boolean")
    if kind == "timestamp":
        return pd.to_datetime(pd.Series(values, dtype=object)).array
    if kind == "timestamptz":
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).array
    if kind == "geometry":
        return shapely.from_wkb(np.array(values, dtype=object))
    raise ValueError(kind)


def _concat(chunks: list, kind: str):
    if not chunks:
        empty = {"text": pd.array([], dtype="str"), "int": pd.array([], dtype="Int64"),
                 "float": np.array([], dtype="float64"), "bool": pd.array([], dtype="boolean"),
                 "timestamp": pd.array([], dtype="datetime64[us]"),
                 "timestamptz": pd.array([], dtype="datetime64[us, UTC]"),
                 "geometry": np.array([], dtype=object)}
        return empty[kind]
    if len(chunks) == 1:
        return chunks[0]
    if kind in ("float", "geometry"):
        return np.concatenate(chunks)
    return pd.concat([pd.Series(c) for c in chunks], ignore_index=True).array


def _demote(values: np.ndarray) -> np.ndarray:
    """Single-part multis back to their one part."""
    values = np.asarray(values, dtype=object)
    ids = shapely.get_type_id(values)
    multi = np.isin(ids, (4, 5, 6))
    if not multi.any():
        return values
    one = multi & (shapely.get_num_geometries(values) == 1)
    if one.any():
        values = values.copy()
        values[one] = shapely.get_geometry(values[one], 0)
    return values
