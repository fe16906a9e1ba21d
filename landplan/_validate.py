"""Collect-all validation of project layers against :mod:`landplan.schema`.

Every rule adds a :class:`~landplan.errors.Problem` naming the layer, the
row ids and the fix; :func:`validate_layers` raises one
:class:`~landplan.errors.ValidationError` listing them all. The input frames
are never modified: validation works on copies and returns the coerced,
reprojected layers.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .errors import CRSError, Problem, ValidationError
from .schema import GEOMETRY_FAMILIES, LAYERS, REQUIRED_LAYERS, Column, LayerSpec
from .units import LEGACY_DATUMS, WORKING_CRS

log = logging.getLogger(__name__)

_TRUE = {"true", "t", "yes", "y", "1", "是", "有", "true.0", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "否", "无", "0.0"}


@dataclass
class ValidationReport:
    """What validation did besides raising: repairs made and reprojections.

    Attributes
    ----------
    repairs : pandas.DataFrame
        One row per repaired geometry: layer, id, reason (from GEOS).
    reprojected : dict
        layer -> the CRS it was reprojected from.
    """

    repairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["layer", "id", "reason"]))
    reprojected: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def _row_labels(df: pd.DataFrame, mask, key: str) -> list[str]:
    """Ids of the masked rows, or 'row N' where the id itself is unusable."""
    mask = np.asarray(mask, dtype=bool)
    if key in df.columns:
        ids = df[key].to_numpy()[mask]
        idx = np.flatnonzero(mask)
        return [str(v) if _present(v) else f"row {i}" for v, i in zip(ids, idx)]
    return [f"row {i}" for i in np.flatnonzero(mask)]


def _present(v) -> bool:
    if v is None:
        return False
    try:
        return not bool(pd.isna(v))
    except (TypeError, ValueError):
        return True


def check_crs(crs, layer: str) -> list[Problem]:
    """Problems with a layer's CRS: missing, or a legacy datum PROJ cannot shift.

    Examples
    --------
    >>> [p.rule for p in check_crs(None, "homesteads")]
    ['missing_crs']
    >>> [p.rule for p in check_crs("EPSG:2385", "homesteads")]  # Xian 1980 / 3-degree GK CM 120E
    ['legacy_datum']
    >>> check_crs("EPSG:4490", "homesteads")
    []
    """
    if crs is None:
        return [Problem(layer, "missing_crs", [], "the layer has no coordinate reference system",
                        "set it to the CRS the data was made in (for example "
                        "gdf.set_crs('EPSG:4549') for CGCS2000 / 3-degree GK CM 120E), "
                        "or add the .prj file beside the shapefile")]
    crs = CRS.from_user_input(crs)
    datum = crs.datum.name if crs.datum is not None else ""
    if any(d.lower() in datum.lower() for d in LEGACY_DATUMS):
        return [Problem(layer, "legacy_datum", [],
                        f"the layer is on the {datum} datum ({crs.name}); PROJ has no real "
                        f"transformation from it to CGCS2000, only a no-op that would leave the "
                        f"data tens of metres off",
                        "convert it to CGCS2000 with your county's local seven-parameter "
                        "transformation first, then read it again")]
    return []


def _coerce_column(s: pd.Series, col: Column, layer: str, df, key) -> tuple[pd.Series, list[Problem]]:
    """Cast one column to its spec's dtype; values that cannot be cast are problems."""
    problems: list[Problem] = []
    present = s.notna()
    if col.dtype == "str":
        if pd.api.types.is_float_dtype(s):
            frac = s[present] % 1 != 0
            if frac.any():
                problems.append(Problem(
                    layer, "mistyped_column", _row_labels(df, present & (s % 1 != 0), key),
                    f"column {col.name!r} ({col.zh}) holds decimals; it must be text",
                    f"store {col.name} as text in the source file"))
                return s, problems
            out = s.astype("Int64").astype("str")
        else:
            out = s.astype("str")
        out = out.where(present, None).astype("str")
        out = out.where(present)
        # blank strings count as missing
        blank = out.str.strip() == ""
        out = out.where(~blank.fillna(False))
        return out, problems
    if col.dtype == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), problems
        text = s.astype("str").str.strip().str.lower()
        val = pd.Series(pd.NA, index=s.index, dtype="boolean")
        val[text.isin(_TRUE).fillna(False)] = True
        val[text.isin(_FALSE).fillna(False)] = False
        bad = present & val.isna()
        if bad.any():
            problems.append(Problem(
                layer, "mistyped_column", _row_labels(df, bad, key),
                f"column {col.name!r} ({col.zh}) must be true/false; found "
                f"{sorted(set(map(str, s[bad])))[:5]}",
                "write true/false, 1/0 or 是/否"))
        return val, problems
    # numeric
    num = pd.to_numeric(s, errors="coerce")
    bad = present & num.isna()
    if bad.any():
        problems.append(Problem(
            layer, "mistyped_column", _row_labels(df, bad, key),
            f"column {col.name!r} ({col.zh}) must be a number; found "
            f"{sorted(set(map(str, s[bad])))[:5]}",
            f"correct the values or map the right column onto {col.name}"))
    if col.dtype in ("int", "year"):
        frac = num.notna() & (num % 1 != 0)
        if frac.any():
            problems.append(Problem(
                layer, "mistyped_column", _row_labels(df, frac, key),
                f"column {col.name!r} ({col.zh}) must be a whole number",
                "round or correct the values"))
            return num, problems
        return num.astype("Int64"), problems
    return num.astype("float64"), problems


