"""Helpers shared by the transfer modules: the transfer period, layers, headings.

A transfer is *in force* in year ``y`` when ``start <= y < start + term``
(a ten-year lease from 2007 covers 2007 to 2016). A parcel with a mode
but no start year is counted as in force in every year (its period is
unknown); one with a start year but no term is counted from its start on.
"""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..scenario import Scenario, load_scenario
from ..schema import LAYERS

log = logging.getLogger(__name__)

#: The transfer columns of the farmland layer, in the schema's order.
TRANSFER_COLUMNS = ("transfer_mode", "transfer_operator", "transfer_start_year",
                    "transfer_term_years", "rent_per_mu")

#: Chinese names of the transfer modes (流转方式).
MODE_ZH = {"lease": "出租", "shares": "入股", "exchange": "置换"}

#: Chinese headings of every column the transfer functions return.
HEADINGS_ZH: dict[str, str] = {
    **LAYERS["farmland"].zh_names,
    "row": "原表行号",
    "rule": "问题代码",
    "reason": "问题说明",
    "reason_zh": "问题说明(中文)",
    "area_mu": "面积(亩)",
    "area_m2": "面积(平方米)",
    "end_year": "流转截止年(不含)",
    "source": "来源",
    "town_id": "镇代码",
    "town": "镇名称",
    "village_id": "村代码",
    "village": "村名称",
    "year": "年份",
    "farmland_mu": "耕地面积(亩)",
    "parcels": "地块数",
    "parcels_transferred": "已流转地块数",
    "transferred_mu": "已流转面积(亩)",
    "transferred_share": "流转比例",
    "lease_mu": "出租(亩)",
    "shares_mu": "入股(亩)",
    "exchange_mu": "置换(亩)",
    "started_mu": "当年新增流转(亩)",
    "in_force_mu": "当年在流转(亩)",
    "target_mu": "目标(亩)",
    "target_rule": "目标规则",
    "on_track": "是否达标",
    "short_by_mu": "差额(亩)",
    "status": "进度",
    "status_zh": "进度说明",
    "block_id": "连片编号",
    "block_all": "连片编号(全部)",
    "block_operator": "连片编号(按流入方)",
    "scope": "范围",
    "operator": "流入方",
    "reaches_100_mu": "达百亩",
    "reaches_500_mu": "达五百亩",
    "rank": "走访顺序",
    "proposal_block": "拟形成连片",
    "block_mu_after": "连片流转后面积(亩)",
    "adjacent_to_transferred": "紧邻已流转地",
    "cumulative_mu": "累计面积(亩)",
    "new_mu": "新增面积(亩)",
    "existing_mu": "已流转面积(亩)",
    "new_parcels": "新增地块数",
    "holder": "持股主体",
    "collective": "集体",
    "weighted_mu": "折算面积(亩)",
    "shares": "股数",
    "share_fraction": "股份比例",
    "dividend_yuan": "分红(元)",
    "quality_weight": "质量系数",
    "households": "农户数",
}


def zh_headings(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a transfer table with Chinese column headings.

    Columns without a Chinese heading keep their name.

    Parameters
    ----------
    df : pandas.DataFrame
        Any table returned by :mod:`landplan.transfer`.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import pandas as pd
    >>> zh_headings(pd.DataFrame({"town_id": ["T1"], "transferred_mu": [3100.0]})).columns.tolist()
    ['镇代码', '已流转面积(亩)']
    """
    names = {}
    for c in df.columns:
        if c in HEADINGS_ZH:
            names[c] = HEADINGS_ZH[c]
        elif isinstance(c, str) and c.startswith("reaches_") and c.endswith("_mu"):
            names[c] = f"达{c[len('reaches_'):-3]}亩"
    return df.rename(columns=names)


def scenario_or_default(scenario: Scenario | None) -> Scenario:
    """The scenario given, or the bundled 2008 Nanhu plan."""
    return scenario if scenario is not None else load_scenario()


def plan_year(scenario: Scenario | None, year: int | None) -> int:
    """The year to evaluate transfers in: ``year``, else the scenario's plan year."""
    if year is not None:
        return int(year)
    return int(scenario_or_default(scenario).plan.get("year", 2008))


def layers_of(project: Any) -> Mapping[str, pd.DataFrame]:
    """The layers of a :class:`~landplan.project.Project` or of a plain dict."""
    return project.layers if hasattr(project, "layers") else project


def ensure_transfer_columns(farmland: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``farmland`` with every transfer column present, in the schema's dtypes."""
    out = farmland.copy()
    spec = LAYERS["farmland"]
    for name in TRANSFER_COLUMNS:
        dtype = spec.column(name).pandas_dtype
        if name not in out.columns:
            out[name] = pd.Series(pd.NA if dtype != "float64" else np.nan, index=out.index,
                                  dtype=dtype)
        elif str(out[name].dtype) != dtype:
            out[name] = out[name].astype(dtype)
    return out


def in_force(start, term, mode, year: int) -> np.ndarray:
    """Boolean array: which transfers are in force in ``year``.

    Parameters
    ----------
    start, term : array-like of int (nullable)
        Start year and term in years.
    mode : array-like of str (nullable)
        Transfer mode; a row without a mode is not transferred.
    year : int

    Examples
    --------
    >>> in_force([2007, 2007, None, 2009], [10, 1, None, 5],
    ...          ["lease", "lease", "shares", "lease"], 2008).tolist()
    [True, False, True, False]
    """
    start = pd.to_numeric(pd.Series(start, dtype="object"), errors="coerce").to_numpy(float)
    term = pd.to_numeric(pd.Series(term, dtype="object"), errors="coerce").to_numpy(float)
    has_mode = pd.Series(mode, dtype="object").notna().to_numpy()
    started = np.isnan(start) | (start <= year)
    ongoing = np.isnan(term) | np.isnan(start) | (year < start + np.nan_to_num(term))
    return has_mode & started & ongoing
