"""Land shares (土地股权化): each household's shares in a block pooled into a cooperative.

When the households of a block pool their contracted land into a land
shareholding cooperative (土地股份合作社), each gets shares in proportion to
its contracted area in the block, weighted by land quality where the parcels
carry a grade, and a dividend (分红) in proportion to its shares.

Quality: ``quality_grade`` is the national cultivated-land quality grade
(耕地质量等别, GB/T 28407-2012, 1 to 15), where **1 is the best** land. A
weight per grade is the cooperative's decision; :func:`linear_quality_weights`
gives a simple scale from the best to the worst grade. Parcels without a grade
weigh 1.

Rounding: shares are apportioned in units of ``10 ** -share_decimals`` (a
hundredth of a share by default; ``share_decimals=0`` for whole shares) by the
largest-remainder (Hamilton) method, so they sum exactly to the cooperative's
total; dividends follow the shares and are apportioned the same way in fen
(0.01 yuan), so they sum exactly to the dividend pool.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> farmland = gpd.GeoDataFrame(
...     {"parcel_id": ["P1", "P2", "P3"], "household_id": ["H1", "H2", "H2"],
...      "village_id": "V1", "quality_grade": [3, 3, 9]},
...     geometry=[box(0, 0, 50, 200), box(52, 0, 102, 200), box(104, 0, 154, 100)],
...     crs="EPSG:4549")                                  # 15, 15 and 7.5 mu
>>> ls = land_shares(farmland, ["P1", "P2", "P3"], rent_per_mu=600)
>>> ls.holders[["household_id", "area_mu", "shares", "dividend_yuan"]]
  household_id  area_mu  shares  dividend_yuan
0           H1     15.0    15.0         9000.0
1           H2     22.5    22.5        13500.0
>>> land_shares(farmland, ["P1", "P2", "P3"], rent_per_mu=600,
...             share_decimals=0).holders["shares"].tolist()       # whole shares
[15.0, 23.0]
"""

from __future__ import annotations

import logging
from typing import NamedTuple
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from ..units import m2_to_mu

__all__ = ["LandShares", "land_shares", "largest_remainder", "linear_quality_weights"]

log = logging.getLogger(__name__)


class LandShares(NamedTuple):
    """What :func:`land_shares` returns.

    Attributes
    ----------
    holders : pandas.DataFrame
        One row per household (``household_id`` missing, ``collective`` True
        for parcels with no owner household: the village collective's share):
        ``parcels``, ``area_m2``, ``area_mu``, ``weighted_mu``, ``shares``,
        ``share_fraction``, ``dividend_yuan``.
    parcels : pandas.DataFrame
        Row-aligned to the block's parcels (the farmland layer's index):
        parcel_id, household_id, quality_grade, quality_weight, area_mu,
        weighted_mu.
    summary : dict
        parcels, households, area_mu, weighted_mu, total_shares, rent_per_mu,
        dividend_total_yuan.
    """

    holders: pd.DataFrame
    parcels: pd.DataFrame
    summary: dict


def largest_remainder(weights, total: int, *, tiebreak=None) -> np.ndarray:
    """Apportion ``total`` whole units in proportion to ``weights`` (Hamilton's method).

    Each gets the whole part of its quota; the units left over go to the
    largest remainders (ties: the earlier in ``tiebreak`` order, default the
    input order).

    Examples
    --------
    >>> largest_remainder([1, 1, 1], 10).tolist()
    [4, 3, 3]
    >>> largest_remainder([15, 22.5], 38).tolist()
    [15, 23]
    """
    w = np.asarray(weights, dtype=float)
    total = int(total)
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    quota = w / w.sum() * total
    base = np.floor(quota + 1e-9).astype(np.int64)
    left = total - int(base.sum())
    rem = quota - base
    order = np.lexsort((np.arange(len(w)) if tiebreak is None else np.asarray(tiebreak), -rem))
    base[order[:left]] += 1
    return base