def validate_layer(name: str, df, *, repair: bool = False,
                   report: ValidationReport | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """Validate and coerce one layer; return the coerced copy and the problems found.

    Parameters
    ----------
    name : str
        Layer name in :data:`landplan.schema.LAYERS`.
    df : pandas.DataFrame or geopandas.GeoDataFrame
        The layer as given. It is not modified.
    repair : bool
        Repair invalid geometries with :func:`shapely.make_valid` (each repair is
        recorded in ``report.repairs``) instead of reporting them as problems.
    report : ValidationReport, optional
        Collects repairs and reprojections.

    Returns
    -------
    (DataFrame, list of Problem)

    Examples
    --------
    >>> import pandas as pd
    >>> hh = pd.DataFrame({"household_id": ["H1", "H1"], "village_id": ["V1", "V1"],
    ...                    "members": [3, 2], "residence": ["resident", "abroad"]})
    >>> _, problems = validate_layer("households", hh)
    >>> sorted(p.rule for p in problems)
    ['bad_value', 'duplicate_id']
    """
    spec: LayerSpec = LAYERS[name]
    report = report if report is not None else ValidationReport()
    problems: list[Problem] = []
    key = spec.key
    if df is None or len(df) == 0:
        problems.append(Problem(name, "empty_layer", [], f"the {name} layer ({spec.zh}) has no rows",
                                f"give a {name} layer with at least one feature, or leave it out"
                                + (" (it is required)" if name in REQUIRED_LAYERS else "")))
        return df, problems
    out = df.copy()

    # geometry and CRS -----------------------------------------------------
    if spec.geometry is not None:
        if not isinstance(out, gpd.GeoDataFrame) or out.geometry.name not in out.columns:
            problems.append(Problem(name, "missing_geometry_column", [],
                                    f"the {name} layer ({spec.zh}) must have {spec.geometry} geometries",
                                    "read it from a spatial file (shapefile, GeoPackage) or build "
                                    "a GeoDataFrame"))
        else:
            crs_problems = check_crs(out.crs, name)
            problems += crs_problems
            if not crs_problems and not CRS.from_user_input(out.crs).equals(CRS(WORKING_CRS)):
                report.reprojected[name] = out.crs.to_string()
                log.info("reprojecting %s from %s to %s", name, out.crs.to_string(), WORKING_CRS)
                out = out.to_crs(WORKING_CRS)
            geom = out.geometry.values
            missing = shapely.is_missing(geom) | shapely.is_empty(geom)
            if missing.any():
                problems.append(Problem(name, "empty_geometry", _row_labels(out, missing, key),
                                        "these features have no or empty geometry",
                                        "draw their geometry or remove them from the source"))
            types = np.asarray(shapely.get_type_id(geom))
            allowed = GEOMETRY_FAMILIES[spec.geometry]
            type_names = pd.Series(out.geometry.geom_type, index=out.index).to_numpy()
            wrong = ~missing & ~np.isin(type_names, allowed)
            if wrong.any():
                found = sorted(set(type_names[wrong].astype(str)))
                problems.append(Problem(name, "wrong_geometry_type", _row_labels(out, wrong, key),
                                        f"expected {spec.geometry}, found {', '.join(found)}",
                                        f"give {spec.geometry} features for {name}"))
            del types
            invalid = ~missing & ~shapely.is_valid(geom)
            if invalid.any():
                ids = _row_labels(out, invalid, key)
                reasons = shapely.is_valid_reason(geom[invalid])
                if repair:
                    fixed = shapely.make_valid(geom[invalid])
                    # make_valid may return collections; keep the wanted family
                    fixed = _keep_family(fixed, spec.geometry)
                    out.loc[out.index[invalid], out.geometry.name] = fixed
                    rep = pd.DataFrame({"layer": name, "id": ids, "reason": reasons})
                    report.repairs = pd.concat([report.repairs, rep], ignore_index=True) \
                        if len(report.repairs) else rep
                    log.warning("repaired %d invalid geometries in %s", int(invalid.sum()), name)
                else:
                    problems.append(Problem(
                        name, "invalid_geometry", ids,
                        f"invalid geometries ({reasons[0]}"
                        + (f"; and {len(ids) - 1} more" if len(ids) > 1 else "") + ")",
                        "repair them in your GIS, or read the project with repair=True "
                        "(every repair is reported)"))
            if spec.geometry == "Polygon":
                area = shapely.area(geom)
                sliver = ~missing & ~invalid & (area <= 0.01) if not repair else \
                    ~missing & (shapely.area(out.geometry.values) <= 0.01)
                if np.any(sliver):
                    problems.append(Problem(name, "zero_area", _row_labels(out, sliver, key),
                                            "these polygons have (almost) no area (<= 0.01 m2)",
                                            "redraw or remove the slivers", severity="warning"))

    # columns ----------------------------------------------------------------
    present_cols = [c for c in out.columns if c != getattr(out, "_geometry_column_name", None)]
    for col in spec.columns:
        if col.name not in out.columns:
            if col.required:
                close = difflib.get_close_matches(col.name, [str(c) for c in present_cols], n=1,
                                                  cutoff=0.5)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(Problem(
                    name, "missing_column", [],
                    f"required column {col.name!r} ({col.zh}) is missing{hint} "
                    f"(the layer has: {', '.join(map(str, present_cols))})",
                    f"rename your column to {col.name!r}, or give a column mapping "
                    f"{{'{name}': {{'YOUR_NAME': '{col.name}'}}}}"))
            continue
        coerced, col_problems = _coerce_column(out[col.name], col, name, out, key)
        problems += col_problems
        out[col.name] = coerced
        if col_problems:
            continue
        s = out[col.name]
        if not col.nullable:
            null = s.isna()
            if null.any():
                problems.append(Problem(name, "missing_value", _row_labels(out, null, key),
                                        f"column {col.name!r} ({col.zh}) is empty in these rows",
                                        f"fill in {col.name}"))
        if col.choices is not None:
            bad = s.notna() & ~s.isin(col.choices)
            if bad.any():
                vals = sorted(set(map(str, s[bad])))[:5]
                problems.append(Problem(name, "bad_value", _row_labels(out, bad, key),
                                        f"column {col.name!r} ({col.zh}) has values {vals} "
                                        f"outside {list(col.choices)}",
                                        f"use one of {', '.join(col.choices)}"))
        if col.minimum is not None or col.maximum is not None:
            lo = -np.inf if col.minimum is None else col.minimum
            hi = np.inf if col.maximum is None else col.maximum
            num = s.astype("float64")
            bad = num.notna() & ((num < lo) | (num > hi))
            if bad.any():
                problems.append(Problem(name, "out_of_range", _row_labels(out, bad, key),
                                        f"column {col.name!r} ({col.zh}) must lie in [{lo}, {hi}]",
                                        "correct the values"))

    # key ------------------------------------------------------------------
    if key in out.columns:
        k = out[key]
        dup = k.notna() & k.duplicated(keep=False)
        if dup.any():
            problems.append(Problem(name, "duplicate_id", sorted(set(k[dup].astype(str))),
                                    f"{key} is not unique: these ids appear on more than one row",
                                    f"give each row its own {key}"))
    return out, problems


def _keep_family(geoms, family: str):
    """From make_valid's output keep only the parts of the wanted geometry family."""
    out = []
    wanted = GEOMETRY_FAMILIES[family]
    for g in geoms:
        if g.geom_type in wanted:
            out.append(g)
            continue
        parts = [p for p in getattr(g, "geoms", []) if p.geom_type in wanted]
        flat = []
        for p in parts:
            flat.extend(getattr(p, "geoms", [p]))
        if not flat:
            out.append(g)
        elif family == "Polygon":
            out.append(shapely.MultiPolygon(flat) if len(flat) > 1 else flat[0])
        elif family == "LineString":
            out.append(shapely.MultiLineString(flat) if len(flat) > 1 else flat[0])
        else:
            out.append(shapely.MultiPoint(flat) if len(flat) > 1 else flat[0])
    return np.array(out, dtype=object)


def check_references(layers: dict[str, pd.DataFrame]) -> list[Problem]:
    """Dangling references between layers (a household in a village that does not exist).

    Examples
    --------
    >>> import pandas as pd
    >>> villages = pd.DataFrame({"village_id": ["V1"]})
    >>> households = pd.DataFrame({"household_id": ["H1", "H2"], "village_id": ["V1", "V9"]})
    >>> [p.rows for p in check_references({"villages": villages, "households": households})]
    [['H2']]
    """
    problems = []
    for name, df in layers.items():
        if df is None or name not in LAYERS:
            continue
        spec = LAYERS[name]
        for ref in spec.references:
            if ref.column not in df.columns:
                continue
            target = layers.get(ref.layer)
            vals = df[ref.column]
            present = vals.notna()
            if target is None or LAYERS[ref.layer].key not in target.columns:
                if present.any() and not ref.nullable:
                    problems.append(Problem(name, "dangling_reference", [],
                                            f"{ref.column} refers to the {ref.layer} layer, "
                                            f"which the project does not have",
                                            f"add the {ref.layer} layer"))
                continue
            keys = set(target[LAYERS[ref.layer].key].dropna().astype(str))
            bad = present & ~vals.astype("str").isin(keys)
            if bad.any():
                missing = sorted(set(vals[bad].astype(str)))
                problems.append(Problem(
                    name, "dangling_reference", _row_labels(df, bad, spec.key),
                    f"{ref.column} points at {ref.layer} that do not exist: "
                    f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}",
                    f"add those {ref.layer}, or correct {ref.column} in {name}",
                    severity="warning" if ref.warn_only else "error"))
    return problems


