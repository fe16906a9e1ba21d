"""Hamlets clustered on the ground: water separates, bridges join, ids are stable."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, box

from landplan.survey import (HAMLET_COLUMNS, hamlet_ids_from_homesteads,
                             hamlets_from_homesteads)

CRS = "EPSG:4549"


def _rows(n_cols=4, rows=(0.0, 32.0), village="V1", prefix="Z", x0=0.0):
    """Rows of 12 m houses 8 m apart along x, one row per y in ``rows``."""
    plots, ids = [], []
    for r, y in enumerate(rows):
        for c in range(n_cols):
            ids.append(f"{prefix}{r}{c:02d}")
            plots.append(box(x0 + 20 * c, y, x0 + 20 * c + 12, y + 12))
    return gpd.GeoDataFrame({"homestead_id": ids, "household_id": None, "village_id": village,
                             "status": "occupied"}, geometry=plots, crs=CRS)


def _canal(kind="canal", y0=14.0, y1=29.0):
    return gpd.GeoDataFrame({"water_id": ["W1"], "kind": [kind]},
                            geometry=[box(-200, y0, 400, y1)], crs=CRS)


def _bridge(x=66.0):
    return gpd.GeoDataFrame({"road_id": ["B1"], "road_class": ["village"], "bridge": [True]},
                            geometry=[LineString([(x, 0), (x, 45)])], crs=CRS)


def test_gap_threshold_joins_and_splits():
    hs = _rows(rows=(0.0,))
    hs.loc[hs.index[-1], "geometry"] = box(200, 0, 212, 12)  # 140 m from the rest
    ids = hamlet_ids_from_homesteads(hs)
    assert ids.tolist() == ["V1-Z000"] * 3 + ["V1-Z003"]
    assert hamlet_ids_from_homesteads(hs, max_gap_m=150).nunique() == 1
    assert hamlet_ids_from_homesteads(hs, max_gap_m=5).nunique() == 4


def test_canal_separates_and_a_bridge_joins():
    hs = _rows()
    assert hamlet_ids_from_homesteads(hs).nunique() == 1  # 20 m apart, no water
    split = hamlet_ids_from_homesteads(hs, water=_canal())
    assert split.tolist() == ["V1-Z000"] * 4 + ["V1-Z100"] * 4
    joined = hamlet_ids_from_homesteads(hs, water=_canal(), roads=_bridge())
    assert joined.nunique() == 1
    # a road over the canal that is not a bridge does not join
    not_bridge = _bridge().assign(bridge=False)
    assert hamlet_ids_from_homesteads(hs, water=_canal(), roads=not_bridge).nunique() == 2
    # a bridge far along the canal does not join these rows
    assert hamlet_ids_from_homesteads(hs, water=_canal(), roads=_bridge(x=300)).nunique() == 2


def test_ponds_do_not_separate_unless_asked():
    hs = _rows()
    pond = _canal(kind="pond")
    assert hamlet_ids_from_homesteads(hs, water=pond).nunique() == 1
    assert hamlet_ids_from_homesteads(hs, water=pond, barrier_kinds=None).nunique() == 2


def test_plots_touching_a_canal_bank_stay_joined_along_it():
    hs = _rows(rows=(0.0,))
    bank = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[box(-200, 12, 400, 40)], crs=CRS)
    assert hamlet_ids_from_homesteads(hs, water=bank).nunique() == 1


def test_villages_are_never_joined():
    a = _rows(rows=(0.0,), village="V1", prefix="A")
    b = _rows(rows=(20.0,), village="V2", prefix="B")
    ids = hamlet_ids_from_homesteads(pd.concat([a, b], ignore_index=True))
    assert ids.tolist() == ["V1-A000"] * 4 + ["V2-B000"] * 4


def test_ids_are_stable_under_reordering_and_edits_elsewhere():
    left = _rows(rows=(0.0,), prefix="A")
    right = _rows(rows=(0.0,), prefix="B", x0=500)
    hs = pd.concat([left, right], ignore_index=True)
    base = dict(zip(hs["homestead_id"], hamlet_ids_from_homesteads(hs)))
    shuffled = hs.sample(frac=1, random_state=3)
    again = hamlet_ids_from_homesteads(shuffled)
    assert again.index.equals(shuffled.index)
    assert dict(zip(shuffled["homestead_id"], again)) == base
    # remove a plot of the right hamlet and add one far away: the left hamlet keeps its id
    edited = pd.concat([hs[hs["homestead_id"] != "B002"],
                        _rows(n_cols=1, rows=(0.0,), prefix="C", x0=2000)], ignore_index=True)
    ids = dict(zip(edited["homestead_id"], hamlet_ids_from_homesteads(edited)))
    assert {ids[z] for z in left["homestead_id"]} == {"V1-A000"}
    assert ids["C000"] == "V1-C000"


@pytest.fixture
def two_hamlets():
    """Hamlet A (4 plots) and hamlet B (2 plots, far away). H1 holds A000 (vacant) and B000
    (occupied, kept); H2 holds A001; A002 and A003 have no household; B001 belongs to H3."""
    a = _rows(rows=(0.0,), prefix="A")
    b = _rows(n_cols=2, rows=(0.0,), prefix="B", x0=1000)
    hs = pd.concat([a, b], ignore_index=True)
    hs["household_id"] = ["H1", "H2", None, None, "H1", "H3"]
    hs["status"] = ["vacant", "occupied", "occupied", "occupied", "occupied", "occupied"]
    hh = pd.DataFrame({"household_id": ["H1", "H2", "H3", "H4"], "village_id": "V1",
                       "residence": "resident", "willing_to_relocate": [True, True, None, True]})
    villages = gpd.GeoDataFrame({"village_id": ["V1"], "town_id": ["T1"], "name": ["竹林村"]},
                                geometry=[box(-100, -100, 2000, 100)], crs=CRS)
    return hs, hh, villages


def test_hamlet_table(two_hamlets):
    hs, hh, villages = two_hamlets
    h = hamlets_from_homesteads(hs, hh, villages=villages)
    assert list(h.columns) == list(HAMLET_COLUMNS)
    assert h["hamlet_id"].tolist() == ["V1-A000", "V1-B000"]
    assert h["town_id"].tolist() == ["T1", "T1"]
    assert h["n_homesteads"].tolist() == [4, 2]
    # H1 is counted once, in the hamlet of its kept (occupied) plot B000
    assert h["households"].tolist() == [1, 2]
    assert h["households_willing"].tolist() == [1, 1]
    assert h["homestead_area_m2"].tolist() == pytest.approx([4 * 144.0, 2 * 144.0])
    assert not h["retained"].any()
    assert h.crs.to_epsg() == 4549
    assert h["households"].dtype == "int64" and h["hamlet_id"].dtype == "str"


def test_footprints_cover_their_plots_and_fill_the_gaps(two_hamlets):
    hs, hh, _ = two_hamlets
    ids = hamlet_ids_from_homesteads(hs)
    h = hamlets_from_homesteads(hs, hh, hamlet_ids=ids).set_index("hamlet_id")
    for hid, grp in hs.groupby(ids):
        fp = h.loc[hid, "geometry"]
        assert fp.geom_type == "Polygon"
        assert fp.contains(shapely.union_all(grp.geometry.to_numpy()))
        # the footprint is close around the houses: the hull of the row plus a margin
        hull = shapely.convex_hull(shapely.union_all(grp.geometry.to_numpy()))
        assert fp.area < hull.buffer(1.0).area
    assert h.loc["V1-A000", "geometry"].contains(shapely.Point(16, 6))  # the gap between plots


def test_plots_without_geometry_get_no_hamlet(two_hamlets):
    hs, hh, _ = two_hamlets
    hs.loc[2, "geometry"] = None
    ids = hamlet_ids_from_homesteads(hs)
    assert pd.isna(ids.iloc[2])
    assert ids.iloc[[0, 1, 3]].nunique() == 1
    h = hamlets_from_homesteads(hs, hh, hamlet_ids=ids)
    assert h["n_homesteads"].sum() == len(hs) - 1


def test_hamlet_ids_must_be_row_aligned(two_hamlets):
    hs, hh, _ = two_hamlets
    ids = hamlet_ids_from_homesteads(hs).reset_index(drop=True)
    ids.index = ids.index + 100
    with pytest.raises(ValueError, match="row-aligned"):
        hamlets_from_homesteads(hs, hh, hamlet_ids=ids)


def test_tiny_project_hamlets(tiny):
    h = hamlets_from_homesteads(tiny["homesteads"], tiny["households"], water=tiny["water"],
                                roads=tiny["roads"], villages=tiny["villages"])
    # each village's five plots stand 8 m apart in one row: one hamlet per village
    assert h["hamlet_id"].tolist() == ["T1V1-T1V1Z000", "T1V2-T1V2Z000", "T2V1-T2V1Z000"]
    assert h["town_id"].tolist() == ["T1", "T1", "T2"]
    assert h["households"].tolist() == [4, 4, 4]
    assert h["households_willing"].tolist() == [3, 3, 3]  # household 1 of each is unwilling
    assert np.allclose(h["homestead_area_m2"], 4 * 144 + 196)
