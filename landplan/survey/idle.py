"""Idle homesteads (闲置宅基地): every reason that applies, and one class per plot.

:func:`survey_homesteads` flags every homestead with every reason that applies
(one boolean column per reason, plus a ``";"``-joined ``reasons`` text) and
puts each plot in exactly one ``survey_class``; :func:`idle_homesteads` keeps
the idle ones.

Reasons (:data:`REASONS`, in the order of precedence used for
``primary_reason``):

``no_household`` 无登记农户
    the plot has no household, or one the households table does not have.
``dilapidated`` 房屋危旧或倒塌
    the building is dilapidated or collapsed.
``long_vacant`` 长期闲置
    the building is not occupied and has stood vacant for at least
    ``vacant_years`` (scenario ``homestead.idle_vacant_years``, 2 in the 2008
    plan) by the survey year (``plan.survey_year``): ``survey_year -
    vacant_since >= vacant_years``. A vacant plot without ``vacant_since`` is
    not flagged by this rule; :func:`~landplan.survey.problems.survey_problems`
    lists it.
``household_away`` 全户外出
    the household is registered but nobody lives there: residence
    ``"migrant"`` (全户外出) or ``"none"`` (户在人无).
``surplus`` 一户多宅多余
    a surplus plot of a household with several (see :mod:`landplan.survey.multiple`).

Classes (``survey_class``), in order of precedence, one per plot:

``idle``
    carries any reason other than ``surplus``; the whole plot is reclaimable.
``surplus``
    in use, but the surplus plot of a household with several; the whole plot
    is reclaimable.
``oversize``
    kept in use and larger than the plot standard (一宅超限); the excess is
    reclaimable.
``in_use``
    kept in use within the standard; nothing is reclaimable.

So ``idle`` (the boolean) is "any reason applies", i.e. class idle or surplus,
and the plots' areas summed by class give the layer's total area.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from ..scenario import Scenario
from ._inputs import prepare_homesteads, prepare_households, resolve_scenario, take
from .multiple import _kept, _oversize, plot_standard_m2

__all__ = ["REASONS", "CLASSES", "survey_homesteads", "idle_homesteads"]

log = logging.getLogger(__name__)

#: Idle reasons, in order of precedence -> Chinese label.
REASONS: dict[str, str] = {
    "no_household": "无登记农户",
    "dilapidated": "房屋危旧或倒塌",
    "long_vacant": "长期闲置",
    "household_away": "全户外出",
    "surplus": "一户多宅多余",
}
#: Survey classes, in order of precedence -> Chinese label.
CLASSES: dict[str, str] = {
    "idle": "闲置",
    "surplus": "一户多宅多余",
    "oversize": "在用超标",
    "in_use": "在用",
}
#: Residence values that make a household's plots idle (household_away).
AWAY_RESIDENCE = ("migrant", "none")


def _flags(hs: gpd.GeoDataFrame, hh: pd.DataFrame, *, vacant_years: int, survey_year: int,
           keep_rule: str, standard: float, away_residence=AWAY_RESIDENCE,
           kept: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """The flag table on prepared frames (see :func:`survey_homesteads`)."""
    if kept is None:
        kept = _kept(hs, hh, keep_rule)
    status = hs["status"].to_numpy(dtype=object)
    hpos = kept["household_pos"].to_numpy()
    known = hpos >= 0
    residence = take(hh["residence"], hpos)
    since = hs["vacant_since"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        long_vacant = (status != "occupied") & ~np.isnan(since) & \
            (survey_year - since >= vacant_years)
    reasons = {
        "no_household": ~known,
        "dilapidated": np.isin(status, ("dilapidated", "collapsed")),
        "long_vacant": long_vacant,
        "household_away": known & np.isin(residence, list(away_residence)),
        "surplus": kept["surplus"].to_numpy(dtype=bool),
    }
    area = hs["area_m2"].to_numpy(dtype=float)
    oversize, excess = _oversize(area, standard)

    out = hs.copy()
    for name, flag in reasons.items():
        out[f"reason_{name}"] = flag
    matrix = np.column_stack(list(reasons.values()))
    names = np.array(list(REASONS), dtype=object)
    zh = np.array(list(REASONS.values()), dtype=object)
    out["reasons"] = pd.array(_join_flags(matrix, names), dtype="str")
    out["reasons_zh"] = pd.array(_join_flags(matrix, zh), dtype="str")
    out["n_reasons"] = matrix.sum(axis=1).astype("int64")
    out["idle"] = matrix.any(axis=1)
    first = np.where(matrix.any(axis=1), matrix.argmax(axis=1), -1)
    out["primary_reason"] = pd.array(np.where(first >= 0, names[np.maximum(first, 0)], None),
                                     dtype="str")
    out["kept"] = kept["kept"].to_numpy(dtype=bool)
    out["household_plots"] = kept["household_plots"].to_numpy()
    out["standard_m2"] = standard
    out["oversize"] = oversize
    out["excess_m2"] = excess
    idle_own = matrix[:, :-1].any(axis=1)
    cls = np.where(idle_own, "idle",
                   np.where(reasons["surplus"], "surplus",
                            np.where(oversize, "oversize", "in_use")))
    out["survey_class"] = pd.array(cls, dtype="str")
    out["survey_class_zh"] = pd.array(pd.Series(cls).map(CLASSES).to_numpy(dtype=object),
                                      dtype="str")
    out["reclaimable_m2"] = np.where(out["idle"].to_numpy(), area,
                                     np.where(oversize, excess, 0.0))
    out["reclaim_reason"] = pd.array(
        np.where(out["idle"].to_numpy(), out["primary_reason"].to_numpy(dtype=object),
                 np.where(oversize, "oversize", None)), dtype="str")
    return out


def _join_flags(matrix: np.ndarray, names: np.ndarray) -> np.ndarray:
    """";"-joined names of the True columns of each row, without a Python loop per row."""
    out = np.full(len(matrix), "", dtype=object)
    for j, name in enumerate(names):
        col = matrix[:, j]
        sep = np.where(out[col] == "", "", ";")
        out[col] = out[col] + sep + name
    return out


def survey_homesteads(homesteads, households=None, *, scenario: Scenario | str | None = None,
                      vacant_years: int | None = None, survey_year: int | None = None,
                      keep_rule: str | None = None, land: str = "other",
                      standard_m2: float | None = None,
                      away_residence: tuple[str, ...] = AWAY_RESIDENCE) -> gpd.GeoDataFrame:
    """Flag every homestead with every idle reason, and put it in one survey class.

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer (homestead_id, household_id, village_id, status,
        optionally vacant_since). Not modified.
    households : pandas.DataFrame, optional
        The households layer (household_id, village_id, residence, optionally
        registered_homestead_id). Without it every plot has no household.
    scenario : Scenario, str or None
        Default: the 2008 Nanhu plan; supplies the defaults below.
    vacant_years : int, optional
        Years vacant that make a plot idle (``homestead.idle_vacant_years``).
    survey_year : int, optional
        The year the survey describes (``plan.survey_year``).
    keep_rule : {"occupied", "largest", "registered"}, optional
        Which plot a household with several keeps (``homestead.keep_rule``).
    land, standard_m2
        The plot standard for 一宅超限; see
        :func:`~landplan.survey.multiple.plot_standard_m2` (default: other
        land, 140 m2).
    away_residence : tuple of str
        Household residence values counted as ``household_away``.

    Returns
    -------
    geopandas.GeoDataFrame
        Row-aligned to ``homesteads`` (same index and columns, in the working
        CRS) plus: area_m2; one boolean ``reason_<name>`` per reason of
        :data:`REASONS`; reasons and reasons_zh (";"-joined); n_reasons; idle
        (any reason); primary_reason (the first reason in :data:`REASONS`
        order); kept; household_plots; standard_m2; oversize; excess_m2;
        survey_class (one of :data:`CLASSES`) and survey_class_zh (its Chinese
        label); reclaimable_m2 (the whole plot
        for idle and surplus plots, the excess for oversize ones); and
        reclaim_reason (primary_reason, or "oversize").

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2", "Z3", "Z4"],
    ...      "household_id": ["H1", "H1", None, "H2"], "village_id": "V1",
    ...      "status": ["occupied", "collapsed", "vacant", "occupied"],
    ...      "vacant_since": [None, 2001, 2007, None]},
    ...     geometry=[box(0, 0, 12, 10), box(20, 0, 30, 10), box(40, 0, 50, 10),
    ...               box(60, 0, 75, 12)], crs="EPSG:4549")
    >>> hh = pd.DataFrame({"household_id": ["H1", "H2"], "village_id": "V1",
    ...                    "residence": ["resident", "resident"]})
    >>> f = survey_homesteads(hs, hh)
    >>> f[["homestead_id", "reasons", "survey_class", "reclaimable_m2"]].to_numpy().tolist()
    [['Z1', '', 'in_use', 0.0], ['Z2', 'dilapidated;long_vacant;surplus', 'idle', 100.0], \
['Z3', 'no_household', 'idle', 100.0], ['Z4', '', 'oversize', 40.0]]
    """
    sc = resolve_scenario(scenario)
    hs = prepare_homesteads(homesteads)
    hh = prepare_households(households)
    out = _flags(hs, hh,
                 vacant_years=sc.homestead["idle_vacant_years"] if vacant_years is None
                 else int(vacant_years),
                 survey_year=sc.plan["survey_year"] if survey_year is None else int(survey_year),
                 keep_rule=keep_rule or sc.homestead["keep_rule"],
                 standard=plot_standard_m2(sc, land=land, standard_m2=standard_m2),
                 away_residence=away_residence)
    log.info("surveyed %d homesteads: %s", len(out),
             ", ".join(f"{k} {v}" for k, v in out["survey_class"].value_counts().items()))
    return out


def idle_homesteads(homesteads, households=None, **kwargs) -> gpd.GeoDataFrame:
    """The idle homesteads (闲置宅基地) with every reason that applies.

    The rows of :func:`survey_homesteads` with at least one reason (class
    ``idle`` or ``surplus``), index kept. Keyword arguments are those of
    :func:`survey_homesteads`.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2"], "household_id": ["H1", "H2"],
    ...      "village_id": "V1", "status": ["occupied", "vacant"],
    ...      "vacant_since": [None, 2005]},
    ...     geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)], crs="EPSG:4549")
    >>> hh = pd.DataFrame({"household_id": ["H1", "H2"], "village_id": "V1",
    ...                    "residence": ["resident", "migrant"]})
    >>> idle_homesteads(hs, hh)[["homestead_id", "reasons_zh"]].to_numpy().tolist()
    [['Z2', '长期闲置;全户外出']]
    """
    flags = survey_homesteads(homesteads, households, **kwargs)
    return flags[flags["idle"].to_numpy()]
