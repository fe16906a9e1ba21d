"""Input handling shared by the survey functions.

The survey functions take the layers a user has (a :class:`~landplan.project.Project`,
a dict of layers, or single GeoDataFrames) and check only what the survey
needs: the columns it reads, their values, unique keys and a metric CRS.
Input that makes a survey impossible (a missing column, a duplicated id, an
unknown status) raises one :class:`~landplan.errors.ValidationError` naming
the layer, the rows and the fix. Input the survey can work around (a
homestead without a household, a zero-area sliver, overlapping plots) is
*reported* by :mod:`landplan.survey.problems`, never dropped.

The frames given are never modified: every function works on a copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .._validate import _coerce_column, _row_labels, check_crs
from ..errors import Problem, ValidationError
from ..scenario import Scenario, load_scenario
from ..schema import HOMESTEAD_STATUS, LAYERS, RESIDENCE_STATUS
from ..units import WORKING_CRS

#: Columns of the homesteads layer the survey reads; vacant_since is optional.
HOMESTEAD_COLUMNS = ("homestead_id", "household_id", "village_id", "status")
#: Columns of the households layer the survey reads; the others are optional.
HOUSEHOLD_COLUMNS = ("household_id", "village_id", "residence")
_HOUSEHOLD_OPTIONAL = ("willing_to_relocate", "registered_homestead_id")

#: Building status -> rank used by the keep rules (occupied first).
STATUS_RANK = {s: i for i, s in enumerate(HOMESTEAD_STATUS)}


def layers_of(project) -> dict[str, pd.DataFrame]:
    """The layers of a Project, or of a mapping of layer name -> frame."""
    layers = getattr(project, "layers", project)
    if not isinstance(layers, Mapping):
        raise TypeError(
            f"expected a landplan Project or a dict of layers, got {type(project).__name__}; "
            "pass Project.read(path) or {'homesteads': ..., 'households': ..., ...}")
    return {k: v for k, v in layers.items() if v is not None}


def resolve_scenario(scenario: Scenario | str | None) -> Scenario:
    """A Scenario from a Scenario, a path or bundled name, or None (the 2008 plan)."""
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(scenario)


def _missing_columns(df: pd.DataFrame, layer: str, needed) -> list[Problem]:
    missing = [c for c in needed if c not in df.columns]
    if not missing:
        return []
    zh = LAYERS[layer].zh_names
    return [Problem(layer, "missing_column", [],
                    "the survey needs column(s) "
                    + ", ".join(f"{c!r} ({zh.get(c, '')})" for c in missing)
                    + f"; the layer has: {', '.join(map(str, df.columns))}",
                    "rename your columns to landplan's names, or read the project with a column "
                    f"mapping {{'{layer}': {{'YOUR_NAME': '{missing[0]}'}}}}")]


def _coerce(df: pd.DataFrame, layer: str, names) -> list[Problem]:
    """Coerce ``names`` in place (df is already a copy) to their schema dtypes."""
    spec = LAYERS[layer]
    problems: list[Problem] = []
    for name in names:
        if name not in df.columns:
            continue
        col = spec.column(name)
        coerced, p = _coerce_column(df[name], col, layer, df, spec.key)
        problems += p
        if not p:
            df[name] = coerced
    return problems


def _check_key(df: pd.DataFrame, layer: str) -> list[Problem]:
    key = LAYERS[layer].key
    problems = []
    k = df[key]
    null = k.isna().to_numpy()
    if null.any():
        problems.append(Problem(layer, "missing_value", [f"row {i}" for i in np.flatnonzero(null)],
                                f"{key} is empty in these rows; survey results are keyed by it",
                                f"give every row a {key}"))
    dup = (k.notna() & k.duplicated(keep=False)).to_numpy()
    if dup.any():
        problems.append(Problem(layer, "duplicate_id", sorted(set(k[dup].astype(str))),
                                f"{key} is not unique: these ids appear on more than one row",
                                f"give each row its own {key}"))
    return problems


def _check_choices(df: pd.DataFrame, layer: str, name: str, choices) -> list[Problem]:
    s = df[name]
    bad = (s.isna() | ~s.isin(choices)).to_numpy()
    if not bad.any():
        return []
    col = LAYERS[layer].column(name)
    vals = sorted(set(map(str, s[bad])))[:5]
    return [Problem(layer, "bad_value", _row_labels(df, bad, LAYERS[layer].key),
                    f"column {name!r} ({col.zh}) has values {vals} outside {list(choices)}",
                    f"use one of {', '.join(choices)}")]


def prepare_homesteads(homesteads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A checked copy of a homesteads layer in the working CRS, with ``area_m2``.

    Raises
    ------
    ValidationError
        Missing columns, empty or duplicated ids, unknown status values, a
        missing or legacy CRS.
    """
    if not isinstance(homesteads, gpd.GeoDataFrame):
        raise ValidationError([Problem(
            "homesteads", "missing_geometry_column", [],
            "the homesteads layer must be a GeoDataFrame of polygons, got "
            f"{type(homesteads).__name__}",
            "read it from a spatial file (shapefile, GeoPackage) or build a GeoDataFrame")])
    problems = _missing_columns(homesteads, "homesteads", HOMESTEAD_COLUMNS)
    problems += check_crs(homesteads.crs, "homesteads")
    if problems:
        raise ValidationError(problems)
    hs = homesteads.copy()
    if not CRS.from_user_input(hs.crs).equals(CRS(WORKING_CRS)):
        hs = hs.to_crs(WORKING_CRS)
    problems += _coerce(hs, "homesteads", HOMESTEAD_COLUMNS + ("vacant_since",))
    if not problems:
        problems += _check_key(hs, "homesteads")
        problems += _check_choices(hs, "homesteads", "status", HOMESTEAD_STATUS)
    if problems:
        raise ValidationError(problems)
    if "vacant_since" not in hs.columns:
        hs["vacant_since"] = pd.array([pd.NA] * len(hs), dtype="Int64")
    hs["area_m2"] = np.nan_to_num(hs.geometry.area.to_numpy(dtype=float), nan=0.0)
    return hs


