"""Transfer progress per town and village, against the scenario's targets.

The 2008 plan (三、3) asks 凤桥镇 and 七星镇 to transfer more than 5,000 mu
each (突破, scenario rule ``"exceed"``: strictly above) and 新丰镇, 余新镇 and
大桥镇 at least 3,000 mu each (以上, rule ``"at_least"``). Progress counts the
surveyed (geometry) area of the parcels whose transfer is in force in the
year asked (``start <= year < start + term``), once per parcel.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import box
>>> towns = pd.DataFrame({"town_id": ["T1", "T2"], "name": ["新丰镇", "凤桥镇"]})
>>> villages = pd.DataFrame({"village_id": ["V1", "V2"], "town_id": ["T1", "T2"],
...                          "name": ["竹林村", "凤桥村"]})
>>> farmland = gpd.GeoDataFrame(                       # four parcels of 1,500 mu each
...     {"parcel_id": ["P1", "P2", "P3", "P4"], "village_id": ["V1", "V1", "V2", "V2"],
...      "transfer_mode": ["lease", "shares", "lease", None],
...      "transfer_operator": ["合作社", "合作社", "大户", None],
...      "transfer_start_year": [2007, 2008, 2008, None], "transfer_term_years": [10, 10, 1, None]},
...     geometry=[box(x, 0, x + 1000, 1000) for x in (0, 1000, 2000, 3000)], crs="EPSG:4549")
>>> layers = {"towns": towns, "villages": villages, "farmland": farmland}
>>> p = transfer_progress(layers)
>>> p[["town", "transferred_mu", "target_mu", "on_track", "short_by_mu"]]
          town  transferred_mu  target_mu  on_track  short_by_mu
town_id
T1         新丰镇          3000.0     3000.0      True          0.0
T2         凤桥镇          1500.0     5000.0     False       3500.0
>>> print(p.loc["T2", "status"])
short by 3,500.0 mu (1,500.0 of more than 5,000 mu)
>>> float(transfer_progress(layers, year=2009).loc["T2", "transferred_mu"])  # 1-year lease ended
0.0
"""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..scenario import Scenario
from ..units import m2_to_mu
from ._common import in_force, layers_of, plan_year, scenario_or_default
from .records import records_from_farmland

__all__ = ["transfer_progress", "progress_by_year", "parcel_transfer_state"]

log = logging.getLogger(__name__)


def _modes(scenario: Scenario) -> list[str]:
    return list(scenario.transfer.get("modes", ["lease", "shares", "exchange"]))


def parcel_transfer_state(farmland: pd.DataFrame, *, year: int | None = None,
                          records: pd.DataFrame | None = None,
                          scenario: Scenario | None = None) -> pd.DataFrame:
    """Per parcel: its area and the transfer in force in ``year`` (if any).

    Parameters
    ----------
    farmland : pandas.DataFrame
        The farmland layer (with geometry).
    year : int, optional
        Default the scenario's plan year (2008).
    records : pandas.DataFrame, optional
        Transfer history, one row per transfer (``TransferImport.records``);
        default the transfers held in the layer's columns.
    scenario : Scenario, optional

    Returns
    -------
    pandas.DataFrame
        Row-aligned to ``farmland``: parcel_id, village_id, household_id,
        area_m2, area_mu, transferred, transfer_mode, transfer_operator,
        transfer_start_year, transfer_term_years, rent_per_mu (of the transfer
        in force; missing otherwise). If several records are in force for one
        parcel, the latest start counts (the parcel's area is counted once).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = gpd.GeoDataFrame({"parcel_id": ["P1", "P2"], "village_id": ["V1", "V1"],
    ...                       "transfer_mode": ["lease", "lease"], "transfer_operator": ["甲", "乙"],
    ...                       "transfer_start_year": [2001, 2009], "transfer_term_years": [5, 5]},
    ...                      geometry=[box(0, 0, 20, 100), box(20, 0, 40, 100)], crs="EPSG:4549")
    >>> s = parcel_transfer_state(f, year=2010)
    >>> s[["parcel_id", "area_mu", "transferred", "transfer_operator"]]
      parcel_id  area_mu  transferred transfer_operator
    0        P1      3.0        False               NaN
    1        P2      3.0         True                 乙
    """
    year = plan_year(scenario, year)
    rec = records_from_farmland(farmland) if records is None else records
    rec = rec[in_force(rec["transfer_start_year"], rec["transfer_term_years"],
                       rec["transfer_mode"], year)]
    rec = rec.sort_values("transfer_start_year", kind="stable", na_position="first")
    rec = rec.drop_duplicates("parcel_id", keep="last")
    ids = farmland["parcel_id"].astype("str")
    area = np.asarray(farmland.geometry.area, dtype=float)
    out = pd.DataFrame({"parcel_id": ids, "village_id": farmland["village_id"].astype("str"),
                        "household_id": farmland["household_id"].astype("str")
                        if "household_id" in farmland.columns else pd.NA,
                        "area_m2": area, "area_mu": m2_to_mu(area)}, index=farmland.index)
    # one positional lookup of every parcel in the records, then takes
    where = pd.Index(rec["parcel_id"].astype("str").to_numpy(dtype=object)).get_indexer(
        ids.to_numpy(dtype=object))
    out["transferred"] = where >= 0
    for col in ("transfer_mode", "transfer_operator", "transfer_start_year",
                "transfer_term_years", "rent_per_mu"):
        out[col] = pd.Series(rec[col].array.take(where, allow_fill=True), index=out.index)
    return out


