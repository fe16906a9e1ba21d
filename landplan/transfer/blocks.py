"""Contiguous operation blocks (连片经营) of transferred farmland.

Two parcels are *adjacent* when they are at most ``join_gap_m`` apart (the
scenario's ``[transfer] join_gap_m``, 4 m in the 2008 plan) -- so parcels
sharing an edge join, and so do parcels across a field ditch or a farm road
narrower than the gap -- unless a barrier lies in the gap: water (rivers,
canals, ponds) and roads of the classes given (by default every class but
``farm``). A block is a connected component of adjacent parcels: of all
transferred parcels (scope ``"all"``) or of one operator's parcels (scope
``"operator"``); the plan's 百亩方 is a block of 100 mu or more.

How the barrier test works: each parcel is buffered by half the gap; where a
barrier lies within that distance, the barrier is cut out of the buffer and
only the pieces still touching the parcel are kept. Two parcels within the
gap are adjacent when their (cut) buffers meet, i.e. when one can cross the
gap without crossing water or a barrier road. Corner contacts count.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> strips = [box(x, 0, x + 40, 200) for x in (0, 42, 84, 127)]   # 8000 m2 = 12 mu each
>>> farmland = gpd.GeoDataFrame(
...     {"parcel_id": ["P1", "P2", "P3", "P4"], "village_id": "V1",
...      "transfer_mode": "lease", "transfer_operator": ["甲", "甲", "乙", "甲"],
...      "transfer_start_year": 2008, "transfer_term_years": 10},
...     geometry=strips, crs="EPSG:4549")
>>> water = gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["canal"]},
...                          geometry=[box(124.5, -50, 126.5, 250)], crs="EPSG:4549")
>>> result = operation_blocks(farmland, water=water, geometry=False)   # P4 is across the canal
>>> result.parcels[["parcel_id", "block_all", "block_operator"]]
  parcel_id block_all block_operator
0        P1     A0001          O0001
1        P2     A0001          O0001
2        P3     A0001          O0002
3        P4     A0002          O0003
>>> result.blocks[["block_id", "operator", "parcels", "area_mu"]]
  block_id operator  parcels  area_mu
0    A0001      all        3     36.0
1    A0002      all        1     12.0
2    O0001        甲        2     24.0
3    O0002        乙        1     12.0
4    O0003        甲        1     12.0
"""

from __future__ import annotations

import logging
import time
from typing import NamedTuple
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from ..errors import Problem, ValidationError
from ..scenario import Scenario
from ..units import WORKING_CRS, m2_to_mu, mu_to_m2
from ._common import ensure_transfer_columns, in_force, plan_year, scenario_or_default

__all__ = ["OperationBlocks", "farmland_adjacency", "adjacency_positions", "operation_blocks",
           "block_summary",
           "WATER_BARRIERS", "ROAD_BARRIERS"]

log = logging.getLogger(__name__)

#: Water kinds that blocks never cross.
WATER_BARRIERS: tuple[str, ...] = ("river", "canal", "pond")
#: Road classes that blocks never cross (farm roads narrower than the gap are crossed).
ROAD_BARRIERS: tuple[str, ...] = ("highway", "county", "town", "village")
#: Width given to a barrier road's centre line, metres, so it can cut a gap.
ROAD_LINE_WIDTH_M = 0.5
#: Barrier polygons with more vertices than this are cut into tiles first (speed).
_TILE_VERTICES = 64
_TILE_SIZE_M = 250.0


class OperationBlocks(NamedTuple):
    """What :func:`operation_blocks` returns.

    Attributes
    ----------
    parcels : pandas.DataFrame
        Row-aligned to the farmland layer (same index): ``parcel_id``,
        ``transferred`` (in force in the year asked), ``transfer_operator``,
        ``block_all`` (the block of all transferred land the parcel is in) and
        ``block_operator`` (its operator's block); both missing for parcels not
        transferred.
    blocks : geopandas.GeoDataFrame
        One row per block: ``block_id`` (``A....`` for scope ``"all"``,
        ``O....`` per operator, numbered by decreasing area), ``scope``,
        ``operator`` (``"all"`` for scope ``"all"``), ``village_id`` (the
        village holding most of the block's area), ``parcels``, ``area_m2``,
        ``area_mu``, one ``reaches_<t>_mu`` column per threshold, and the
        dissolved geometry (the union of its parcels; empty when
        ``geometry=False``).
    """

    parcels: pd.DataFrame
    blocks: gpd.GeoDataFrame