def prepare_households(households: pd.DataFrame | None) -> pd.DataFrame:
    """A checked copy of a households layer with its optional columns present.

    ``None`` gives an empty households table (every homestead then counts as
    having no registered household).
    """
    if households is None:
        households = pd.DataFrame({c: pd.Series(dtype="str") for c in HOUSEHOLD_COLUMNS})
    problems = _missing_columns(households, "households", HOUSEHOLD_COLUMNS)
    if problems:
        raise ValidationError(problems)
    hh = pd.DataFrame(households.drop(columns=getattr(households, "_geometry_column_name", None)
                                      or [], errors="ignore")).copy()
    problems += _coerce(hh, "households", HOUSEHOLD_COLUMNS + _HOUSEHOLD_OPTIONAL)
    if not problems:
        problems += _check_key(hh, "households")
        problems += _check_choices(hh, "households", "residence", RESIDENCE_STATUS)
    if problems:
        raise ValidationError(problems)
    if "willing_to_relocate" not in hh.columns:
        hh["willing_to_relocate"] = pd.array([pd.NA] * len(hh), dtype="boolean")
    if "registered_homestead_id" not in hh.columns:
        hh["registered_homestead_id"] = pd.Series([None] * len(hh), index=hh.index, dtype="str")
    return hh


def village_towns(villages: pd.DataFrame | None) -> pd.Series:
    """village_id -> town_id from a villages layer (empty when none is given)."""
    if villages is None or len(villages) == 0:
        return pd.Series(dtype="str", name="town_id")
    for c in ("village_id", "town_id"):
        if c not in villages.columns:
            raise ValidationError(_missing_columns(villages, "villages", ("village_id", "town_id")))
    v = villages[["village_id", "town_id"]].astype("str").drop_duplicates("village_id")
    return pd.Series(v["town_id"].to_numpy(), index=pd.Index(v["village_id"].to_numpy(),
                                                               name="village_id"), name="town_id")


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def steps_bar(progress: bool, total: int, desc: str):
    """A tqdm.auto bar over a function's steps when ``progress`` is true, else a no-op."""
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="step")


