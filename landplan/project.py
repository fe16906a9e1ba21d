"""Project: a district's layers, validated, in the working CRS.

A :class:`Project` holds the layers of :mod:`landplan.schema` (towns,
villages, households, homesteads, farmland, roads, water, protected,
sites, facilities) as GeoDataFrames in EPSG:4549, plus the paths of its
rasters (elevation, flood depth, ...). It is stored as one GeoPackage
(the default) with its rasters as GeoTIFFs in a ``rasters/`` folder beside
it, and it can be read from a folder of shapefiles and GeoPackages with a
column mapping (a county's field names onto ours).

Examples
--------
>>> from landplan.project import Project
>>> from landplan.datasets import sample_path
>>> p = Project.read(sample_path())
>>> p.crs.to_epsg()
4549
>>> int(p.summary().loc["homesteads", "features"]) > 1000
True
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Iterable, Mapping

import geopandas as gpd
import pandas as pd
import pyogrio

from ._io import atomic_path, fixed_gpkg_time
from ._validate import ValidationReport, validate_layers
from .errors import EncodingError, Problem, ValidationError
from .schema import LAYERS, REQUIRED_LAYERS
from .units import WORKING_CRS, m2_to_mu

__all__ = ["Project", "read_project", "read_layer_file", "detect_mojibake"]

log = logging.getLogger(__name__)

_META_TABLE = "landplan_metadata"
_VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".csv", ".xlsx", ".parquet")


class Project:
    """The layers of one planning project, validated and in the working CRS.

    Parameters
    ----------
    layers : mapping
        Layer name -> DataFrame or GeoDataFrame. Names are those of
        :data:`landplan.schema.LAYERS`; ``towns``, ``villages``, ``households``
        and ``homesteads`` are required. The frames given are not modified.
    rasters : mapping, optional
        Raster name (``"elevation"``, ``"flood_depth"``, ...) -> GeoTIFF path.
    name : str
        A label for logs and reports.
    validate : bool
        Validate and coerce the layers (default). Turn off only for layers
        that come straight from a validated project.
    repair : bool
        Repair invalid geometries with :func:`shapely.make_valid` instead of
        refusing them; every repair is listed in ``project.repairs``.

    Attributes
    ----------
    layers : dict of GeoDataFrame
    rasters : dict of Path
    repairs : pandas.DataFrame
        The geometries repaired on reading (layer, id, reason).
    reprojected : dict
        Layer -> the CRS it was reprojected from.
    warnings : list of landplan.errors.Problem
        Data-quality findings that do not stop the work (a homestead whose
        household is not registered, a household whose registered homestead is
        missing, zero-area slivers); each names its rows. The survey counts them.

    Raises
    ------
    landplan.errors.ValidationError
        Listing every problem of every layer, each with its rows and fix.
    """

    def __init__(self, layers: Mapping[str, pd.DataFrame], *, rasters: Mapping[str, str | Path] | None = None,
                 name: str = "project", validate: bool = True, repair: bool = False):
        self.name = name
        if validate:
            coerced, report = validate_layers(dict(layers), repair=repair)
        else:
            coerced, report = {k: v for k, v in layers.items() if v is not None}, ValidationReport()
        self.layers: dict[str, pd.DataFrame] = {k: coerced[k] for k in LAYERS if k in coerced}
        self.repairs = report.repairs
        self.reprojected = report.reprojected
        self.warnings = report.warnings
        self.rasters: dict[str, Path] = {k: Path(v) for k, v in (rasters or {}).items()}
        log.info("project %r: %s", name,
                 ", ".join(f"{len(v):,} {k}" for k, v in self.layers.items()))

    # access -------------------------------------------------------------------
    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.layers[name]
        except KeyError:
            raise KeyError(f"project {self.name!r} has no {name!r} layer; it has: "
                           f"{', '.join(self.layers)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.layers

    def get(self, name: str, default=None):
        """The layer called ``name``, or ``default`` when the project has none."""
        return self.layers.get(name, default)

    def __repr__(self) -> str:
        return (f"Project({self.name!r}, "
                + ", ".join(f"{k}={len(v)}" for k, v in self.layers.items()) + ")")

    @property
    def crs(self):
        """The working CRS (EPSG:4549)."""
        from pyproj import CRS
        return CRS(WORKING_CRS)

    # subsets --------------------------------------------------------------------
    def select_towns(self, town_ids: Iterable[str]) -> "Project":
        """A project of only the given towns (and their villages, households, ...).

        Layers without a town or village column (roads, water, protected) are
        clipped to the towns' extent, so a town can be planned on its own.

        Examples
        --------
        >>> from landplan.datasets import sample_path
        >>> p = Project.read(sample_path())
        >>> one = p.select_towns(p["towns"]["town_id"][:1])
        >>> len(one["towns"])
        1
        """
        town_ids = {str(t) for t in town_ids}
        towns = self["towns"][self["towns"]["town_id"].isin(town_ids)]
        villages = self["villages"][self["villages"]["town_id"].isin(town_ids)]
        vids = set(villages["village_id"])
        out: dict[str, pd.DataFrame] = {"towns": towns, "villages": villages}
        for name, df in self.layers.items():
            if name in out:
                continue
            if "village_id" in df.columns:
                out[name] = df[df["village_id"].isin(vids)]
            elif "town_id" in df.columns:
                out[name] = df[df["town_id"].isin(town_ids) | df["town_id"].isna()]
            elif isinstance(df, gpd.GeoDataFrame):
                area = towns.geometry.union_all().buffer(500)
                out[name] = df[df.intersects(area)]
        # keep households' homestead references resolvable
        if "households" in out and "homesteads" in out:
            hs = set(out["homesteads"]["homestead_id"])
            hh = out["households"].copy()
            if "registered_homestead_id" in hh.columns:
                hh["registered_homestead_id"] = hh["registered_homestead_id"].where(
                    hh["registered_homestead_id"].isin(hs))
            out["households"] = hh
        # an optional layer with nothing in these towns is left out, not kept empty
        out = {k: v for k, v in out.items() if len(v) or k in REQUIRED_LAYERS}
        return Project(out, rasters=self.rasters, name=f"{self.name}[{','.join(sorted(town_ids))}]",
                       validate=False)

    # summary --------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per layer: features, and area in m2 and mu for polygon layers.

        Examples
        --------
        >>> from landplan.datasets import sample_path
        >>> Project.read(sample_path()).summary().columns.tolist()
        ['zh', 'features', 'area_m2', 'area_mu']
        """
        rows = []
        for name, df in self.layers.items():
            spec = LAYERS[name]
            area = float(df.geometry.area.sum()) if spec.geometry == "Polygon" else float("nan")
            rows.append({"layer": name, "zh": spec.zh, "features": len(df), "area_m2": area,
                         "area_mu": m2_to_mu(area)})
        return pd.DataFrame(rows).set_index("layer")

    # storage --------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path, *, mapping: Mapping[str, Mapping[str, str]] | None = None,
             files: Mapping[str, str] | None = None, encoding: str | None = None,
             repair: bool = False, name: str | None = None, schema: str = "landplan") -> "Project":
        """Read a project from a GeoPackage, a folder of layer files, or PostGIS.

        Parameters
        ----------
        path : str or Path
            A ``.gpkg`` written by :meth:`to_gpkg` (or any GeoPackage whose
            layer names are landplan's); a folder of shapefiles, GeoPackages,
            GeoJSON, CSV or Excel files, one per layer, named after the layer
            (``homesteads.shp``) unless ``files`` says otherwise; or a PostGIS
            URL ``postgresql://user@host/db`` (the password comes from
            ``PGPASSWORD`` or ``~/.pgpass``, never the URL; see :mod:`landplan.db`).
        mapping : dict, optional
            Per layer, your column name -> landplan's column name, e.g.
            ``{"homesteads": {"ZJDBH": "homestead_id", "HBH": "household_id"}}``.
        files : dict, optional
            Layer -> file name inside the folder, e.g. ``{"homesteads": "宅基地.shp"}``.
        encoding : str, optional
            Encoding of shapefiles' text (``"gbk"`` for most county data without
            a ``.cpg``). Without it, the ``.cpg`` is followed and text that looks
            decoded with the wrong encoding is refused with an
            :class:`~landplan.errors.EncodingError`.
        repair : bool
            Repair invalid geometries (each repair reported in ``repairs``).
        schema : str
            The database schema holding the project, for a PostGIS URL.

        Returns
        -------
        Project
        """
        from .db.connection import is_postgres_url

        if is_postgres_url(str(path)):
            from .db import read_project_postgis
            return read_project_postgis(str(path), schema=schema, mapping=mapping, repair=repair,
                                        name=name)
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no project at {path}")
        if path.is_dir():
            layers, rasters = _read_folder(path, mapping=mapping, files=files, encoding=encoding)
        else:
            layers, rasters = _read_gpkg(path, mapping=mapping)
        return cls(layers, rasters=rasters, name=name or path.stem, repair=repair)

    def to_postgis(self, url: str, *, schema: str = "landplan", if_exists: str = "fail",
                   progress: bool = False) -> str:
        """Write the whole project to a PostGIS schema in one transaction.

        A shortcut for :func:`landplan.db.write_project_postgis`; ``if_exists="fail"``
        (the default) never writes over an existing project.
        """
        from .db import write_project_postgis
        write_project_postgis(self, url, schema=schema, if_exists=if_exists, progress=progress)
        return schema

    def to_gpkg(self, path: str | Path, *, overwrite: bool = False, spatial_index: bool = True) -> Path:
        """Write the whole project to one GeoPackage, with rasters beside it.

        Writing is atomic: the file appears only once complete. The same project
        gives the same bytes (timestamps are fixed).

        Parameters
        ----------
        path : str or Path
            The ``.gpkg`` to write. Rasters are copied to ``rasters/`` beside it.
        overwrite : bool
            Replace an existing file.
        spatial_index : bool
            Write R-tree indexes (default).

        Returns
        -------
        Path
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        raster_dir = path.parent / "rasters"
        meta_rows = [("landplan_version", _version()), ("crs", WORKING_CRS), ("name", self.name)]
        for rname, rpath in self.rasters.items():
            target = raster_dir / f"{rname}.tif"
            if rpath.resolve() != target.resolve():
                raster_dir.mkdir(exist_ok=True)
                shutil.copyfile(rpath, target)
            meta_rows.append((f"raster:{rname}", f"rasters/{rname}.tif"))
        with atomic_path(path) as tmp, fixed_gpkg_time():
            for lname, df in self.layers.items():
                write_layer(df, tmp, layer=lname, spatial_index=spatial_index)
            meta = pd.DataFrame(meta_rows, columns=["key", "value"])
            pyogrio.write_dataframe(meta, tmp, layer=_META_TABLE, driver="GPKG")
        log.info("wrote project %r to %s", self.name, path)
        return path


def _version() -> str:
    from . import __version__
    return __version__


def write_layer(df: pd.DataFrame, path, *, layer: str, spatial_index: bool = True) -> None:
    """Write one layer to a GeoPackage with pyogrio, keeping nullable dtypes.

    Nullable integer and boolean columns are written as such (nulls stay null).
    """
    out = df.copy()
    kwargs = {}
    if isinstance(out, gpd.GeoDataFrame):
        kwargs["layer_options"] = {"SPATIAL_INDEX": "YES" if spatial_index else "NO"}
        kwargs["promote_to_multi"] = False
    pyogrio.write_dataframe(out, path, layer=layer, driver="GPKG", append=os.path.exists(path),
                            **kwargs)


def _read_gpkg(path: Path, *, mapping=None):
    names = [n for n, _ in pyogrio.list_layers(path)]
    layers = {}
    for n in names:
        if n == _META_TABLE:
            continue
        if n not in LAYERS:
            log.warning("%s: layer %r is not a landplan layer; not read", path.name, n)
            continue
        layers[n] = read_layer_file(path, layer=n, mapping=(mapping or {}).get(n))
    rasters = {}
    if _META_TABLE in names:
        meta = pyogrio.read_dataframe(path, layer=_META_TABLE)
        for key, value in zip(meta["key"], meta["value"]):
            if str(key).startswith("raster:"):
                rasters[key.split(":", 1)[1]] = path.parent / value
    else:
        rdir = path.parent / "rasters"
        if rdir.is_dir():
            rasters = {p.stem: p for p in sorted(rdir.glob("*.tif"))}
    missing = [k for k, v in rasters.items() if not Path(v).exists()]
    if missing:
        log.warning("%s: rasters listed but not found beside it: %s", path.name, ", ".join(missing))
        rasters = {k: v for k, v in rasters.items() if k not in missing}
    return layers, rasters


def _read_folder(folder: Path, *, mapping=None, files=None, encoding=None):
    files = dict(files or {})
    found = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in _VECTOR_SUFFIXES and p.stem in LAYERS and p.stem not in files:
            found[p.stem] = p
    for lname, fname in files.items():
        if lname not in LAYERS:
            raise ValidationError([Problem(lname, "unknown_layer", [fname],
                                           f"{lname!r} is not a landplan layer",
                                           f"name it one of: {', '.join(LAYERS)}")])
        found[lname] = folder / fname
    missing_files = [str(p) for p in found.values() if not Path(p).exists()]
    if missing_files:
        raise FileNotFoundError(f"layer files not found: {', '.join(missing_files)}")
    if not any(k in found for k in REQUIRED_LAYERS):
        raise ValidationError([Problem(str(folder), "no_layers", [],
                                       f"no layer files found in {folder}",
                                       "name files after the layers (homesteads.shp, ...) or pass "
                                       "files={'homesteads': 'your_file.shp', ...}")])
    layers = {}
    problems = []
    for lname, p in found.items():
        try:
            layers[lname] = read_layer_file(p, mapping=(mapping or {}).get(lname),
                                            encoding=encoding, layer_name=lname)
        except EncodingError as exc:
            problems += exc.problems
    if problems:
        raise EncodingError(problems)
    rdir = folder / "rasters"
    rasters = {p.stem: p for p in sorted(rdir.glob("*.tif"))} if rdir.is_dir() else {}
    return layers, rasters


def read_layer_file(path: str | Path, *, layer: str | None = None, mapping: Mapping[str, str] | None = None,
                    encoding: str | None = None, layer_name: str | None = None) -> pd.DataFrame:
    """Read one layer file with pyogrio (CSV and Excel with pandas), ids as text.

    Parameters
    ----------
    path : str or Path
        Shapefile, GeoPackage, GeoJSON, CSV, Excel or Parquet file.
    layer : str, optional
        The layer inside a multi-layer file (GeoPackage).
    mapping : dict, optional
        Your column name -> landplan's column name.
    encoding : str, optional
        Text encoding of a shapefile (``"gbk"``); see :meth:`Project.read`.
    layer_name : str, optional
        The landplan layer this file holds (for messages and id columns).

    Returns
    -------
    DataFrame or GeoDataFrame
        Exactly as read, with columns renamed by ``mapping``.

    Raises
    ------
    EncodingError
        When text looks decoded with the wrong encoding.
    """
    path = Path(path)
    lname = layer_name or layer or path.stem
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = pd.read_csv(path, dtype=str, encoding=_csv_encoding(path, encoding),
                         keep_default_na=False, na_values=[""])
    elif suffix == ".xlsx":
        df = pd.read_excel(path, dtype=str)
    elif suffix == ".parquet":
        df = gpd.read_parquet(path)
    else:
        kwargs = {}
        if encoding is not None:
            kwargs["encoding"] = encoding
        df = pyogrio.read_dataframe(path, layer=layer, **kwargs)
        if isinstance(df, gpd.GeoDataFrame) and df.geometry.isna().all() and \
                pyogrio.read_info(path, layer=layer).get("geometry_type") is None:
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
    if mapping:
        unknown = [c for c in mapping if c not in df.columns]
        if unknown:
            raise ValidationError([Problem(lname, "mapping_column_missing", unknown,
                                           f"the column mapping names columns that {path.name} does "
                                           f"not have (it has: {', '.join(map(str, df.columns))})",
                                           "correct the mapping's source names")])
        df = df.rename(columns=dict(mapping))
    if suffix in (".shp", ".dbf") or encoding is None:
        problems = detect_mojibake(df, lname, source=path.name, encoding_given=encoding)
        if problems:
            raise EncodingError(problems)
    return df


def _csv_encoding(path: Path, given: str | None) -> str:
    """A CSV's encoding: a UTF-8 BOM wins; then strict UTF-8; then the given one or GBK.

    Excel on a Chinese Windows saves "CSV" in GBK, and "CSV UTF-8" with a BOM.
    """
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return given or "gbk"


def detect_mojibake(df: pd.DataFrame, layer: str, *, source: str = "",
                    encoding_given: str | None = None) -> list[Problem]:
    """Find text that was decoded with the wrong encoding.

    Two signatures are checked on every text column: GBK bytes read as
    Latin-1 (``"ÄÏºþ"`` for 南湖: accented Latin letters that re-encode to
    valid GBK Chinese), and GBK bytes read as UTF-8 (replacement characters
    ``"\\ufffd"``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["南湖".encode("gbk").decode("latin-1")]})
    >>> [p.rule for p in detect_mojibake(df, "villages")]
    ['mojibake']
    >>> detect_mojibake(pd.DataFrame({"name": ["南湖", "Nanhu"]}), "villages")
    []
    """
    problems = []
    for col in df.columns:
        s = df[col]
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
            continue
        text = s.dropna()
        text = text[text.map(lambda v: isinstance(v, str))]
        if text.empty:
            continue
        bad_rows = []
        for idx, v in text.items():
            if "\ufffd" in v or _latin1_gbk(v):
                bad_rows.append(idx)
        if bad_rows:
            sample = text.loc[bad_rows[0]]
            fixed = _latin1_gbk(sample)
            hint = f" (it reads {fixed!r} as GBK)" if fixed else ""
            problems.append(Problem(
                layer, "mojibake", [f"row {i}" for i in bad_rows],
                f"column {col!r} of {source or layer} looks decoded with the wrong encoding: "
                f"{sample!r}{hint}",
                "read it again with encoding='gbk' (Project.read(..., encoding='gbk') or "
                "landplan validate --encoding gbk), or add a .cpg file saying GBK beside the .shp"
                if not encoding_given else
                f"the encoding given ({encoding_given}) does not fit this file; try 'utf-8' or 'gbk'"))
    return problems


def _latin1_gbk(v: str) -> str | None:
    """If ``v`` is GBK text mis-read as Latin-1, return the repaired text."""
    if not any("\u0080" <= ch <= "\u00ff" for ch in v):
        return None
    try:
        fixed = v.encode("latin-1").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    if any("\u4e00" <= ch <= "\u9fff" for ch in fixed):
        return fixed
    return None


def read_project(path: str | Path, **kwargs) -> Project:
    """Read a project; a shortcut for :meth:`Project.read`.

    Examples
    --------
    >>> from landplan.datasets import sample_path
    >>> read_project(sample_path()).name
    'project'
    """
    return Project.read(path, **kwargs)
