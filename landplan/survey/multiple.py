"""一户多宅 and 一宅超限: households holding several homesteads, and oversize plots.

A household may keep one homestead (宅基地 "一户一宅"). For a household holding
two or more, :func:`kept_homesteads` picks the plot it keeps by a configurable
rule and marks the others *surplus*; :func:`multiple_homesteads` gives one row
per household. :func:`oversize_homesteads` compares every plot with the plot
standard (一宅超限) and says by how much it exceeds it.

Keep rules (``keep_rule``), each with the same deterministic tie-breaks:

``"occupied"``
    the occupied plot; then the one at the registered address; then the
    largest; then the smallest ``homestead_id``.
``"largest"``
    the largest plot; then occupied; then registered; then smallest id.
``"registered"``
    the plot at the household's registered address
    (``households.registered_homestead_id``); a household whose registered
    plot is not among its plots falls back to ``"occupied"`` (``kept_by`` says so).

When no plot is occupied, "occupied" prefers vacant over dilapidated over
collapsed buildings.

Plot standard: Zhejiang allows 125 m2 per household on cultivated land and
140 m2 on other land (``scenario.homestead``). Homestead layers carry no
record of whether a plot was built on cultivated land, so the survey uses
the *other land* standard (140 m2) unless told ``land="cultivated"`` or
given ``standard_m2``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from ..scenario import Scenario
from ._inputs import (STATUS_RANK, as_object, positions, prepare_homesteads, prepare_households,
                      resolve_scenario, take)

__all__ = ["KEEP_RULES", "plot_standard_m2", "kept_homesteads", "multiple_homesteads",
           "oversize_homesteads"]

log = logging.getLogger(__name__)

#: The keep rules a household with several homesteads can be surveyed under.
KEEP_RULES = ("occupied", "largest", "registered")


def plot_standard_m2(scenario: Scenario | str | None = None, *, land: str = "other",
                     standard_m2: float | None = None) -> float:
    """The homestead area standard per household, m2.

    Parameters
    ----------
    scenario : Scenario, str or None
        Scenario to read the standards from (default: the 2008 Nanhu plan).
    land : {"other", "cultivated"}
        The kind of land the plots were built on: "other" (140 m2 in
        Zhejiang, the default, since homestead layers do not record it) or
        "cultivated" (125 m2).
    standard_m2 : float, optional
        An explicit standard that overrides the scenario.

    Examples
    --------
    >>> plot_standard_m2()
    140.0
    >>> plot_standard_m2(land="cultivated")
    125.0
    >>> plot_standard_m2(standard_m2=120)
    120.0
    """
    if standard_m2 is not None:
        if not standard_m2 > 0:
            raise ValueError(f"standard_m2 must be positive, got {standard_m2!r}")
        return float(standard_m2)
    if land not in ("other", "cultivated"):
        raise ValueError(f"land must be 'other' or 'cultivated', got {land!r}")
    h = resolve_scenario(scenario).homestead
    return float(h["plot_standard_other_m2" if land == "other" else "plot_standard_cultivated_m2"])


def _check_rule(keep_rule: str) -> None:
    if keep_rule not in KEEP_RULES:
        raise ValidationError([Problem("scenario", "bad_choice", ["homestead.keep_rule"],
                                       f"keep_rule {keep_rule!r} is not a keep rule",
                                       f"use one of {', '.join(KEEP_RULES)}")])


def _kept(hs: pd.DataFrame, hh: pd.DataFrame, keep_rule: str) -> pd.DataFrame:
    """Keep/surplus per homestead on prepared frames (row-aligned to ``hs``).

    Also carries ``household_pos``: the row position of the plot's household in
    ``hh`` (-1 for none or an unknown one).
    """
    _check_rule(keep_rule)
    n = len(hs)
    hpos = positions(hs["household_id"], hh["household_id"])
    known = hpos >= 0
    reg_of_plot = take(hh["registered_homestead_id"], hpos)
    hs_ids = as_object(hs["homestead_id"])
    is_reg = known & (reg_of_plot == hs_ids)
    d = pd.DataFrame({
        "pos": np.arange(n),
        "hpos": hpos,
        "status_rank": pd.Series(as_object(hs["status"])).map(STATUS_RANK).to_numpy(dtype=int),
        "reg_rank": (~is_reg).astype(int),
        "neg_area": -hs["area_m2"].to_numpy(dtype=float),
        "homestead_id": pd.Series(hs_ids, dtype=object),
    })[known]
    order = {"occupied": ["status_rank", "reg_rank", "neg_area"],
             "largest": ["neg_area", "status_rank", "reg_rank"],
             "registered": ["reg_rank", "status_rank", "neg_area"]}[keep_rule]
    d = d.sort_values(["hpos"] + order + ["homestead_id"], kind="mergesort")
    sorted_h = d["hpos"].to_numpy()
    pos = d["pos"].to_numpy()
    first = np.r_[True, sorted_h[1:] != sorted_h[:-1]] if len(d) else np.zeros(0, dtype=bool)
    count = np.bincount(hpos[known], minlength=len(hh))
    kept = np.zeros(n, dtype=bool)
    surplus = np.zeros(n, dtype=bool)
    plots = np.zeros(n, dtype=np.int64)
    kept[pos[first]] = True
    surplus[pos[~first]] = True
    plots[known] = count[hpos[known]]
    # which rule decided, per household
    kept_by = np.full(n, None, dtype=object)
    basis = np.where(plots[pos] == 1, "only_plot", keep_rule).astype(object)
    if keep_rule == "registered":
        has_reg = np.bincount(hpos[is_reg], minlength=len(hh)) > 0
        basis = np.where((plots[pos] > 1) & ~has_reg[sorted_h], "occupied (no registered plot)",
                         basis)
    kept_by[pos] = basis
    return pd.DataFrame({
        "homestead_id": hs["homestead_id"].to_numpy(),
        "household_id": hs["household_id"].to_numpy(),
        "household_pos": hpos,
        "household_plots": plots,
        "registered_plot": is_reg,
        "kept": kept,
        "surplus": surplus,
        "kept_by": pd.array(kept_by, dtype="str"),
    }, index=hs.index)


def kept_homesteads(homesteads, households, *, keep_rule: str | None = None,
                    scenario: Scenario | str | None = None) -> pd.DataFrame:
    """Which plot each household keeps, and which are surplus (一户多宅).

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer (``homestead_id``, ``household_id``, ``status``).
    households : pandas.DataFrame
        The households layer; ``registered_homestead_id`` is used when present.
        Homesteads whose household is empty or not in this table belong to no
        household: neither kept nor surplus.
    keep_rule : {"occupied", "largest", "registered"}, optional
        Default: the scenario's ``homestead.keep_rule``. See the module notes.
    scenario : Scenario, str or None
        Default: the 2008 Nanhu plan.

    Returns
    -------
    pandas.DataFrame
        Row-aligned to ``homesteads`` (same index): homestead_id, household_id,
        household_plots (the household's number of plots, 0 with no household),
        registered_plot, kept, surplus, kept_by (``"only_plot"``, the rule, or
        the fallback used).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2", "Z3"], "household_id": ["H1", "H1", None],
    ...      "village_id": "V1", "status": ["vacant", "occupied", "occupied"]},
    ...     geometry=[box(0, 0, 15, 15), box(20, 0, 30, 10), box(40, 0, 50, 10)],
    ...     crs="EPSG:4549")
    >>> hh = pd.DataFrame({"household_id": ["H1"], "village_id": ["V1"],
    ...                    "residence": ["resident"]})
    >>> k = kept_homesteads(hs, hh, keep_rule="occupied")
    >>> k[["kept", "surplus"]].to_numpy().tolist()
    [[False, True], [True, False], [False, False]]
    >>> kept_homesteads(hs, hh, keep_rule="largest")["kept"].tolist()
    [True, False, False]
    """
    sc = resolve_scenario(scenario)
    hs = prepare_homesteads(homesteads)
    hh = prepare_households(households)
    return _kept(hs, hh, keep_rule or sc.homestead["keep_rule"]).drop(columns="household_pos")


def _oversize(area: np.ndarray, standard: float) -> tuple[np.ndarray, np.ndarray]:
    excess = np.maximum(area - standard, 0.0)
    return excess > 0, excess


def oversize_homesteads(homesteads, *, scenario: Scenario | str | None = None,
                        land: str = "other", standard_m2: float | None = None) -> pd.DataFrame:
    """Homesteads over the per-household plot standard (一宅超限), and by how much.

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer.
    scenario : Scenario, str or None
        Where the standards come from (default: the 2008 Nanhu plan).
    land : {"other", "cultivated"}
        Which standard applies; see :func:`plot_standard_m2` (default "other", 140 m2).
    standard_m2 : float, optional
        An explicit standard.

    Returns
    -------
    pandas.DataFrame
        Row-aligned to ``homesteads``: homestead_id, area_m2, standard_m2,
        oversize (bool), excess_m2 (area above the standard, 0 when within).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2"], "household_id": ["H1", "H2"],
    ...      "village_id": "V1", "status": "occupied"},
    ...     geometry=[box(0, 0, 10, 20), box(20, 0, 30, 10)], crs="EPSG:4549")
    >>> oversize_homesteads(hs)[["oversize", "excess_m2"]].to_numpy().tolist()
    [[True, 60.0], [False, 0.0]]
    """
    hs = prepare_homesteads(homesteads)
    std = plot_standard_m2(scenario, land=land, standard_m2=standard_m2)
    flag, excess = _oversize(hs["area_m2"].to_numpy(), std)
    return pd.DataFrame({"homestead_id": hs["homestead_id"].to_numpy(),
                         "area_m2": hs["area_m2"].to_numpy(), "standard_m2": std,
                         "oversize": flag, "excess_m2": excess}, index=hs.index)


def _households_table(hs: pd.DataFrame, hh: pd.DataFrame, kept: pd.DataFrame,
                      standard: float) -> pd.DataFrame:
    """One row per household (row-aligned to ``hh``) from prepared frames."""
    m = len(hh)
    hpos = kept["household_pos"].to_numpy()
    known = hpos >= 0
    area = hs["area_m2"].to_numpy(dtype=float)
    is_kept = kept["kept"].to_numpy(dtype=bool)
    is_surplus = kept["surplus"].to_numpy(dtype=bool)
    ids = as_object(hs["homestead_id"])
    n = np.bincount(hpos[known], minlength=m)
    total = np.bincount(hpos[known], weights=area[known], minlength=m)
    kept_of = np.full(m, -1)
    kept_of[hpos[is_kept]] = np.flatnonzero(is_kept)
    n_surplus = np.bincount(hpos[is_surplus], minlength=m)
    surplus_area = np.bincount(hpos[is_surplus], weights=area[is_surplus], minlength=m)
    joined = np.full(m, "", dtype=object)
    if is_surplus.any():
        # sort the surplus plots by (household, id), then join each household's run
        h, sid = hpos[is_surplus], ids[is_surplus].astype(str)
        order = np.lexsort((sid, h))
        h, sid = h[order], sid[order]
        cuts = np.flatnonzero(np.r_[True, h[1:] != h[:-1], True])
        joined[h[cuts[:-1]]] = [";".join(sid[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    kept_area = np.where(kept_of >= 0, area[np.maximum(kept_of, 0)], 0.0)
    out = pd.DataFrame({"household_id": hh["household_id"].to_numpy(),
                        "village_id": hh["village_id"].to_numpy()}, index=hh.index)
    out["n_homesteads"] = n.astype("int64")
    out["multiple"] = n >= 2
    out["kept_homestead_id"] = pd.array(take(ids, kept_of), dtype="str")
    out["kept_by"] = pd.array(take(kept["kept_by"], kept_of), dtype="str")
    out["n_surplus"] = n_surplus.astype("int64")
    out["surplus_homestead_ids"] = pd.array(joined, dtype="str")
    out["homestead_area_m2"] = total
    out["kept_area_m2"] = kept_area
    out["surplus_area_m2"] = surplus_area
    out["kept_oversize"], out["kept_excess_m2"] = _oversize(kept_area, standard)
    return out


def multiple_homesteads(homesteads, households, *, keep_rule: str | None = None,
                        scenario: Scenario | str | None = None, land: str = "other",
                        standard_m2: float | None = None) -> pd.DataFrame:
    """One row per household: its homesteads, the one it keeps, the surplus (一户多宅).

    Parameters
    ----------
    homesteads : geopandas.GeoDataFrame
        The homesteads layer.
    households : pandas.DataFrame
        The households layer.
    keep_rule : {"occupied", "largest", "registered"}, optional
        Default: the scenario's ``homestead.keep_rule``; see the module notes.
    scenario : Scenario, str or None
        Default: the 2008 Nanhu plan.
    land, standard_m2
        The plot standard the kept plot is checked against; see
        :func:`plot_standard_m2`.

    Returns
    -------
    pandas.DataFrame
        Row-aligned to ``households`` (same index, every household): household_id,
        village_id, n_homesteads (0 for a household with none), multiple
        (two or more), kept_homestead_id, kept_by, n_surplus,
        surplus_homestead_ids (";"-joined, sorted), homestead_area_m2,
        kept_area_m2, surplus_area_m2, kept_oversize, kept_excess_m2.
        Filter ``table[table.multiple]`` for the 一户多宅 list.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> hs = gpd.GeoDataFrame(
    ...     {"homestead_id": ["Z1", "Z2", "Z3"], "household_id": ["H1", "H1", "H1"],
    ...      "village_id": "V1", "status": ["occupied", "vacant", "collapsed"]},
    ...     geometry=[box(0, 0, 12, 15), box(20, 0, 30, 10), box(40, 0, 50, 10)],
    ...     crs="EPSG:4549")
    >>> hh = pd.DataFrame({"household_id": ["H1", "H2"], "village_id": ["V1", "V1"],
    ...                    "residence": ["resident", "migrant"]})
    >>> t = multiple_homesteads(hs, hh)
    >>> t[["household_id", "n_homesteads", "multiple", "kept_homestead_id",
    ...    "surplus_homestead_ids", "kept_excess_m2"]].to_numpy().tolist()
    [['H1', 3, True, 'Z1', 'Z2;Z3', 40.0], ['H2', 0, False, nan, '', 0.0]]
    """
    sc = resolve_scenario(scenario)
    hs = prepare_homesteads(homesteads)
    hh = prepare_households(households)
    std = plot_standard_m2(sc, land=land, standard_m2=standard_m2)
    kept = _kept(hs, hh, keep_rule or sc.homestead["keep_rule"])
    return _households_table(hs, hh, kept, std)