def other_layer(df, layer: str) -> gpd.GeoDataFrame | None:
    """An optional context layer (water, roads, villages) in the working CRS, or None."""
    if df is None or len(df) == 0:
        return None
    if not isinstance(df, gpd.GeoDataFrame):
        raise ValidationError([Problem(layer, "missing_geometry_column", [],
                                       f"the {layer} layer must be a GeoDataFrame",
                                       "read it from a spatial file or build a GeoDataFrame")])
    problems = check_crs(df.crs, layer)
    if problems:
        raise ValidationError(problems)
    if not CRS.from_user_input(df.crs).equals(CRS(WORKING_CRS)):
        df = df.to_crs(WORKING_CRS)
    return df


# fast id matching ---------------------------------------------------------------------------
# pandas' Arrow-backed "str" dtype checks membership element by element in Python; the
# survey matches ids through object arrays and hash tables instead.

def as_object(values) -> np.ndarray:
    """Values as a numpy object array (missing values as NaN)."""
    if hasattr(values, "to_numpy"):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def isin(values, other) -> np.ndarray:
    """Boolean array: each of ``values`` is present (not missing) and among ``other``."""
    v = as_object(values)
    o = pd.Series(as_object(other), dtype=object)
    return pd.Series(v, dtype=object).isin(o[o.notna()]).to_numpy(dtype=bool) & pd.notna(v)


def positions(values, keys) -> np.ndarray:
    """Position of each of ``values`` in the unique ``keys``; -1 when absent or missing."""
    return pd.Index(as_object(keys), dtype=object).get_indexer(as_object(values))


def take(data, pos: np.ndarray, fill=None) -> np.ndarray:
    """``data[pos]`` as an object array, ``fill`` where ``pos`` is -1."""
    data = as_object(data)
    out = np.full(len(pos), fill, dtype=object)
    ok = pos >= 0
    out[ok] = data[pos[ok]]
    return out


def lookup(values, mapping: pd.Series) -> np.ndarray:
    """``mapping[v]`` for each of ``values`` (unique index), None where absent."""
    return take(mapping.to_numpy(dtype=object), positions(values, mapping.index))


def group_first(codes: np.ndarray, n: int) -> np.ndarray:
    """Row position of the first member of each of ``n`` groups (codes 0..n-1)."""
    first = np.full(n, -1, dtype=np.int64)
    rows = np.arange(len(codes))
    first[codes[::-1]] = rows[::-1]
    return first


def filled_ids(values) -> np.ndarray:
    """Ids as an object array, ``"(none)"`` where missing (a group for the unknown)."""
    v = as_object(values)
    return np.where(pd.isna(v), "(none)", v).astype(object)


def valid_geometries(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with invalid ones repaired (:func:`shapely.make_valid`), for overlay steps.

    The survey's areas come from the geometries as given; repaired copies are used
    only where GEOS needs valid input (unions, intersections). Invalid plots are
    reported by :func:`~landplan.survey.problems.survey_problems`.
    """
    ok = shapely.is_missing(geoms) | shapely.is_valid(geoms)
    if ok.all():
        return geoms
    out = geoms.copy()
    out[~ok] = shapely.make_valid(geoms[~ok])
    return out


#: Threads the survey's bulk GEOS steps run in (GEOS releases the GIL); 1 turns them off.
THREADS = min(2, os.cpu_count() or 1)


def in_threads(fn, array: np.ndarray, *, threads: int | None = None, min_chunk: int = 256):
    """``fn`` over chunks of ``array`` in threads, results concatenated in order.

    ``fn`` returns an array or a tuple of arrays, row-aligned to its chunk. For
    vectorised shapely calls, which release the GIL, this uses both cores.
    """
    threads = THREADS if threads is None else threads
    if threads <= 1 or len(array) < 2 * min_chunk:
        return fn(array)
    chunks = np.array_split(array, threads)
    with ThreadPoolExecutor(threads) as ex:
        results = list(ex.map(fn, chunks))
    if isinstance(results[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*results))
    return np.concatenate(results)
