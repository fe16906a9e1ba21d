"""Survey summary tables per town and village, in the form a township report uses.

One row per town (or per village, grouped by town) and a total row, with the
figures a 闲置宅基地和"一户多宅"调查 report gives: households, homesteads and
their area, plots by survey class (which add up to the homesteads), the
reasons among them (a plot can carry several), 一户多宅 households, 一宅超限
plots and the reclaimable area in mu. ``zh=True`` gives the Chinese headings
of :data:`SUMMARY_HEADINGS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..units import m2_to_mu
from ._inputs import as_object, filled_ids, group_first, lookup, village_towns
from ..schema import LAYERS
from .idle import REASONS
from .reclaim import RECLAIM_REASONS

__all__ = ["SUMMARY_HEADINGS", "SURVEY_HEADINGS", "survey_summary", "zh_headings"]

#: English column -> Chinese heading of the summary tables.
SUMMARY_HEADINGS: dict[str, str] = {
    "town_id": "镇代码",
    "town": "镇",
    "village_id": "村代码",
    "village": "行政村",
    "households": "农户数(户)",
    "multiple_households": "一户多宅(户)",
    "homesteads": "宅基地(宗)",
    "homestead_area_mu": "宅基地面积(亩)",
    "in_use": "在用(宗)",
    "oversize": "在用超标(宗)",
    "surplus": "一户多宅多余(宗)",
    "idle": "闲置(宗)",
    **{f"reason_{k}": f"其中{v}(宗)" for k, v in REASONS.items()},
    "idle_area_mu": "闲置面积(亩)",
    "surplus_area_mu": "一户多宅多余面积(亩)",
    "oversize_excess_m2": "超标面积(平方米)",
    "oversize_excess_mu": "超标面积(亩)",
    "reclaimable_mu": "可腾退面积合计(亩)",
}
#: Chinese headings of the columns the survey adds to homesteads, households and hamlets.
SURVEY_HEADINGS: dict[str, str] = {
    "area_m2": "面积(平方米)",
    **{f"reason_{k}": v for k, v in REASONS.items()},
    "reasons": "闲置原因",
    "reasons_zh": "闲置原因(中文)",
    "n_reasons": "原因数",
    "idle": "闲置",
    "primary_reason": "主要原因",
    "kept": "保留宅基地",
    "household_plots": "该户宅基地宗数",
    "standard_m2": "面积标准(平方米)",
    "oversize": "一宅超限",
    "excess_m2": "超标面积(平方米)",
    "survey_class": "调查分类",
    "survey_class_zh": "调查分类(中文)",
    "reclaimable_m2": "可腾退面积(平方米)",
    "reclaim_reason": "腾退原因",
    "hamlet_id": "自然村编号",
    "n_homesteads": "宅基地宗数",
    "multiple": "一户多宅",
    "kept_homestead_id": "保留宅基地编号",
    "kept_by": "保留依据",
    "n_surplus": "多余宅基地宗数",
    "surplus_homestead_ids": "多余宅基地编号",
    "homestead_area_m2": "宅基地面积(平方米)",
    "kept_area_m2": "保留宅基地面积(平方米)",
    "surplus_area_m2": "多余宅基地面积(平方米)",
    "kept_oversize": "保留宅基地超标",
    "kept_excess_m2": "保留宅基地超标面积(平方米)",
    "households_willing": "愿意搬迁户数",
    "retained": "保留村庄",
    "homesteads": "宅基地(宗)",
    "reclaimable": "可腾退宅基地(宗)",
    "total_m2": "可腾退面积合计(平方米)",
    "total_mu": "可腾退面积合计(亩)",
    **{f"{k}_m2": f"{v}(平方米)" for k, v in RECLAIM_REASONS.items()},
    **{f"{k}_mu": f"{v}(亩)" for k, v in RECLAIM_REASONS.items()},
    "homestead_area_mu": "宅基地面积(亩)",
}
_TOTAL = {"en": "Total", "zh": "合计"}


def zh_headings(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a survey table with Chinese column headings (and index name).

    Knows the survey's own columns (:data:`SURVEY_HEADINGS`,
    :data:`SUMMARY_HEADINGS`) and the layers' columns
    (:data:`landplan.schema.LAYERS`); other columns and the geometry keep their names.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"homestead_id": ["Z1"], "survey_class": ["idle"],
    ...                   "reason_long_vacant": [True]})
    >>> zh_headings(t).columns.tolist()
    ['宅基地编号', '调查分类', '长期闲置']
    """
    names: dict[str, str] = {}
    for spec in LAYERS.values():
        for c in spec.columns:
            names.setdefault(c.name, c.zh)
    names.update(SURVEY_HEADINGS)
    names.update({k: v for k, v in SUMMARY_HEADINGS.items() if k not in SURVEY_HEADINGS})
    names["households"] = "农户数(户)"
    geometry = getattr(df, "_geometry_column_name", None)
    rename = {c: names[c] for c in df.columns if c in names and c != geometry}
    out = df.rename(columns=rename)
    if df.index.name in names:
        out.index = out.index.rename(names[df.index.name])
    return out


