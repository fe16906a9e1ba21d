"""Read a county export back into landplan's names and types.

:func:`read_export` reads one layer of what :func:`~landplan.export.export_county`
wrote, in any of its formats, and undoes the format's conversions with the
field dictionary written beside it: shapefile and File Geodatabase field names
back to landplan's names, Chinese GeoPackage names back too, Short 1/0 back to
booleans, 64-bit integers kept as text back to integers, ArcGIS dates back to
dates. It is how the round-trip tests check an export, and how a planner
reads back what the county returns.

Examples
--------
>>> import tempfile
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> from landplan.export import export_county
>>> plots = gpd.GeoDataFrame({"plot_id": ["007"], "built": [True]},
...                          geometry=[box(0, 0, 10, 10)], crs="EPSG:4549")
>>> out = tempfile.mkdtemp()
>>> _ = export_county({"plots": plots}, out)
>>> back = read_export(out, "plots", format="gdb")
>>> back["plot_id"].tolist(), back["built"].tolist()
(['007'], [True])
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from .county import FIELD_DICTIONARY_HEADINGS, FORMATS
from .fields import gdb_field_name

__all__ = ["read_export", "read_field_dictionary"]


def read_field_dictionary(out_dir: str | Path, *, name: str = "landplan") -> pd.DataFrame:
    """The field dictionary of an export (``<name>_fields.csv``) with English column names.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from landplan.export import export_county
    >>> out = tempfile.mkdtemp()
    >>> _ = export_county({"t": pd.DataFrame({"household_id": ["H1"]})}, out, formats=("shp",))
    >>> read_field_dictionary(out)[["name", "zh", "shp_field"]]
               name   zh shp_field
    0  household_id  户编号     hh_id
    """
    path = Path(out_dir) / f"{name}_fields.csv"
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    return df.rename(columns={v: k for k, v in FIELD_DICTIONARY_HEADINGS.items()})


def read_export(out_dir: str | Path, layer: str, *, format: str = "shp", name: str = "landplan",
                encoding: str | None = None) -> pd.DataFrame:
    """Read one exported layer back with landplan's column names and types.

    Parameters
    ----------
    out_dir : str or Path
        The folder :func:`~landplan.export.export_county` wrote into.
    layer : str
        The layer name (as given to the export).
    format : {"shp", "gpkg", "gdb"}
    name : str
        The export's base name.
    encoding : str, optional
        Shapefile encoding; by default the ``.cpg`` is followed.

    Returns
    -------
    GeoDataFrame or DataFrame
        Columns in the export's order, geometry last; a table without
        geometry comes back as a DataFrame.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    out_dir = Path(out_dir)
    fields = read_field_dictionary(out_dir, name=name)
    fields = fields[fields["layer"] == layer]
    if format == "shp":
        base = out_dir / f"{name}_shp" / layer
        path, lyr = (base.with_suffix(".shp") if base.with_suffix(".shp").exists()
                     else base.with_suffix(".dbf")), None
        kwargs = {"encoding": encoding} if encoding else {}
    elif format == "gpkg":
        path, lyr, kwargs = out_dir / f"{name}.gpkg", layer, {}
    else:
        path, lyr, kwargs = out_dir / f"{name}.gdb", gdb_field_name(layer), {}
    df = pyogrio.read_dataframe(path, layer=lyr, **kwargs)
    info = pyogrio.read_info(path, layer=lyr)
    if info.get("geometry_type") is None and isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    col = {"shp": "shp_field", "gpkg": "gpkg_field", "gdb": "gdb_field"}[format]
    rename = dict(zip(fields[col], fields["name"]))
    df = df.rename(columns=rename)
    for name_, kind in zip(fields["name"], fields["kind"]):
        if name_ in df.columns:
            df[name_] = _restore(df[name_], kind)
    order = list(fields["name"]) + ([df.geometry.name] if isinstance(df, gpd.GeoDataFrame) else [])
    return df[[c for c in order if c in df.columns]]


def _restore(s: pd.Series, kind: str) -> pd.Series:
    """Undo a format's conversion of one column."""
    if kind == "text":
        return s.astype("str").where(s.notna())
    if kind == "int":
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            return pd.Series([pd.NA if pd.isna(v) else int(v) for v in s], index=s.index,
                             dtype="Int64")
        return s.astype("Int64")
    if kind == "bool":
        return s.map(lambda v: pd.NA if pd.isna(v) else bool(v)).astype("boolean")
    if kind == "float":
        return s.astype("float64")
    if kind == "date":
        d = pd.to_datetime(s)
        if getattr(d.dt, "tz", None) is not None:
            d = d.dt.tz_localize(None)
        return pd.Series([None if pd.isna(v) else v.date() for v in d], index=s.index, dtype=object)
    if kind == "datetime":
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            return pd.to_datetime(s)
        d = pd.to_datetime(s)
        if getattr(d.dt, "tz", None) is not None:
            d = d.dt.tz_localize(None)
        return d
    return s