def validate_layers(layers: dict, *, repair: bool = False,
                    required: tuple[str, ...] = REQUIRED_LAYERS
                    ) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Validate a project's layers together and raise once with every problem.

    Parameters
    ----------
    layers : dict
        layer name -> DataFrame / GeoDataFrame. Not modified.
    repair : bool
        Repair invalid geometries instead of refusing them; see the report.
    required : tuple of str
        Layers that must be present.

    Returns
    -------
    (dict, ValidationReport)
        The coerced layers in the working CRS, and what was repaired or reprojected,
        and the data-quality warnings (homesteads of unregistered households,
        slivers) that do not stop the work.

    Raises
    ------
    ValidationError
        Listing every problem of every layer (a :class:`~landplan.errors.CRSError`
        when all problems are CRS problems).
    """
    problems: list[Problem] = []
    report = ValidationReport()
    out: dict[str, pd.DataFrame] = {}
    for name in required:
        if name not in layers or layers[name] is None:
            problems.append(Problem(name, "missing_layer", [],
                                    f"the required {name} layer ({LAYERS[name].zh}) is missing",
                                    f"give a {name} layer (see landplan.schema.LAYERS[{name!r}])"))
    for name, df in layers.items():
        if name not in LAYERS:
            problems.append(Problem(name, "unknown_layer", [],
                                    f"{name!r} is not a landplan layer",
                                    f"name it one of: {', '.join(LAYERS)}"))
            continue
        if df is None:
            continue
        coerced, p = validate_layer(name, df, repair=repair, report=report)
        problems += p
        out[name] = coerced
    problems += check_references(out)
    report.warnings = [p for p in problems if p.severity == "warning"]
    for w in report.warnings:
        log.warning("%s", w.format().strip())
    problems = [p for p in problems if p.severity != "warning"]
    if problems:
        cls = CRSError if all(p.rule in ("missing_crs", "legacy_datum") for p in problems) \
            else ValidationError
        raise cls(problems)
    return out, report