def survey_summary(flags: pd.DataFrame, households: pd.DataFrame | None = None, *,
                   by: str = "town", villages: pd.DataFrame | None = None,
                   towns: pd.DataFrame | None = None, zh: bool = False) -> pd.DataFrame:
    """Survey summary per town or village, with a total row.

    Parameters
    ----------
    flags : pandas.DataFrame
        The homestead flags of :func:`~landplan.survey.idle.survey_homesteads`.
    households : pandas.DataFrame, optional
        The household table of :func:`~landplan.survey.multiple.multiple_homesteads`
        (or the households layer: ``multiple_households`` is then 0). Without
        it the household columns are 0.
    by : {"town", "village"}
        One row per town, or per village (sorted by town).
    villages, towns : pandas.DataFrame, optional
        The villages (village_id -> town_id, name) and towns (town_id, name)
        layers, for the names and the town of each village.
    zh : bool
        Chinese headings (:data:`SUMMARY_HEADINGS`) and "合计" for the total row.

    Returns
    -------
    pandas.DataFrame
        One row per unit and a last total row. The class columns in_use,
        oversize, surplus and idle add up to homesteads; the ``reason_*``
        columns count plots with each reason (a plot may count under several).

    Examples
    --------
    >>> import pandas as pd
    >>> flags = pd.DataFrame({
    ...     "village_id": ["V1", "V1", "V2"], "area_m2": [150.0, 100.0, 120.0],
    ...     "survey_class": ["oversize", "idle", "in_use"],
    ...     "reason_no_household": [False, False, False],
    ...     "reason_dilapidated": [False, True, False],
    ...     "reason_long_vacant": [False, True, False],
    ...     "reason_household_away": [False, False, False],
    ...     "reason_surplus": [False, True, False],
    ...     "excess_m2": [10.0, 0.0, 0.0], "reclaimable_m2": [10.0, 100.0, 0.0]})
    >>> villages = pd.DataFrame({"village_id": ["V1", "V2"], "town_id": ["T1", "T1"],
    ...                          "name": ["竹林村", "东港村"]})
    >>> towns = pd.DataFrame({"town_id": ["T1"], "name": ["新丰镇"]})
    >>> t = survey_summary(flags, by="village", villages=villages, towns=towns, zh=True)
    >>> t[["镇", "行政村", "宅基地(宗)", "闲置(宗)", "其中房屋危旧或倒塌(宗)"]].to_numpy().tolist()
    [['新丰镇', '竹林村', 2, 1, 1], ['新丰镇', '东港村', 1, 0, 0], ['合计', '', 3, 1, 1]]
    """
    if by not in ("town", "village"):
        raise ValueError(f"by must be 'town' or 'village', got {by!r}")
    v2t = village_towns(villages)
    vnames = _names(villages, "village_id")
    tnames = _names(towns, "town_id")
    fv = filled_ids(flags["village_id"])
    ft = filled_ids(flags["town_id"] if "town_id" in flags.columns else lookup(fv, v2t))
    if households is not None and len(households):
        hv = filled_ids(households["village_id"])
        ht = filled_ids(lookup(hv, v2t))
        multi = (households["multiple"].to_numpy(dtype=bool) if "multiple" in households.columns
                 else np.zeros(len(households), dtype=bool))
    else:
        hv = ht = np.array([], dtype=object)
        multi = np.zeros(0, dtype=bool)
    town_all = np.r_[ft, ht]
    key_all = town_all if by == "town" else np.r_[fv, hv]
    codes, uniq = pd.factorize(key_all, sort=True)
    n = len(uniq)
    town_of = town_all[group_first(codes, n)]
    cf, ch = codes[:len(fv)], codes[len(fv):]
    order = np.lexsort((np.asarray(uniq, dtype=str), town_of.astype(str)))

    def count(mask, c=cf):
        return np.bincount(c[mask], minlength=n)[order].astype("int64")

    def total(weights, mask=None, c=cf):
        m = np.ones(len(c), dtype=bool) if mask is None else mask
        return np.bincount(c[m], weights=weights[m], minlength=n)[order]

    cls = as_object(flags["survey_class"])
    area = flags["area_m2"].to_numpy(dtype=float)
    out = pd.DataFrame({"town_id": pd.array(town_of[order], dtype="str")})
    out["town"] = pd.array(_named(town_of[order], tnames), dtype="str")
    if by == "village":
        out["village_id"] = pd.array(uniq[order], dtype="str")
        out["village"] = pd.array(_named(uniq[order], vnames), dtype="str")
    out["households"] = count(np.ones(len(ch), dtype=bool), ch)
    out["multiple_households"] = count(multi, ch)
    out["homesteads"] = count(np.ones(len(cf), dtype=bool))
    out["homestead_area_mu"] = m2_to_mu(total(area))
    for c in ("in_use", "oversize", "surplus", "idle"):
        out[c] = count(cls == c)
    for r in REASONS:
        out[f"reason_{r}"] = count(flags[f"reason_{r}"].to_numpy(dtype=bool))
    out["idle_area_mu"] = m2_to_mu(total(area, cls == "idle"))
    out["surplus_area_mu"] = m2_to_mu(total(area, cls == "surplus"))
    excess = total(flags["excess_m2"].to_numpy(dtype=float), cls == "oversize")
    out["oversize_excess_m2"] = excess
    out["oversize_excess_mu"] = m2_to_mu(excess)
    out["reclaimable_mu"] = m2_to_mu(total(flags["reclaimable_m2"].to_numpy(dtype=float)))

    total = out.drop(columns=[c for c in ("town_id", "town", "village_id", "village")
                              if c in out.columns]).sum()
    label = _TOTAL["zh" if zh else "en"]
    total_row = {"town_id": "", "town": label, **({"village_id": "", "village": ""}
                                                   if by == "village" else {}), **total}
    out = pd.concat([out, pd.DataFrame([total_row])], ignore_index=True)
    for c in out.columns:
        if c in ("town_id", "town", "village_id", "village"):
            out[c] = out[c].astype("str")
        elif c.endswith(("_mu", "_m2")):
            out[c] = out[c].astype(float)
        else:
            out[c] = out[c].astype("int64")
    if zh:
        out = out.rename(columns=SUMMARY_HEADINGS)
    return out


def _named(ids: np.ndarray, names: pd.Series) -> np.ndarray:
    """Names of ``ids``, the id itself where no name is known."""
    found = lookup(ids, names)
    return np.where(pd.isna(found), ids, found).astype(object)


def _names(layer: pd.DataFrame | None, key: str) -> pd.Series:
    if layer is None or len(layer) == 0 or "name" not in layer.columns:
        return pd.Series(dtype="str")
    d = layer[[key, "name"]].astype("str").drop_duplicates(key)
    return pd.Series(d["name"].to_numpy(), index=d[key].to_numpy())
