"""Column types for county GIS exports: what each pandas column becomes in each format.

Every column is first given a logical kind (:func:`column_kind`): ``text``,
``int``, ``float``, ``bool``, ``date`` or ``datetime``. Each format then
stores it as follows (:func:`plan_column`), so that ArcMap 10.x reads every
field:

========  ==========================  ===================  ===============================
kind      Shapefile (dBASE)           GeoPackage           File Geodatabase
========  ==========================  ===================  ===============================
text      Text, width = longest value  Text                 Text (width >= 255)
          in bytes (<= 254)
int       Long (Integer) if every      Integer64            Long if it fits 32 bits,
          value fits 32 bits, else                         else Text
          Text
bool      Short 1/0                   Boolean              Short 1/0
float     Double                      Real                 Double
date      Date                        Date                 Date (ArcGIS dates hold a time)
datetime  Date when every time is     DateTime             Date
          midnight, else Text
          ``YYYY-MM-DD HH:MM:SS``
========  ==========================  ===================  ===============================

Codes and ids stay text (``"0702"``, ``"007"``). 64-bit integers never reach a
File Geodatabase or a shapefile as Big Integer (unreadable in ArcMap 10.x).

Values a format cannot hold are problems, listed with the value and row:
text over 254 bytes in a shapefile (in the target encoding) and, with
``encoding="gbk"``, characters outside GBK.

Examples
--------
>>> import pandas as pd
>>> column_kind(pd.Series(["0702", None], dtype="str"))
'text'
>>> column_kind(pd.Series([1, None], dtype="Int64"))
'int'
>>> plan_column(pd.Series([2**40], dtype="Int64"), "gdb").arrow_type
DataType(string)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import Problem

__all__ = ["KINDS", "ColumnPlan", "check_text", "column_kind", "plan_column", "to_arrow"]

KINDS = ("text", "int", "float", "bool", "date", "datetime")
#: Maximum bytes of a dBASE text value.
SHP_TEXT_BYTES = 254
_INT32 = (-(2**31) + 1, 2**31 - 1)  # dBASE/ArcGIS keep -2**31 as a null marker in places


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is stored in one format.

    Attributes
    ----------
    kind : str
        Logical kind of the source column (one of :data:`KINDS`).
    arrow_type : pyarrow.DataType
        The Arrow type handed to GDAL.
    width : int or None
        Field width (shapefile text and numbers; File Geodatabase text).
    esri_type : str
        The field type as ArcGIS names it (``Text(12)``, ``Long``, ``Short``,
        ``Double``, ``Date``).
    note : str
        Chinese note on a conversion (``1=是, 0=否``), for the field dictionary.
    """

    kind: str
    arrow_type: pa.DataType
    width: int | None
    esri_type: str
    note: str = ""


def column_kind(s: pd.Series) -> str | None:
    """The logical kind of a column, or None when it cannot be exported.

    Object columns count as text when every value is a string, as ``date``
    when every value is a :class:`datetime.date`; mixed objects are None.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> column_kind(pd.Series([dt.date(2008, 1, 28), None], dtype=object))
    'date'
    >>> column_kind(pd.Series(["a", 1], dtype=object)) is None
    True
    """
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column_kind(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.ArrowDtype):
        t = dtype.pyarrow_dtype
        if pa.types.is_date(t):
            return "date"
        if pa.types.is_timestamp(t):
            return "datetime"
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "text"
        return None
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return "text"
    if dtype == object:
        vals = s.dropna()
        if vals.empty:
            return "text"
        types = {type(v) for v in vals}
        if types <= {str}:
            return "text"
        if all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in vals):
            return "date"
        if all(isinstance(v, dt.datetime) for v in vals):
            return "datetime"
        if types <= {bool, np.bool_}:
            return "bool"
        return None
    return None


def _datetimes(s: pd.Series) -> pd.Series:
    out = pd.to_datetime(s)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)  # keep the wall-clock time
    return out


def _int_width(s: pd.Series) -> int:
    vals = s.dropna()
    if vals.empty:
        return 9
    return max(9, len(str(int(vals.max()))), len(str(int(vals.min()))))