# ------------------------------------------------------------------------- barriers
def _barrier_geometries(water, roads, *, water_barriers, road_barriers) -> np.ndarray:
    parts = []
    if water is not None and len(water):
        w = water if "kind" not in water.columns else water[water["kind"].isin(water_barriers)]
        _check_crs(w, "water")
        parts.append(np.asarray(w.geometry.values))
    if roads is not None and len(roads) and road_barriers:
        r = roads if "road_class" not in roads.columns \
            else roads[roads["road_class"].isin(road_barriers)]
        _check_crs(r, "roads")
        if len(r):
            parts.append(shapely.buffer(np.asarray(r.geometry.values), ROAD_LINE_WIDTH_M / 2,
                                        cap_style="flat"))
    if not parts:
        return np.empty(0, dtype=object)
    geoms = np.concatenate(parts)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    return _tile(geoms)


def _tile(geoms: np.ndarray) -> np.ndarray:
    """Cut polygons with many vertices into grid tiles, so local differences stay cheap."""
    big = shapely.get_num_coordinates(geoms) > _TILE_VERTICES
    if not big.any():
        return geoms
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[big])
    xs = np.arange(xmin, xmax + _TILE_SIZE_M, _TILE_SIZE_M)
    ys = np.arange(ymin, ymax + _TILE_SIZE_M, _TILE_SIZE_M)
    gx, gy = np.meshgrid(xs, ys)
    x0, y0 = gx.ravel(), gy.ravel()
    cells = shapely.box(x0, y0, x0 + _TILE_SIZE_M, y0 + _TILE_SIZE_M)
    tree = shapely.STRtree(cells)
    gi, ci = tree.query(geoms[big], predicate="intersects")
    pieces = shapely.intersection(geoms[big][gi], cells[ci])
    pieces = pieces[~shapely.is_empty(pieces)]
    return np.concatenate([geoms[~big], pieces])


def _check_crs(df, layer: str) -> None:
    crs = getattr(df, "crs", None)
    if crs is None or not crs.equals(WORKING_CRS):
        raise ValidationError([Problem(
            layer, "crs_mismatch", [],
            f"the {layer} layer is in {crs.to_string() if crs else 'no CRS'}, not the working CRS "
            f"{WORKING_CRS} (distances in metres are needed)",
            f"read the layers through landplan.Project, or call .to_crs('{WORKING_CRS}')")])


