"""The 城乡建设用地增减挂钩 ledger: construction land freed against land newly taken.

For each town and the whole project area:

========================  ==========  ==========================================================
column                    heading     meaning
========================  ==========  ==========================================================
``demolished_m2``         拆旧        construction land of the households that move
``new_build_m2``          建新        land the started sites take
``reclaimable_m2``        可复垦      demolished land that can be reclaimed to farmland
``saving_quota_m2``       节余指标    demolished minus new build: the quota the plan saves
``net_new_farmland_m2``   净增耕地    reclaimed farmland minus the farmland the sites take
========================  ==========  ==========================================================

each also in mu (``*_mu``, via :func:`landplan.units.m2_to_mu`). Demolished land is counted
in the town of the hamlet, new build in the town of the site.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..units import m2_to_mu
from .plan import TOTAL

__all__ = ["ledger", "LEDGER_HEADINGS_ZH"]

_M2 = ["demolished_m2", "new_build_m2", "reclaimable_m2", "saving_quota_m2", "net_new_farmland_m2"]

#: Chinese headings of the ledger's columns (``ledger(..., chinese=True)`` applies them).
LEDGER_HEADINGS_ZH = {
    "households_moved": "搬迁户数",
    "demolished_m2": "拆旧面积(平方米)", "demolished_mu": "拆旧面积(亩)",
    "new_build_m2": "建新面积(平方米)", "new_build_mu": "建新面积(亩)",
    "reclaimable_m2": "可复垦面积(平方米)", "reclaimable_mu": "可复垦面积(亩)",
    "saving_quota_m2": "节余指标(平方米)", "saving_quota_mu": "节余指标(亩)",
    "net_new_farmland_m2": "净增耕地(平方米)", "net_new_farmland_mu": "净增耕地(亩)",
    "name": "镇名",
}


def ledger(moves: pd.DataFrame, homestead_area_m2: pd.Series, site_land_m2: pd.Series, *,
           origin_town: pd.Series | None = None, site_town: pd.Series | None = None,
           town_names=None, reclaimable_share: float = 1.0,
           new_build_on_farmland_share: float = 1.0, chinese: bool = False) -> pd.DataFrame:
    """The 增减挂钩 ledger of a plan, per town and in total.

    Parameters
    ----------
    moves : pandas.DataFrame
        The plan's moves: ``origin``, ``destination``, ``households``.
    homestead_area_m2 : pandas.Series
        Indexed by origin id: the construction land freed when that origin moves (its
        house plots, or its footprint with lanes and yards; see
        :mod:`landplan.consolidate.from_project`).
    site_land_m2 : pandas.Series
        Indexed by destination id: the land the site takes as planned (0 for a site not
        started; only sites that appear in ``moves`` are counted).
    origin_town, site_town : pandas.Series, optional
        Town of each origin and site (by id). Without them, one line for all.
    town_names : mapping, optional
        Town id -> name, added as a ``name`` column.
    reclaimable_share : float, default 1
        Share of demolished homestead land that can be reclaimed to farmland.
    new_build_on_farmland_share : float, default 1
        Share of the sites' land taken from farmland.
    chinese : bool, default False
        Use the Chinese headings of :data:`LEDGER_HEADINGS_ZH`.

    Returns
    -------
    pandas.DataFrame
        Indexed by town, with a last row ``"(total)"``; columns ``households_moved`` and,
        in m2 and mu, demolished (拆旧), new build (建新), reclaimable, saving quota
        (= demolished - new build) and net new farmland
        (= reclaimable - new build on farmland).

    Examples
    --------
    >>> import pandas as pd
    >>> moves = pd.DataFrame({"origin": ["h1", "h2"], "destination": ["S1", "S1"],
    ...                       "households": [30, 25]})
    >>> area = pd.Series({"h1": 9000.0, "h2": 7000.0, "h3": 5000.0})
    >>> land = pd.Series({"S1": 55 * 125 / 0.7})
    >>> t = ledger(moves, area, land, origin_town=pd.Series({"h1": "T1", "h2": "T1", "h3": "T1"}),
    ...            site_town=pd.Series({"S1": "T1"}))
    >>> t.loc["(total)", ["demolished_m2", "new_build_m2", "saving_quota_m2"]].round(1).tolist()
    [16000.0, 9821.4, 6178.6]
    >>> round(float(t.loc["T1", "saving_quota_mu"]), 2)
    9.27
    """
    moves = moves if len(moves) else pd.DataFrame(columns=["origin", "destination", "households"])
    origins = moves["origin"].astype(str)
    area = pd.Series(homestead_area_m2, dtype=float)
    area.index = area.index.astype(str)
    land = pd.Series(site_land_m2, dtype=float)
    land.index = land.index.astype(str)
    missing = sorted(set(origins) - set(area.index))
    if missing:
        raise ValueError(f"no homestead area for moved origins: {', '.join(missing[:10])}")
    o_town = (origins.map(_strindex(origin_town)) if origin_town is not None
              else pd.Series(TOTAL, index=moves.index))
    demolished = pd.Series(area.reindex(origins).to_numpy(), index=moves.index)
    started = pd.unique(moves["destination"].astype(str))
    nb_missing = sorted(set(started) - set(land.index))
    if nb_missing:
        raise ValueError(f"no land take for started sites: {', '.join(nb_missing[:10])}")
    s_land = land.reindex(started)
    s_town = (pd.Series(started, index=started).map(_strindex(site_town))
              if site_town is not None else pd.Series(TOTAL, index=started))

    out = pd.DataFrame({
        "households_moved": pd.Series(moves["households"].to_numpy(dtype=float),
                                      index=moves.index).groupby(o_town).sum(),
        "demolished_m2": demolished.groupby(o_town).sum(),
    })
    nb = pd.Series(s_land.to_numpy(), index=started).groupby(s_town.to_numpy()).sum()
    out = out.join(nb.rename("new_build_m2"), how="outer")
    if origin_town is not None:
        all_towns = pd.unique(pd.Series(_strindex(origin_town)).astype(object))
        out = out.reindex(pd.Index(sorted(set(out.index) | set(all_towns), key=str)))
    out = out.fillna(0.0)
    out["reclaimable_m2"] = out["demolished_m2"] * reclaimable_share
    out["saving_quota_m2"] = out["demolished_m2"] - out["new_build_m2"]
    out["net_new_farmland_m2"] = out["reclaimable_m2"] - out["new_build_m2"] * new_build_on_farmland_share
    if origin_town is not None or site_town is not None:
        total = out.sum()
        out.index = out.index.astype(object)
        out.loc[TOTAL] = total
    out.index.name = "town"
    for c in _M2:
        out[c.replace("_m2", "_mu")] = m2_to_mu(out[c].to_numpy())
    if np.allclose(out["households_moved"], np.round(out["households_moved"])):
        out["households_moved"] = np.round(out["households_moved"]).astype(np.int64)
    cols = ["households_moved"] + [c for pair in zip(_M2, [c.replace("_m2", "_mu") for c in _M2])
                                   for c in pair]
    out = out[cols]
    if town_names:
        out.insert(0, "name", [town_names.get(t, t) for t in out.index])
    if chinese:
        out = out.rename(columns=LEDGER_HEADINGS_ZH)
        out.index.name = "镇"
    return out


def _strindex(s) -> pd.Series:
    s = pd.Series(s)
    s.index = s.index.astype(str)
    return s