def transfer_progress(project: Any, *, level: str = "town", year: int | None = None,
                      records: pd.DataFrame | None = None,
                      scenario: Scenario | None = None) -> pd.DataFrame:
    """Transferred area per town (or village) in mu, its share, by mode, against targets.

    Parameters
    ----------
    project : Project or dict
        A :class:`~landplan.project.Project` or a dict of layers with
        ``farmland``, ``villages`` and ``towns``.
    level : {"town", "village"}
    year : int, optional
        Count transfers in force in this year; default the plan year (2008).
    records : pandas.DataFrame, optional
        Transfer history (``TransferImport.records``); default the layer's own.
    scenario : Scenario, optional
        Gives the modes and the per-town targets; default the 2008 plan.

    Returns
    -------
    pandas.DataFrame
        Index ``town_id`` (or ``village_id``), one row per town (village), also
        those without farmland. Columns: ``town`` (the town's name; for
        villages ``town_id`` and ``village``), ``parcels``, ``farmland_mu``,
        ``parcels_transferred``,
        ``transferred_mu``, ``transferred_share`` (of the farmland area), one
        ``<mode>_mu`` per mode, and for towns ``target_mu``, ``target_rule``,
        ``on_track``, ``short_by_mu`` (0 when on track; missing without a
        target), ``status`` and ``status_zh`` (a plain sentence each).
        :func:`~landplan.transfer.zh_headings` gives Chinese headings.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> towns = pd.DataFrame({"town_id": ["T1"], "name": ["余新镇"]})
    >>> villages = pd.DataFrame({"village_id": ["V1", "V2"], "town_id": ["T1", "T1"],
    ...                          "name": ["金星村", "曹庄村"]})
    >>> farmland = gpd.GeoDataFrame(
    ...     {"parcel_id": ["P1", "P2", "P3"], "village_id": ["V1", "V1", "V2"],
    ...      "transfer_mode": ["lease", "exchange", None], "transfer_operator": ["甲", "乙", None],
    ...      "transfer_start_year": [2008, 2006, None], "transfer_term_years": [5, 20, None]},
    ...     geometry=[box(x, 0, x + 1000, 1000) for x in (0, 1000, 2000)], crs="EPSG:4549")
    >>> layers = {"towns": towns, "villages": villages, "farmland": farmland}
    >>> transfer_progress(layers, level="village")[["farmland_mu", "transferred_share", "lease_mu",
    ...                                             "exchange_mu"]]
                farmland_mu  transferred_share  lease_mu  exchange_mu
    village_id
    V1               3000.0                1.0    1500.0       1500.0
    V2               1500.0                0.0       0.0          0.0
    >>> print(transfer_progress(layers).loc["T1", "status_zh"])
    已达标（已流转 3,000.0 亩，目标 3,000 亩以上）
    """
    if level not in ("town", "village"):
        raise ValueError(f"level must be 'town' or 'village', not {level!r}")
    scenario = scenario_or_default(scenario)
    year = plan_year(scenario, year)
    layers = layers_of(project)
    farmland, villages, towns = layers["farmland"], layers["villages"], layers["towns"]
    state = parcel_transfer_state(farmland, year=year, records=records, scenario=scenario)
    vt = villages.set_index(villages["village_id"].astype("str"))["town_id"].astype("str")
    state["town_id"] = state["village_id"].map(vt)
    key = "town_id" if level == "town" else "village_id"
    modes = _modes(scenario)
    g = state.groupby(key)
    out = pd.DataFrame({
        "parcels": g.size(),
        "farmland_mu": g["area_mu"].sum(),
        "parcels_transferred": g["transferred"].sum(),
        "transferred_mu": state["area_mu"].where(state["transferred"], 0.0)
        .groupby(state[key]).sum(),
    })
    for m in modes:
        out[f"{m}_mu"] = state["area_mu"].where(state["transfer_mode"] == m, 0.0) \
            .groupby(state[key]).sum()
    units = (towns if level == "town" else villages)
    index = pd.Index(units[key].astype("str"), name=key)
    out = out.reindex(index)
    for c in out.columns:
        out[c] = out[c].fillna(0)
    out["parcels"] = out["parcels"].astype("int64")
    out["parcels_transferred"] = out["parcels_transferred"].astype("int64")
    share = out["transferred_mu"] / out["farmland_mu"].where(out["farmland_mu"] > 0)
    out.insert(out.columns.get_loc("transferred_mu") + 1, "transferred_share", share)
    names = units.set_index(units[key].astype("str"))["name"].astype("str")
    out.insert(0, "town" if level == "town" else "village", names.reindex(index).to_numpy())
    if level == "village":
        out.insert(0, "town_id", vt.reindex(index).to_numpy())
        out["town_id"] = out["town_id"].astype("str")
        return out
    rules = scenario.town_rules(towns)
    target, rule, on_track, short, status, status_zh = [], [], [], [], [], []
    for tid, row in out.iterrows():
        r = rules.get(tid)
        t = r.transfer_target_mu if r is not None else None
        got = float(row["transferred_mu"])
        if t is None:
            target.append(np.nan), rule.append(None), on_track.append(pd.NA)
            short.append(np.nan)
            status.append(f"no target ({got:,.1f} mu transferred)")
            status_zh.append(f"无目标（已流转 {got:,.1f} 亩）")
            continue
        met = r.target_met(got)
        words = "more than" if r.transfer_target_rule == "exceed" else "at least"
        words_zh = "突破" if r.transfer_target_rule == "exceed" else "以上"
        target.append(float(t)), rule.append(r.transfer_target_rule), on_track.append(met)
        gap = 0.0 if met else max(float(t) - got, 0.0)
        short.append(gap)
        if met:
            status.append(f"on track ({got:,.1f} mu, target {words} {t:,.0f} mu)")
            status_zh.append(f"已达标（已流转 {got:,.1f} 亩，目标 {t:,.0f} 亩{words_zh}）")
        elif gap > 0:
            status.append(f"short by {gap:,.1f} mu ({got:,.1f} of {words} {t:,.0f} mu)")
            status_zh.append(f"差 {gap:,.1f} 亩（已流转 {got:,.1f} 亩，目标 {t:,.0f} 亩{words_zh}）")
        else:
            status.append(f"short: {got:,.1f} mu must exceed {t:,.0f} mu")
            status_zh.append(f"未达标：已流转 {got:,.1f} 亩，须突破 {t:,.0f} 亩")
    out["target_mu"] = np.array(target, dtype=float)
    out["target_rule"] = pd.array(rule, dtype="str")
    out["on_track"] = pd.array(on_track, dtype="boolean")
    out["short_by_mu"] = np.array(short, dtype=float)
    out["status"] = pd.array(status, dtype="str")
    out["status_zh"] = pd.array(status_zh, dtype="str")
    log.info("transfer progress %d: %s", year, "; ".join(
        f"{n} {m:,.0f} mu" for n, m in zip(out["town"], out["transferred_mu"])))
    return out