def plan_column(s: pd.Series, fmt: str, *, encoding: str = "utf-8") -> ColumnPlan:
    """How column ``s`` is stored in format ``fmt`` (``"shp"``, ``"gpkg"`` or ``"gdb"``).

    The column must have a kind (see :func:`column_kind`).

    Examples
    --------
    >>> import pandas as pd
    >>> plan_column(pd.Series([True, None], dtype="boolean"), "shp").esri_type
    'Short'
    >>> plan_column(pd.Series(["南湖"], dtype="str"), "shp", encoding="gbk").esri_type
    'Text(4)'
    """
    kind = column_kind(s)
    if kind is None:
        raise TypeError(f"column {s.name!r} of dtype {s.dtype} cannot be exported")
    if kind == "text":
        if fmt == "gpkg":
            return ColumnPlan(kind, pa.string(), None, "Text")
        if fmt == "gdb":
            width = max(255, _max(pc.utf8_length(text_array(s))))
            return ColumnPlan(kind, pa.string(), width, f"Text({width})")
        width = min(max(max(_byte_lengths(text_array(s), encoding).values(), default=0), 1),
                    SHP_TEXT_BYTES)
        return ColumnPlan(kind, pa.string(), width, f"Text({width})")
    if kind == "int":
        if fmt == "gpkg":
            return ColumnPlan(kind, pa.int64(), None, "Integer64")
        vals = s.dropna()
        if vals.empty or (vals.min() >= _INT32[0] and vals.max() <= _INT32[1]):
            return ColumnPlan(kind, pa.int32(), _int_width(s) if fmt == "shp" else None, "Long")
        width = max(len(str(int(vals.max()))), len(str(int(vals.min()))))
        return ColumnPlan(kind, pa.string(), width if fmt == "shp" else max(255, width),
                          f"Text({width if fmt == 'shp' else max(255, width)})",
                          "64位整数, 以文本保存")
    if kind == "bool":
        if fmt == "gpkg":
            return ColumnPlan(kind, pa.bool_(), None, "Boolean")
        return ColumnPlan(kind, pa.int16(), 1 if fmt == "shp" else None, "Short", "1=是, 0=否")
    if kind == "float":
        return ColumnPlan(kind, pa.float64(), 24 if fmt == "shp" else None, "Double")
    if kind == "date":
        if fmt == "gdb":
            return ColumnPlan(kind, pa.timestamp("ms"), None, "Date")
        return ColumnPlan(kind, pa.date32(), 8 if fmt == "shp" else None, "Date")
    # datetime
    if fmt == "shp":
        d = _datetimes(s).dropna()
        if (d == d.dt.normalize()).all():
            return ColumnPlan(kind, pa.date32(), 8, "Date")
        return ColumnPlan(kind, pa.string(), 19, "Text(19)", "日期时间, 格式 YYYY-MM-DD HH:MM:SS")
    return ColumnPlan(kind, pa.timestamp("ms"), None, "Date" if fmt == "gdb" else "DateTime")


def _codec(encoding: str) -> str:
    return "gbk" if encoding.lower().replace("-", "") in ("gbk", "cp936", "936") else encoding


