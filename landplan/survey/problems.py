"""The survey's report of questionable input: counted and listed by id, never dropped.

The survey runs on imperfect registers. What it can work around it does, and
:func:`survey_problems` lists every case by id with what the survey did with
it (:data:`PROBLEM_RULES`): no plot or household is dropped on account of
them. Input it cannot work around (missing columns, duplicated ids, unknown
status values) raises :class:`~landplan.errors.ValidationError` instead.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import shapely

from ..errors import Problem
from ..scenario import Scenario
from ._inputs import (isin, valid_geometries, positions, prepare_homesteads, prepare_households,
                      resolve_scenario, take)

__all__ = ["PROBLEM_RULES", "PROBLEM_COLUMNS", "survey_problems", "problem_list"]

log = logging.getLogger(__name__)

#: Area (m2) at or under which a plot is a zero-area sliver, and the least
#: shared area that counts as an overlap.
SLIVER_M2 = 0.01

#: rule -> (layer, Chinese label, what is wrong, how the survey treats it, the fix).
PROBLEM_RULES: dict[str, tuple[str, str, str, str, str]] = {
    "no_household": (
        "homesteads", "宅基地无登记农户",
        "homestead has no household_id",
        "surveyed as idle (reason no_household)",
        "fill in household_id where the plot belongs to a registered household"),
    "unknown_household": (
        "homesteads", "宅基地对应农户不存在",
        "homestead's household_id is not in the households table",
        "surveyed as idle (reason no_household)",
        "add the household to the households table or correct household_id"),
    "missing_registered_homestead": (
        "households", "户籍地址宅基地不存在",
        "household's registered_homestead_id is not in the homesteads layer",
        "ignored by the 'registered' keep rule, which falls back to 'occupied'",
        "correct registered_homestead_id or add the homestead"),
    "registered_homestead_of_other": (
        "households", "户籍地址宅基地属于他户",
        "household's registered_homestead_id is a plot held by another household",
        "ignored by the 'registered' keep rule, which falls back to 'occupied'",
        "correct registered_homestead_id or the plot's household_id"),
    "household_without_homestead": (
        "households", "农户无宅基地",
        "no homestead names this household",
        "counted among the households, in no hamlet, with nothing reclaimable",
        "add the household's plot, or set household_id on it"),
    "overlap": (
        "homesteads", "宅基地重叠",
        "homestead polygons overlap (other_id: the other plot; value: shared m2)",
        "each plot keeps its own full area, so area totals count the shared part twice",
        "redraw the boundary between the two plots"),
    "zero_area": (
        "homesteads", "零面积碎片",
        f"polygon has (almost) no area (<= {SLIVER_M2} m2)",
        "surveyed like any plot, with its (near) zero area",
        "redraw the plot or remove the sliver from the source"),
    "empty_geometry": (
        "homesteads", "无图形",
        "homestead has no geometry",
        "surveyed from its attributes, with area 0, in no hamlet",
        "draw the plot"),
    "invalid_geometry": (
        "homesteads", "图形无效",
        "polygon is invalid (self-intersecting or badly nested rings)",
        "surveyed as given; its area may be wrong",
        "repair it in your GIS, or read the project with repair=True"),
    "vacant_since_missing": (
        "homesteads", "闲置起始年缺失",
        "vacant building without vacant_since",
        "not flagged as long vacant (its vacancy cannot be dated)",
        "fill in vacant_since"),
    "vacant_since_future": (
        "homesteads", "闲置起始年晚于调查年",
        "vacant_since is after the survey year (value: the year)",
        "not flagged as long vacant",
        "correct vacant_since, or the scenario's plan.survey_year"),
    "occupied_with_vacant_since": (
        "homesteads", "在用但有闲置起始年",
        "status is occupied but vacant_since is set (value: the year)",
        "treated as occupied (not long vacant)",
        "clear vacant_since or correct status"),
    "unknown_village": (
        "homesteads", "村代码不存在",
        "homestead's village_id is not in the villages layer",
        "surveyed, but counted under no town",
        "add the village or correct village_id"),
}

#: Columns of the problems table.
PROBLEM_COLUMNS = ("layer", "rule", "id", "other_id", "value", "label_zh", "message", "treatment")


def _rows(rule: str, ids, other=None, value=None) -> pd.DataFrame:
    layer, zh, message, treatment, _ = PROBLEM_RULES[rule]
    ids = np.asarray(ids, dtype=object)
    n = len(ids)
    return pd.DataFrame({
        "layer": [layer] * n, "rule": [rule] * n, "id": ids,
        "other_id": np.full(n, None, dtype=object) if other is None else np.asarray(other, object),
        "value": np.full(n, np.nan) if value is None else np.asarray(value, dtype=float),
        "label_zh": [zh] * n, "message": [message] * n, "treatment": [treatment] * n})


def _overlaps(hs) -> pd.DataFrame:
    geoms = hs.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pos = np.flatnonzero(ok)
    g = valid_geometries(geoms[pos])
    left, right = shapely.STRtree(g).query(g, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.area(shapely.intersection(g[left], g[right]))
    big = shared > SLIVER_M2
    ids = hs["homestead_id"].to_numpy(dtype=object)[pos]
    return _rows("overlap", ids[left[big]], ids[right[big]], shared[big])


def _problems(hs, hh, *, survey_year: int, villages=None, overlaps: bool = True) -> pd.DataFrame:
    """The problems table from prepared frames."""
    parts = []
    hs_ids = hs["homestead_id"].to_numpy(dtype=object)
    hid = hs["household_id"]
    null = hid.isna().to_numpy()
    parts.append(_rows("no_household", hs_ids[null]))
    unknown = ~null & ~isin(hid, hh["household_id"])
    parts.append(_rows("unknown_household", hs_ids[unknown], hid.to_numpy(dtype=object)[unknown]))

    reg = hh["registered_homestead_id"]
    hh_ids = hh["household_id"].to_numpy(dtype=object)
    has_reg = reg.notna().to_numpy()
    missing = has_reg & ~isin(reg, hs["homestead_id"])
    parts.append(_rows("missing_registered_homestead", hh_ids[missing],
                       reg.to_numpy(dtype=object)[missing]))
    holder = take(hid, positions(reg, hs_ids))
    other = has_reg & ~missing & (holder != hh_ids)
    parts.append(_rows("registered_homestead_of_other", hh_ids[other],
                       reg.to_numpy(dtype=object)[other]))
    without = ~isin(hh["household_id"], hid)
    parts.append(_rows("household_without_homestead", hh_ids[without]))

    geoms = hs.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    parts.append(_rows("empty_geometry", hs_ids[empty]))
    area = hs["area_m2"].to_numpy()
    sliver = ~empty & (area <= SLIVER_M2)
    parts.append(_rows("zero_area", hs_ids[sliver], value=area[sliver]))
    invalid = ~empty & ~shapely.is_valid(geoms)
    parts.append(_rows("invalid_geometry", hs_ids[invalid]))
    if overlaps:
        parts.append(_overlaps(hs))

    status = hs["status"].to_numpy(dtype=object)
    since = hs["vacant_since"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    has_since = ~np.isnan(since)
    m = (status == "vacant") & ~has_since
    parts.append(_rows("vacant_since_missing", hs_ids[m]))
    m = has_since & (since > survey_year)
    parts.append(_rows("vacant_since_future", hs_ids[m], value=since[m]))
    m = has_since & (status == "occupied")
    parts.append(_rows("occupied_with_vacant_since", hs_ids[m], value=since[m]))
    if villages is not None and len(villages) and "village_id" in villages.columns:
        m = ~isin(hs["village_id"], villages["village_id"].astype("str"))
        parts.append(_rows("unknown_village", hs_ids[m], hs["village_id"].to_numpy(object)[m]))

    out = pd.concat([p for p in parts if len(p)] or [_rows("no_household", [])],
                    ignore_index=True)
    for c in ("layer", "rule", "id", "other_id", "label_zh", "message", "treatment"):
        out[c] = out[c].astype("str")
    if len(out):
        counts = out["rule"].value_counts()
        log.warning("survey input: %s", ", ".join(f"{v} {k}" for k, v in counts.items()))
    return out


def survey_problems(homesteads, households=None, *, villages=None,
                    scenario: Scenario | str | None = None, survey_year: int | None = None,
                    overlaps: bool = True) -> pd.DataFrame:
    """Every questionable homestead and household, by id, with what the survey does with it.

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer.
    households : pandas.DataFrame, optional
        The households layer.
    villages : geopandas.GeoDataFrame, optional
        When given, homesteads of unknown villages are listed.
    scenario : Scenario, str or None
        Supplies ``plan.survey_year`` (default: the 2008 Nanhu plan).
    survey_year : int, optional
        Overrides the scenario's survey year.
    overlaps : bool
        Look for overlapping plots (the costliest check).

    Returns
    -------
    pandas.DataFrame
        One row per problem (an overlap is one row per pair): layer, rule
        (a key of :data:`PROBLEM_RULES`), id, other_id (the other plot of an
        overlap, the missing reference), value (shared m2, a year, an area),
        label_zh, message, treatment. Empty when all is well.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2", "Z3"], "household_id": ["H1", None, "H9"],
    ...      "village_id": "V1", "status": "occupied"},
    ...     geometry=[box(0, 0, 10, 10), box(5, 0, 15, 10), box(40, 0, 40, 10)],
    ...     crs="EPSG:4549")
    >>> hh = pd.DataFrame({"household_id": ["H1", "H2"], "village_id": "V1",
    ...                    "residence": "resident", "registered_homestead_id": ["Z1", "Z7"]})
    >>> survey_problems(hs, hh)[["rule", "id", "other_id", "value"]].to_numpy().tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['no_household', 'Z2', nan, nan], ['unknown_household', 'Z3', 'H9', nan],
     ['missing_registered_homestead', 'H2', 'Z7', nan],
     ['household_without_homestead', 'H2', nan, nan], ['zero_area', 'Z3', nan, 0.0],
     ['invalid_geometry', 'Z3', nan, nan], ['overlap', 'Z1', 'Z2', 50.0]]
    """
    sc = resolve_scenario(scenario)
    hs = prepare_homesteads(homesteads)
    hh = prepare_households(households)
    return _problems(hs, hh, survey_year=sc.plan["survey_year"] if survey_year is None
                     else int(survey_year), villages=villages, overlaps=overlaps)


def problem_list(problems: pd.DataFrame) -> list[Problem]:
    """The problems table as :class:`~landplan.errors.Problem` objects, one per rule.

    Handy for printing: ``print(ValidationError(problem_list(t), header=...))``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"layer": ["homesteads"] * 2, "rule": ["no_household"] * 2,
    ...                   "id": ["Z1", "Z2"]})
    >>> [(p.rule, p.rows) for p in problem_list(t)]
    [('no_household', ['Z1', 'Z2'])]
    """
    out = []
    for rule, grp in problems.groupby("rule", sort=False):
        layer, zh, message, treatment, fix = PROBLEM_RULES[rule]
        out.append(Problem(layer, rule, grp["id"].astype(str).tolist(),
                           f"{message} ({zh}); {len(grp)} case(s): {treatment}", fix))
    return out