# ------------------------------------------------------------------------ adjacency
def _adjacent_pairs(geoms: np.ndarray, barriers: np.ndarray, gap: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i, j), i < j, of parcels adjacent across at most ``gap`` without a barrier."""
    # bounding-box candidates, then an exact distance test (faster than the tree's own
    # "dwithin" predicate, which tests every candidate inside the tree walk)
    tree = shapely.STRtree(geoms)
    b = shapely.bounds(geoms)
    boxes = shapely.box(b[:, 0] - gap, b[:, 1] - gap, b[:, 2] + gap, b[:, 3] + gap)
    i, j = tree.query(boxes)
    keep = i < j
    i, j = i[keep], j[keep]
    keep = shapely.dwithin(geoms[i], geoms[j], gap)
    i, j = i[keep], j[keep]
    if len(barriers) == 0 or len(i) == 0:
        return i, j
    half = gap / 2
    btree = shapely.STRtree(barriers)
    pi, bi = btree.query(geoms, predicate="dwithin", distance=half)
    if len(pi) == 0:
        return i, j
    near = np.zeros(len(geoms), dtype=bool)
    near[pi] = True
    test = near[i] | near[j]
    if not test.any():
        return i, j
    involved = np.unique(np.concatenate([i[test], j[test]]))
    buf = np.empty(len(geoms), dtype=object)
    buf[involved] = shapely.buffer(geoms[involved], half, quad_segs=4)
    # cut the barriers out of the buffers of parcels near one, a barrier piece per round
    order = np.argsort(pi, kind="stable")
    pi, bi = pi[order], bi[order]
    first = np.r_[True, pi[1:] != pi[:-1]]
    rank = np.arange(len(pi)) - np.maximum.accumulate(np.where(first, np.arange(len(pi)), 0))
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        buf[pi[sel]] = shapely.difference(buf[pi[sel]], barriers[bi[sel]])
    # keep only the pieces of a cut buffer that still touch the parcel
    cut = np.unique(pi)
    parts, owner = shapely.get_parts(buf[cut], return_index=True)
    touching = shapely.intersects(parts, geoms[cut[owner]])
    whole = np.full(len(cut), None, dtype=object)
    if touching.any():
        shapely.multipolygons(parts[touching], indices=owner[touching], out=whole)
    buf[cut] = whole
    ok = np.ones(len(i), dtype=bool)
    a, b = buf[i[test]], buf[j[test]]
    valid = ~(shapely.is_missing(a) | shapely.is_missing(b))
    res = np.zeros(len(a), dtype=bool)
    res[valid] = shapely.intersects(a[valid], b[valid])
    ok[test] = res
    return i[ok], j[ok]


def farmland_adjacency(farmland: gpd.GeoDataFrame, *, water: gpd.GeoDataFrame | None = None,
                       roads: gpd.GeoDataFrame | None = None, join_gap_m: float | None = None,
                       scenario: Scenario | None = None,
                       water_barriers: Sequence[str] = WATER_BARRIERS,
                       road_barriers: Sequence[str] = ROAD_BARRIERS) -> pd.DataFrame:
    """Pairs of adjacent farmland parcels: within the join gap, with no barrier between.

    Parameters
    ----------
    farmland : geopandas.GeoDataFrame
        The farmland layer, in the working CRS.
    water, roads : geopandas.GeoDataFrame, optional
        ``project.get("water")`` and ``project.get("roads")``: the barriers.
    join_gap_m : float, optional
        Largest gap crossed (field ditches, farm roads); default the
        scenario's ``[transfer] join_gap_m``.
    scenario : Scenario, optional
        Default the 2008 plan.
    water_barriers : sequence of str
        Water kinds never crossed (default rivers, canals and ponds).
    road_barriers : sequence of str
        Road classes never crossed (default all but ``farm``).

    Returns
    -------
    pandas.DataFrame
        ``parcel_a``, ``parcel_b`` (``parcel_a`` first in the layer's order),
        ``gap_m`` (0 for a shared edge).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> f = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"]},
    ...                      geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10), box(23, 0, 30, 10)],
    ...                      crs="EPSG:4549")
    >>> farmland_adjacency(f)
      parcel_a parcel_b  gap_m
    0       P1       P2    0.0
    1       P2       P3    3.0
    """
    i, j = adjacency_positions(farmland, water=water, roads=roads, join_gap_m=join_gap_m,
                               scenario=scenario, water_barriers=water_barriers,
                               road_barriers=road_barriers)
    geoms = np.asarray(farmland.geometry.values)
    ids = farmland["parcel_id"].astype("str").to_numpy()
    return pd.DataFrame({"parcel_a": pd.array(ids[i], dtype="str"),
                         "parcel_b": pd.array(ids[j], dtype="str"),
                         "gap_m": shapely.distance(geoms[i], geoms[j])})


def adjacency_positions(farmland: gpd.GeoDataFrame, *, water=None, roads=None,
                        join_gap_m: float | None = None, scenario: Scenario | None = None,
                        water_barriers: Sequence[str] = WATER_BARRIERS,
                        road_barriers: Sequence[str] = ROAD_BARRIERS
                        ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`farmland_adjacency` as row positions ``(i, j)``, ``i < j``, sorted (for graphs)."""
    gap = _gap(scenario, join_gap_m)
    _check_crs(farmland, "farmland")
    geoms = np.asarray(farmland.geometry.values)
    barriers = _barrier_geometries(water, roads, water_barriers=water_barriers,
                                   road_barriers=road_barriers)
    i, j = _adjacent_pairs(geoms, barriers, gap)
    order = np.lexsort((j, i))
    return i[order], j[order]