def linear_quality_weights(best: float = 1.2, worst: float = 0.8, *,
                           grades: Iterable[int] = range(1, 16)) -> dict[int, float]:
    """Weights falling linearly from the best grade (1) to the worst (15).

    Examples
    --------
    >>> w = linear_quality_weights()
    >>> w[1], w[8], w[15]
    (1.2, 1.0, 0.8)
    """
    g = sorted(int(x) for x in grades)
    if len(g) == 1:
        return {g[0]: float(best)}
    return {x: round(best + (worst - best) * (x - g[0]) / (g[-1] - g[0]), 6) for x in g}


def land_shares(farmland: pd.DataFrame, parcel_ids: Iterable[str], *,
                quality_weights: Mapping[int, float] | None = None,
                total_shares: float | None = None, mu_per_share: float = 1.0,
                share_decimals: int = 2, rent_per_mu: float | None = None,
                dividend_total: float | None = None) -> LandShares:
    """Each household's shares and dividend in a block pooled into a shareholding cooperative.

    Parameters
    ----------
    farmland : pandas.DataFrame
        The farmland layer (with geometry; ``household_id`` and, optionally,
        ``quality_grade``).
    parcel_ids : iterable of str
        The block's parcels, e.g. ``blocks.parcels.query("block_all == 'A0001'")["parcel_id"]``.
    quality_weights : mapping, optional
        Grade (1 best .. 15) -> weight, e.g. :func:`linear_quality_weights`.
        Default: every grade weighs 1 (shares follow contracted area alone).
    total_shares : float, optional
        The number of shares the cooperative issues. Default: one share per
        ``mu_per_share`` of weighted area.
    mu_per_share : float
        Weighted mu per share when ``total_shares`` is not given.
    share_decimals : int
        Shares are whole multiples of ``10 ** -share_decimals`` (default 0.01).
    rent_per_mu : float, optional
        The rent the cooperative earns, yuan per mu per year: the dividend pool
        is ``rent_per_mu`` times the block's contracted area. Default: the
        area-weighted mean of the parcels' recorded ``rent_per_mu``.
    dividend_total : float, optional
        The dividend pool in yuan, instead of ``rent_per_mu``.

    Returns
    -------
    LandShares
        ``(holders, parcels, summary)``; every parcel of the block is counted
        once, its area in one holder's row.

    Raises
    ------
    landplan.errors.ValidationError
        Naming parcel ids that are not in the layer or given twice, grades with
        no weight, or weights that are not positive.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> farmland = gpd.GeoDataFrame(
    ...     {"parcel_id": ["P1", "P2"], "household_id": ["H1", None], "village_id": "V1",
    ...      "quality_grade": [2, 12]},
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs="EPSG:4549")
    >>> ls = land_shares(farmland, ["P1", "P2"], quality_weights={2: 1.1, 12: 0.9},
    ...                  total_shares=100, dividend_total=10000)
    >>> ls.holders[["household_id", "collective", "weighted_mu", "shares", "dividend_yuan"]]
      household_id  collective  weighted_mu  shares  dividend_yuan
    0           H1       False        16.5    55.0         5500.0
    1          NaN        True        13.5    45.0         4500.0
    """
    ids = [str(p) for p in parcel_ids]
    problems = []
    dup = sorted({p for p in ids if ids.count(p) > 1}) if len(ids) != len(set(ids)) else []
    if dup:
        problems.append(Problem("farmland", "duplicate_parcel", dup,
                                "these parcel ids are given more than once",
                                "give each parcel once"))
    key = farmland["parcel_id"].astype("str")
    missing = sorted(set(ids) - set(key))
    if missing:
        problems.append(Problem("farmland", "unknown_parcel", missing,
                                "these parcel ids are not in the farmland layer",
                                "correct the ids, or pass the parcels of a block from "
                                "operation_blocks"))
    if not ids:
        problems.append(Problem("farmland", "empty_block", [], "no parcels given",
                                "give the block's parcel ids"))
    if problems:
        raise ValidationError(problems)
    block = farmland[key.isin(set(ids))]
    area = np.asarray(block.geometry.area, dtype=float)
    grade = (pd.to_numeric(block["quality_grade"], errors="coerce").astype("Int64")
             if "quality_grade" in block.columns
             else pd.Series(pd.NA, index=block.index, dtype="Int64"))
    if quality_weights is None:
        weight = np.ones(len(block))
    else:
        qw = {int(k): float(v) for k, v in quality_weights.items()}
        bad = sorted(k for k, v in qw.items() if not (np.isfinite(v) and v > 0))
        if bad:
            raise ValidationError([Problem("quality_weights", "bad_weight", [str(b) for b in bad],
                                           "weights must be positive numbers",
                                           "give every grade a weight > 0")])
        no_w = grade.notna() & ~grade.isin(list(qw))
        if no_w.any():
            raise ValidationError([Problem(
                "farmland", "grade_without_weight",
                block.loc[no_w, "parcel_id"].astype("str").tolist(),
                f"quality grades {sorted(set(grade[no_w].astype(int)))} have no weight",
                "add them to quality_weights (grade 1 is the best land)")])
        weight = grade.map(qw).astype("float64").fillna(1.0).to_numpy()
    owner = block["household_id"].astype("str") if "household_id" in block.columns \
        else pd.Series(pd.NA, index=block.index, dtype="str")
    parcels = pd.DataFrame({"parcel_id": block["parcel_id"].astype("str"), "household_id": owner,
                            "village_id": block["village_id"].astype("str"),
                            "quality_grade": grade, "quality_weight": weight,
                            "area_m2": area, "area_mu": m2_to_mu(area),
                            "weighted_mu": m2_to_mu(area) * weight}, index=block.index)
    g = parcels.groupby("household_id", dropna=False, sort=True)
    holders = pd.DataFrame({"parcels": g.size(), "area_m2": g["area_m2"].sum(),
                            "area_mu": g["area_mu"].sum(), "weighted_mu": g["weighted_mu"].sum()})
    holders = holders.reset_index()
    holders["household_id"] = holders["household_id"].astype("str")
    holders.insert(1, "collective", holders["household_id"].isna().to_numpy())
    holders = holders.sort_values(["collective", "household_id"], kind="stable")
    holders = holders.reset_index(drop=True)

    total_w = float(holders["weighted_mu"].sum())
    unit = 10 ** int(share_decimals)
    if total_shares is None:
        if not mu_per_share > 0:
            raise ValueError("mu_per_share must be positive")
        units = max(int(np.floor(total_w / mu_per_share * unit + 0.5)), 1)
    else:
        units = int(np.floor(float(total_shares) * unit + 0.5))
        if units < 1 or abs(units / unit - float(total_shares)) > 1e-9:
            raise ValueError(f"total_shares must be positive with at most {share_decimals} "
                             f"decimals, not {total_shares}")
    held = largest_remainder(holders["weighted_mu"], units)
    total_shares = units / unit
    holders["shares"] = held / unit
    holders["share_fraction"] = held / units

    block_mu = float(parcels["area_mu"].sum())
    if dividend_total is None:
        if rent_per_mu is None:
            rents = pd.to_numeric(block.get("rent_per_mu"), errors="coerce") \
                if "rent_per_mu" in block.columns else pd.Series(np.nan, index=block.index)
            have = rents.notna().to_numpy()
            if not have.any():
                raise ValueError("the block's parcels record no rent: pass rent_per_mu "
                                 "(yuan per mu per year) or dividend_total (yuan)")
            rent_per_mu = float(np.average(rents.to_numpy()[have], weights=area[have]))
        dividend_total = float(rent_per_mu) * block_mu
    if not (np.isfinite(float(dividend_total)) and float(dividend_total) >= 0):
        raise ValueError(f"the dividend pool must be a sum of yuan >= 0, not {dividend_total}")
    fen = int(np.floor(float(dividend_total) * 100 + 0.5))
    holders["dividend_yuan"] = largest_remainder(held, fen) / 100.0
    summary = {"parcels": len(parcels), "households": int((~holders["collective"]).sum()),
               "area_mu": block_mu, "weighted_mu": total_w, "total_shares": total_shares,
               "rent_per_mu": None if rent_per_mu is None else float(rent_per_mu),
               "dividend_total_yuan": fen / 100.0}
    log.info("land shares: %d parcels, %.1f mu, %d holders, %s shares, %.2f yuan dividends",
             len(parcels), block_mu, len(holders), f"{total_shares:g}", fen / 100.0)
    return LandShares(holders, parcels, summary)
