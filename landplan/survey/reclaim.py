"""Reclaimable construction land (可复垦/可腾退面积) per hamlet, village and town.

The area a plot frees is set by its survey class (see :mod:`landplan.survey.idle`):
the whole plot for idle and surplus plots, the excess over the standard for
oversize plots in use, nothing for plots in use within the standard. The
split by reason uses each plot's *primary* reason (the first applying reason
in :data:`~landplan.survey.idle.REASONS` order) and ``oversize`` for
excesses, so the reason columns add up to the total without counting a plot
twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..units import m2_to_mu
from ._inputs import as_object, filled_ids, group_first, lookup, village_towns
from .idle import REASONS

__all__ = ["RECLAIM_REASONS", "reclaimable_area"]

#: Reasons reclaimable area is split by -> Chinese label.
RECLAIM_REASONS: dict[str, str] = {**REASONS, "oversize": "一宅超限超出部分"}
_LEVELS = {"hamlet": "hamlet_id", "village": "village_id", "town": "town_id"}


def reclaimable_area(flags: pd.DataFrame, *, by: str = "village", villages=None,
                     unit: str = "both") -> pd.DataFrame:
    """Reclaimable homestead area per hamlet, village or town, split by reason.

    Parameters
    ----------
    flags : pandas.DataFrame
        The homestead flags of :func:`~landplan.survey.idle.survey_homesteads`
        (with ``hamlet_id`` for ``by="hamlet"``, as
        :func:`~landplan.survey.survey_project` gives them).
    by : {"hamlet", "village", "town"}
        The level to total at.
    villages : pandas.DataFrame, optional
        village_id -> town_id; needed for ``by="town"`` unless ``flags`` has
        a ``town_id`` column.
    unit : {"both", "m2", "mu"}
        Area columns in m2, in mu (亩), or both.

    Returns
    -------
    pandas.DataFrame
        One row per unit at that level (every unit with a homestead, including
        those with nothing reclaimable), indexed by its id, sorted; columns
        ``town_id``/``village_id`` above the level, homesteads (plots), reclaimable
        (plots that free land), ``<reason>_m2`` for each of
        :data:`RECLAIM_REASONS`, ``total_m2``, ``homestead_area_m2`` (all plots)
        and the same in ``_mu``. Plots whose unit is unknown (no hamlet, no
        town) are totalled under the id ``"(none)"``.

    Examples
    --------
    >>> import pandas as pd
    >>> flags = pd.DataFrame({
    ...     "village_id": ["V1", "V1", "V2"], "area_m2": [150.0, 100.0, 120.0],
    ...     "survey_class": ["oversize", "idle", "in_use"],
    ...     "reclaim_reason": ["oversize", "long_vacant", None],
    ...     "reclaimable_m2": [10.0, 100.0, 0.0]})
    >>> t = reclaimable_area(flags, by="village", unit="m2")
    >>> t[["homesteads", "reclaimable", "long_vacant_m2", "oversize_m2", "total_m2"]]
    ...     # doctest: +NORMALIZE_WHITESPACE
                homesteads  reclaimable  long_vacant_m2  oversize_m2  total_m2
    village_id
    V1                   2            2           100.0         10.0     110.0
    V2                   1            0             0.0          0.0       0.0
    """
    if by not in _LEVELS:
        raise ValueError(f"by must be one of {', '.join(_LEVELS)}, got {by!r}")
    if unit not in ("both", "m2", "mu"):
        raise ValueError(f"unit must be 'both', 'm2' or 'mu', got {unit!r}")
    key = _LEVELS[by]
    need = ["area_m2", "reclaimable_m2", "reclaim_reason", "village_id"]
    missing = [c for c in need if c not in flags.columns]
    if by == "hamlet" and "hamlet_id" not in flags.columns:
        missing.append("hamlet_id")
    if missing:
        raise ValueError(f"flags lack column(s) {', '.join(missing)}; pass the output of "
                         "survey_homesteads (or SurveyResult.homesteads for hamlets)")
    village = filled_ids(flags["village_id"])
    if "town_id" in flags.columns:
        town = filled_ids(flags["town_id"])
    else:
        town = filled_ids(lookup(village, village_towns(villages)))
    levels = {"village_id": village, "town_id": town}
    if by == "hamlet":
        levels["hamlet_id"] = filled_ids(flags["hamlet_id"])
    codes, uniq = pd.factorize(levels[key], sort=True)
    n = len(uniq)
    first = group_first(codes, n)
    rec = flags["reclaimable_m2"].to_numpy(dtype=float)
    area = flags["area_m2"].to_numpy(dtype=float)
    out = pd.DataFrame(index=pd.Index(pd.array(uniq, dtype="str"), name=key))
    for c in {"hamlet": ["town_id", "village_id"], "village": ["town_id"], "town": []}[by]:
        out[c] = pd.array(levels[c][first], dtype="str")
    out["homesteads"] = np.bincount(codes, minlength=n).astype("int64")
    out["reclaimable"] = np.bincount(codes, weights=rec > 0, minlength=n).astype("int64")
    reason = as_object(flags["reclaim_reason"])
    for r in RECLAIM_REASONS:
        m = reason == r
        out[f"{r}_m2"] = np.bincount(codes[m], weights=rec[m], minlength=n)
    out["total_m2"] = np.bincount(codes, weights=rec, minlength=n)
    out["homestead_area_m2"] = np.bincount(codes, weights=area, minlength=n)
    area_cols = [f"{r}_m2" for r in RECLAIM_REASONS] + ["total_m2", "homestead_area_m2"]
    if unit in ("both", "mu"):
        for c in area_cols:
            out[c[:-3] + "_mu"] = m2_to_mu(out[c].to_numpy())
    if unit == "mu":
        out = out.drop(columns=area_cols)
    return out