def _positions_of_pairs(adjacency: pd.DataFrame, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = pd.Series(np.arange(len(ids)), index=ids)
    i = pos.reindex(adjacency["parcel_a"].astype("str")).to_numpy()
    j = pos.reindex(adjacency["parcel_b"].astype("str")).to_numpy()
    known = ~(np.isnan(i) | np.isnan(j))
    return i[known].astype(np.int64), j[known].astype(np.int64)


def _gap(scenario, join_gap_m) -> float:
    gap = float(join_gap_m if join_gap_m is not None
                else scenario_or_default(scenario).transfer.get("join_gap_m", 4.0))
    if not np.isfinite(gap) or gap < 0:
        raise ValueError(f"join_gap_m must be a distance in metres >= 0, not {gap}")
    return gap


# --------------------------------------------------------------------------- blocks
def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = sparse.coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    return csgraph.connected_components(graph, directed=False)[1]


def _number(labels: np.ndarray, area: np.ndarray, first_key: np.ndarray, prefix: str, start: int = 1
            ) -> tuple[np.ndarray, pd.DataFrame]:
    """Block ids by decreasing area (ties: the smallest parcel id), for component labels."""
    df = pd.DataFrame({"label": labels, "area": area, "key": first_key})
    agg = df.groupby("label").agg(area=("area", "sum"), key=("key", "min"),
                                  parcels=("area", "size"))
    agg = agg.sort_values(["area", "key"], ascending=[False, True], kind="stable")
    agg["block_id"] = [f"{prefix}{k:04d}" for k in range(start, start + len(agg))]
    return agg.loc[labels, "block_id"].to_numpy(), agg


def thresholds_of(scenario: Scenario | None, thresholds=None) -> list[float]:
    """Block size thresholds in mu (the scenario's ``block_thresholds_mu``, 100 and 500)."""
    if thresholds is None:
        thresholds = scenario_or_default(scenario).transfer.get("block_thresholds_mu",
                                                                 [100.0, 500.0])
    return sorted(float(t) for t in thresholds)


def threshold_column(t: float) -> str:
    """``reaches_100_mu`` for 100."""
    return f"reaches_{t:g}_mu"


def operation_blocks(farmland: gpd.GeoDataFrame, *, water: gpd.GeoDataFrame | None = None,
                     roads: gpd.GeoDataFrame | None = None, year: int | None = None,
                     scenario: Scenario | None = None, join_gap_m: float | None = None,
                     thresholds_mu: Sequence[float] | None = None,
                     water_barriers: Sequence[str] = WATER_BARRIERS,
                     road_barriers: Sequence[str] = ROAD_BARRIERS,
                     geometry: bool = True, adjacency: pd.DataFrame | None = None,
                     progress: bool = False) -> OperationBlocks:
    """Contiguous blocks of transferred farmland, overall and per operator.

    Parameters
    ----------
    farmland : geopandas.GeoDataFrame
        The farmland layer with its transfer columns (after
        :func:`~landplan.transfer.apply_transfer_records`), working CRS.
    water, roads : geopandas.GeoDataFrame, optional
        Barriers (see :func:`farmland_adjacency`).
    year : int, optional
        Count transfers in force in this year; default the plan year (2008).
    scenario : Scenario, optional
        Gives ``join_gap_m`` and ``block_thresholds_mu``; default the 2008 plan.
    join_gap_m : float, optional
        Override the scenario's gap.
    thresholds_mu : sequence of float, optional
        Override the scenario's block thresholds (100 and 500 mu).
    water_barriers, road_barriers : sequence of str
        See :func:`farmland_adjacency`.
    geometry : bool
        Dissolve each block's parcels into its geometry (the slowest step; turn
        off for counts only).
    adjacency : pandas.DataFrame or tuple of arrays, optional
        Pairs from :func:`farmland_adjacency` (or row positions from
        :func:`adjacency_positions`) computed before for this layer, to reuse.
    progress : bool
        Show a progress bar while dissolving.

    Returns
    -------
    OperationBlocks
        ``(parcels, blocks)``; see :class:`OperationBlocks`.
    """
    scenario = scenario_or_default(scenario)
    year = plan_year(scenario, year)
    levels = thresholds_of(scenario, thresholds_mu)
    t0 = time.perf_counter()
    farm = ensure_transfer_columns(farmland)
    n = len(farm)
    ids = farm["parcel_id"].astype("str").to_numpy()
    active = in_force(farm["transfer_start_year"], farm["transfer_term_years"],
                      farm["transfer_mode"], year)
    if adjacency is None:
        # untransferred parcels never join blocks: only pairs of transferred ones are needed
        sel = np.flatnonzero(active)
        i, j = adjacency_positions(farm.iloc[sel], water=water, roads=roads,
                                   join_gap_m=join_gap_m, scenario=scenario,
                                   water_barriers=water_barriers, road_barriers=road_barriers)
        i, j = sel[i], sel[j]
    elif isinstance(adjacency, tuple):
        i, j = (np.asarray(a, dtype=np.int64) for a in adjacency)
    else:
        i, j = _positions_of_pairs(adjacency, ids)
    t1 = time.perf_counter()

    op = farm["transfer_operator"].astype("str").to_numpy(dtype=object)
    op = np.where(active & pd.isna(op), "(unknown)", op)
    area = shapely.area(np.asarray(farm.geometry.values))
    parcels = pd.DataFrame({"parcel_id": pd.array(ids, dtype="str"), "transferred": active,
                            "transfer_operator": pd.array(np.where(active, op, None), dtype="str")},
                           index=farm.index)
    tables = []
    block_cols = {}
    for scope, prefix in (("all", "A"), ("operator", "O")):
        e = active[i] & active[j]
        if scope == "operator":
            e &= op[i] == op[j]
        labels = _components(n, i[e], j[e])
        sel = np.flatnonzero(active)
        col = np.full(n, None, dtype=object)
        if len(sel):
            bid, agg = _number(labels[sel], area[sel], ids[sel], prefix)
            col[sel] = bid
            agg = agg.reset_index(drop=True)
            agg["scope"] = scope
            if scope == "all":
                agg["operator"] = "all"
            else:
                first = pd.Series(op[sel]).groupby(bid).first()
                agg["operator"] = first.reindex(agg["block_id"]).to_numpy()
            tables.append(agg)
        block_cols[scope] = col
    parcels["block_all"] = pd.array(block_cols["all"], dtype="str")
    parcels["block_operator"] = pd.array(block_cols["operator"], dtype="str")
    t2 = time.perf_counter()

    if tables:
        blocks = pd.concat(tables, ignore_index=True)
    else:
        blocks = pd.DataFrame({"block_id": [], "scope": [], "operator": [], "parcels": [],
                               "area": []})
    blocks = pd.DataFrame({
        "block_id": pd.array(blocks["block_id"], dtype="str"),
        "scope": pd.array(blocks["scope"], dtype="str"),
        "operator": pd.array(blocks["operator"], dtype="str"),
        "parcels": blocks["parcels"].astype("int64"),
        "area_m2": blocks["area"].astype("float64"),
    })
    blocks["area_mu"] = m2_to_mu(blocks["area_m2"].to_numpy())
    blocks.insert(3, "village_id", _main_village(farm, parcels, blocks["block_id"], area))
    for t in levels:
        blocks[threshold_column(t)] = blocks["area_m2"].to_numpy() >= mu_to_m2(t) - 1e-6
    geoms = np.full(len(blocks), shapely.Polygon(), dtype=object)
    if geometry and len(blocks):
        geoms = _dissolve(farm, parcels, blocks, progress=progress)
    out = gpd.GeoDataFrame(blocks, geometry=gpd.GeoSeries(geoms, crs=farmland.crs),
                           crs=farmland.crs)
    t3 = time.perf_counter()
    n_all = int((blocks["scope"] == "all").sum())
    log.info("operation blocks %d: %d transferred parcels in %d blocks (%d per operator), "
             "%s; adjacency %.1fs, components %.1fs, dissolve %.1fs",
             year, int(active.sum()), n_all, len(blocks) - n_all,
             ", ".join(f"{int(blocks.loc[blocks['scope'] == 'all', threshold_column(t)].sum())} "
                       f">= {t:g} mu" for t in levels), t1 - t0, t2 - t1, t3 - t2)
    return OperationBlocks(parcels, out)


def _main_village(farm, parcels, block_ids, area) -> pd.Series:
    """The village holding most of each block's area (a block may cross village lines)."""
    if "village_id" not in farm.columns or len(block_ids) == 0:
        return pd.Series(pd.NA, index=block_ids.index, dtype="str")
    parts = []
    village = farm["village_id"].astype("str").to_numpy(dtype=object)
    for col in ("block_all", "block_operator"):
        have = parcels[col].notna().to_numpy()
        parts.append(pd.DataFrame({"block": parcels[col].to_numpy(dtype=object)[have],
                                   "village": village[have], "area": area[have]}))
    df = pd.concat(parts).groupby(["block", "village"], sort=True)["area"].sum().reset_index()
    df = df.sort_values(["block", "area"], ascending=[True, False], kind="stable")
    main = df.drop_duplicates("block").set_index("block")["village"]
    return pd.Series(main.reindex(block_ids.to_numpy()).to_numpy(), index=block_ids.index,
                     dtype="str")


def _dissolve(farm, parcels, blocks, *, progress: bool) -> np.ndarray:
    from tqdm.auto import tqdm

    geoms = np.asarray(farm.geometry.values)
    out = {}
    for scope, col in (("all", "block_all"), ("operator", "block_operator")):
        b = parcels[col].to_numpy(dtype=object)
        have = np.flatnonzero(pd.notna(b))
        order = have[np.argsort(b[have], kind="stable")]
        keys, starts = np.unique(b[order], return_index=True)
        bounds = np.r_[starts, len(order)]
        bar = tqdm(range(len(keys)), desc=f"dissolving blocks ({scope})", disable=not progress)
        for k in bar:
            members = geoms[order[bounds[k]:bounds[k + 1]]]
            out[keys[k]] = members[0] if len(members) == 1 else _union(members)
    return np.array([out[b] for b in blocks["block_id"]], dtype=object)


def _union(members: np.ndarray):
    """Union of a block's parcels: the fast coverage union, or a full union if parcels overlap."""
    try:
        u = shapely.coverage_union_all(members)
        # parcels that overlap make the coverage union wrong: its area falls short
        if abs(shapely.area(u) - shapely.area(members).sum()) <= 1e-6 * max(shapely.area(u), 1.0):
            return u
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(members)


def block_summary(blocks: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per operator (and overall): blocks, area, largest block, blocks reaching each threshold.

    Parameters
    ----------
    blocks : geopandas.GeoDataFrame
        ``OperationBlocks.blocks``.

    Returns
    -------
    pandas.DataFrame
        Index ``operator`` (``"all"`` first): ``blocks``, ``parcels``,
        ``area_mu``, ``largest_mu`` and ``reaches_<t>_mu`` counts.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"scope": ["all", "all", "operator"], "operator": ["all", "all", "甲"],
    ...                   "parcels": [30, 2, 30], "area_mu": [120.0, 5.0, 120.0],
    ...                   "reaches_100_mu": [True, False, True]})
    >>> block_summary(b)
              blocks  parcels  area_mu  largest_mu  reaches_100_mu
    operator
    all            2       32    125.0       120.0               1
    甲             1       30    120.0       120.0               1
    """
    reach = [c for c in blocks.columns if c.startswith("reaches_")]
    df = pd.DataFrame(blocks.drop(columns="geometry", errors="ignore"))
    df["key"] = np.where(df["scope"] == "all", "", df["operator"].astype("str"))
    agg = df.groupby("key", sort=True).agg(
        operator=("operator", "first"), blocks=("parcels", "size"), parcels=("parcels", "sum"),
        area_mu=("area_mu", "sum"), largest_mu=("area_mu", "max"),
        **{c: (c, "sum") for c in reach})
    for c in reach:
        agg[c] = agg[c].astype("int64")
    return agg.set_index("operator")