def text_array(s: pd.Series) -> pa.Array:
    """A text column as an Arrow string array (missing values null)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    return pa.array(s, type=pa.string(), from_pandas=True)


def _max(a: pa.Array) -> int:
    m = pc.max(a).as_py()
    return int(m) if m is not None else 0


def _byte_lengths(arr: pa.Array, encoding: str) -> dict[str, int]:
    """Distinct value -> its length in bytes in ``encoding`` (-1 when it cannot be encoded)."""
    enc = _codec(encoding)
    values = pc.unique(arr.drop_null())
    if enc.replace("-", "").lower() == "utf8":
        return dict(zip(values.to_pylist(), pc.binary_length(values).to_pylist()))
    out = {}
    for v in values.to_pylist():
        try:
            out[v] = len(v.encode(enc))
        except UnicodeEncodeError:
            out[v] = -1
    return out


def check_text(s: pd.Series, *, layer: str, column: str, labels: pd.Series, fmt: str,
               encoding: str = "utf-8") -> list[Problem]:
    """Problems with a text column in format ``fmt``: unencodable characters, over-long values.

    Parameters
    ----------
    s : Series
        The text column.
    layer, column : str
        For the message.
    labels : Series
        Row labels (the layer's ids) aligned with ``s``.
    fmt : str
        ``"shp"`` checks the 254-byte limit and the encoding; other formats
        are UTF-8 without a limit.
    encoding : str
        Shapefile encoding.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.Series(["南湖", "𠀋"], dtype="str")
    >>> [p.rule for p in check_text(s, layer="villages", column="name", labels=pd.Series(["V1", "V2"]),
    ...                             fmt="shp", encoding="gbk")]
    ['not_in_encoding']
    """
    if fmt != "shp":
        return []
    arr = text_array(s)
    lengths = _byte_lengths(arr, encoding)
    bad_values = [v for v, n in lengths.items() if n < 0]
    long_values = [v for v, n in lengths.items() if n > SHP_TEXT_BYTES]
    problems = []
    bad_enc, too_long = [], []
    labels = labels.reset_index(drop=True) if isinstance(labels, pd.Series) else pd.Series(labels)
    if bad_values:
        enc = _codec(encoding)
        for i in np.flatnonzero(pc.is_in(arr, pa.array(bad_values, pa.string()))
                                .fill_null(False).to_numpy(zero_copy_only=False)):
            v = arr[i].as_py()
            try:
                v.encode(enc)
            except UnicodeEncodeError as exc:
                bad_enc.append((labels.iloc[i], v, v[exc.start:exc.end]))
    if long_values:
        for i in np.flatnonzero(pc.is_in(arr, pa.array(long_values, pa.string()))
                                .fill_null(False).to_numpy(zero_copy_only=False)):
            v = arr[i].as_py()
            too_long.append((labels.iloc[i], v, lengths[v]))
    if bad_enc:
        label, v, ch = bad_enc[0]
        problems.append(Problem(
            layer, "not_in_encoding", [str(b[0]) for b in bad_enc],
            f"column {column!r} has characters that {encoding.upper()} cannot encode: "
            f"{ch!r} in {v!r} (row {label})"
            + (f"; and {len(bad_enc) - 1} more rows" if len(bad_enc) > 1 else ""),
            "export with encoding='utf-8' (ArcGIS 10.2.1 and later read it through the .cpg), "
            "correct the values, or use GeoPackage / File Geodatabase"))
    if too_long:
        label, v, n = too_long[0]
        problems.append(Problem(
            layer, "text_too_long", [str(b[0]) for b in too_long],
            f"column {column!r} has values longer than a shapefile's 254 bytes: "
            f"{v[:20]!r}... is {n} bytes in {encoding.upper()} (row {label})",
            "export this layer to GeoPackage or File Geodatabase (formats=('gpkg', 'gdb')), "
            "which have no such limit, or shorten the values"))
    return problems


def to_arrow(s: pd.Series, plan: ColumnPlan) -> pa.Array:
    """Convert column ``s`` to the Arrow array of its plan (nulls stay null).

    Examples
    --------
    >>> import pandas as pd
    >>> to_arrow(pd.Series([True, None], dtype="boolean"), plan_column(
    ...     pd.Series([True], dtype="boolean"), "gdb")).to_pylist()
    [1, None]
    """
    t = plan.arrow_type
    kind = plan.kind
    if kind == "text":
        return text_array(s)
    if kind == "int":
        ints = pa.array(s.astype("Int64"), from_pandas=True)
        if pa.types.is_string(t):
            return pc.cast(ints, pa.string())
        return pc.cast(ints, t)
    if kind == "bool":
        return pc.cast(pa.array(s.astype("boolean"), from_pandas=True), t)
    if kind == "float":
        return pa.array(s.astype("float64").to_numpy(), type=t, from_pandas=True)
    if kind == "date":
        if isinstance(s.dtype, pd.ArrowDtype):
            vals = [None if v is None else v for v in pa.array(s).to_pylist()]
        else:
            vals = [None if pd.isna(v) else v for v in s]
        if pa.types.is_timestamp(t):
            vals = [None if v is None else dt.datetime.combine(v, dt.time()) for v in vals]
        return pa.array(vals, type=t)
    # datetime
    d = _datetimes(s)
    if pa.types.is_string(t):
        return pa.array([None if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S") for v in d], type=t)
    if pa.types.is_date(t):
        return pa.array([None if pd.isna(v) else v.date() for v in d], type=t)
    return pa.array([None if pd.isna(v) else v.to_pydatetime() for v in d], type=t)