def progress_by_year(project: Any, *, level: str = "town", years: Iterable[int] | None = None,
                     records: pd.DataFrame | None = None,
                     scenario: Scenario | None = None) -> pd.DataFrame:
    """Transfers year by year: area newly started and area in force, per mode.

    Parameters
    ----------
    project : Project or dict
        With ``farmland``, ``villages`` and ``towns``.
    level : {"town", "village"}
    years : iterable of int, optional
        Default from the earliest start year in the records to the plan year.
    records : pandas.DataFrame, optional
        Transfer history (``TransferImport.records``); default the layer's own
        transfers (one per parcel, so earlier transfers of a parcel are missing).
    scenario : Scenario, optional

    Returns
    -------
    pandas.DataFrame
        One row per town (village) and year: ``town_id`` (``village_id``),
        ``year``, ``started_mu`` (transfers whose term starts that year),
        ``in_force_mu`` and ``<mode>_mu`` in force; for towns also
        ``target_mu`` and ``on_track``.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> towns = pd.DataFrame({"town_id": ["T1"], "name": ["大桥镇"]})
    >>> villages = pd.DataFrame({"village_id": ["V1"], "town_id": ["T1"], "name": ["亭桥村"]})
    >>> farmland = gpd.GeoDataFrame(
    ...     {"parcel_id": ["P1", "P2"], "village_id": ["V1", "V1"],
    ...      "transfer_mode": ["lease", "shares"], "transfer_operator": ["甲", "乙"],
    ...      "transfer_start_year": [2006, 2008], "transfer_term_years": [2, 10]},
    ...     geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)], crs="EPSG:4549")
    >>> layers = {"towns": towns, "villages": villages, "farmland": farmland}
    >>> progress_by_year(layers)[["year", "started_mu", "in_force_mu", "lease_mu", "shares_mu"]]
       year  started_mu  in_force_mu  lease_mu  shares_mu
    0  2006      1500.0       1500.0    1500.0        0.0
    1  2007         0.0       1500.0    1500.0        0.0
    2  2008      1500.0       1500.0       0.0     1500.0
    """
    if level not in ("town", "village"):
        raise ValueError(f"level must be 'town' or 'village', not {level!r}")
    scenario = scenario_or_default(scenario)
    layers = layers_of(project)
    farmland, villages, towns = layers["farmland"], layers["villages"], layers["towns"]
    rec = records_from_farmland(farmland) if records is None else records
    if years is None:
        first = pd.to_numeric(rec["transfer_start_year"], errors="coerce").min()
        last = plan_year(scenario, None)
        first = int(first) if pd.notna(first) else last
        years = range(min(first, last), last + 1)
    years = [int(y) for y in years]
    key = "town_id" if level == "town" else "village_id"
    units = (towns if level == "town" else villages)[key].astype("str").to_numpy(dtype=object)
    # each record's unit and area, looked up once
    ids = farmland["parcel_id"].astype("str").to_numpy(dtype=object)
    where = pd.Index(ids).get_indexer(rec["parcel_id"].astype("str").to_numpy(dtype=object))
    area_mu = m2_to_mu(np.asarray(farmland.geometry.area, dtype=float))
    vt = villages.set_index(villages["village_id"].astype("str"))["town_id"].astype("str")
    pv = farmland["village_id"].astype("str")
    punit = (pv.map(vt) if level == "town" else pv).to_numpy(dtype=object)
    known = where >= 0
    r = pd.DataFrame({"parcel": where[known], "unit": punit[where[known]],
                      "area": area_mu[where[known]],
                      "mode": rec["transfer_mode"].astype("str").to_numpy(dtype=object)[known],
                      "start": pd.to_numeric(rec["transfer_start_year"], errors="coerce")
                      .to_numpy(float)[known],
                      "term": pd.to_numeric(rec["transfer_term_years"], errors="coerce")
                      .to_numpy(float)[known]})
    r = r.sort_values("start", kind="stable", na_position="first")
    modes = _modes(scenario)
    rules = scenario.town_rules(towns) if level == "town" else {}
    frames = []
    for y in years:
        live = r[in_force(r["start"], r["term"], r["mode"], y)]
        live = live.drop_duplicates("parcel", keep="last")
        new = r[r["start"] == y].drop_duplicates("parcel", keep="last")
        f = pd.DataFrame({key: units, "year": y,
                          "started_mu": new.groupby("unit")["area"].sum().reindex(units)
                          .fillna(0.0).to_numpy(),
                          "in_force_mu": live.groupby("unit")["area"].sum().reindex(units)
                          .fillna(0.0).to_numpy()})
        for m in modes:
            f[f"{m}_mu"] = live[live["mode"] == m].groupby("unit")["area"].sum().reindex(units) \
                .fillna(0.0).to_numpy()
        if level == "town":
            tr = [rules.get(u) for u in units]
            f["target_mu"] = [np.nan if t is None or t.transfer_target_mu is None
                              else float(t.transfer_target_mu) for t in tr]
            f["on_track"] = pd.array([pd.NA if t is None or t.transfer_target_mu is None
                                      else t.target_met(v) for t, v in zip(tr, f["in_force_mu"])],
                                     dtype="boolean")
        frames.append(f)
    out = pd.concat(frames, ignore_index=True).sort_values([key, "year"], kind="stable")
    out[key] = out[key].astype("str")
    return out.reset_index(drop=True)
