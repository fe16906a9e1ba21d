"""Land shares: proportional to weighted contracted area, exact sums, every parcel counted."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landplan.errors import ValidationError
from landplan.transfer import (land_shares, largest_remainder, linear_quality_weights,
                               operation_blocks)
from landplan.units import m2_to_mu


def block(areas_m2, owners, grades=None, rents=None):
    xs = np.cumsum([0] + [a / 100 for a in areas_m2[:-1]])
    return gpd.GeoDataFrame({
        "parcel_id": [f"P{k}" for k in range(len(areas_m2))], "household_id": owners,
        "village_id": "V1", "quality_grade": grades if grades is not None else [None] * len(owners),
        "rent_per_mu": rents if rents is not None else [None] * len(owners)},
        geometry=[box(x, 0, x + a / 100, 100) for x, a in zip(xs, areas_m2)], crs="EPSG:4549")


def test_shares_follow_contracted_area_and_sum_exactly():
    rng = np.random.default_rng(3)
    areas = rng.uniform(300, 3000, 40)
    owners = [f"H{k % 13:02d}" for k in range(40)]
    f = block(list(areas), owners)
    ls = land_shares(f, f["parcel_id"], rent_per_mu=650)
    h = ls.holders.set_index("household_id")
    want = pd.Series(areas, index=owners).groupby(level=0).sum()
    np.testing.assert_allclose(h.loc[want.index, "area_m2"], want)
    total = round(m2_to_mu(areas.sum()), 2)
    assert h["shares"].sum() == pytest.approx(total)
    # each holder's shares within one share-unit (0.01) of its exact proportion
    exact = m2_to_mu(want)
    assert np.all(np.abs(h.loc[want.index, "shares"] - exact) <= 0.01 + 1e-9)
    # dividends: the pool, to the fen, shared by shares
    pool = round(650 * m2_to_mu(areas.sum()), 2)
    assert h["dividend_yuan"].sum() == pytest.approx(pool, abs=1e-6)
    np.testing.assert_allclose(h["dividend_yuan"], pool * h["share_fraction"], atol=0.011)
    assert ls.summary["parcels"] == 40 and ls.summary["households"] == 13
    assert len(ls.parcels) == 40


def test_better_land_weighs_more_grade_1_is_best():
    w = linear_quality_weights(best=1.2, worst=0.8)
    assert w[1] > w[8] > w[15]
    f = block([1000.0, 1000.0], ["H1", "H2"], grades=[1, 15])
    ls = land_shares(f, ["P0", "P1"], quality_weights=w, total_shares=100, dividend_total=1000)
    h = ls.holders.set_index("household_id")
    assert h.loc["H1", "shares"] == 60 and h.loc["H2", "shares"] == 40
    assert h.loc["H1", "dividend_yuan"] == 600 and h.loc["H2", "dividend_yuan"] == 400
    # parcels without a grade weigh 1
    f2 = block([1000.0, 1000.0], ["H1", "H2"], grades=[1, None])
    h2 = land_shares(f2, ["P0", "P1"], quality_weights=w, total_shares=22,
                     dividend_total=0).holders.set_index("household_id")
    assert h2.loc["H1", "shares"] == 12 and h2.loc["H2", "shares"] == 10


def test_collective_land_is_a_holder_too():
    f = block([1000.0, 2000.0, 3000.0], ["H1", None, "H1"])
    ls = land_shares(f, ["P0", "P1", "P2"], rent_per_mu=600)
    h = ls.holders
    assert h["collective"].tolist() == [False, True]
    assert h["area_m2"].tolist() == pytest.approx([4000.0, 2000.0])
    assert ls.summary["households"] == 1


def test_rent_from_the_records_and_whole_shares():
    f = block([1000.0, 2000.0], ["H1", "H2"], rents=[600.0, 900.0])
    ls = land_shares(f, ["P0", "P1"], share_decimals=0)
    assert ls.summary["rent_per_mu"] == pytest.approx(800.0)          # area-weighted
    assert ls.summary["dividend_total_yuan"] == pytest.approx(800 * m2_to_mu(3000.0), abs=0.01)
    # 1.5 + 3.0 = 4.5 weighted mu: 5 whole shares (half rounds up, 四舍五入), split 1.67 : 3.33
    assert ls.holders["shares"].tolist() == [2.0, 3.0]
    with pytest.raises(ValueError, match="rent_per_mu"):
        land_shares(block([1000.0], ["H1"]), ["P0"])


def test_bad_input_names_the_parcels():
    f = block([1000.0, 1000.0], ["H1", "H2"], grades=[3, 7])
    with pytest.raises(ValidationError) as e:
        land_shares(f, ["P0", "P9", "P0"], rent_per_mu=1)
    assert e.value.rules() == {"unknown_parcel", "duplicate_parcel"}
    assert "P9" in str(e.value)
    with pytest.raises(ValidationError, match=r"grades \[7\] have no weight"):
        land_shares(f, ["P0", "P1"], quality_weights={3: 1.0}, rent_per_mu=1)
    with pytest.raises(ValidationError, match="positive"):
        land_shares(f, ["P0", "P1"], quality_weights={3: 1.0, 7: 0}, rent_per_mu=1)


def test_largest_remainder_properties():
    rng = np.random.default_rng(5)
    for _ in range(200):
        w = rng.uniform(0, 10, rng.integers(1, 30))
        total = int(rng.integers(1, 1000))
        got = largest_remainder(w, total)
        assert got.sum() == total
        quota = w / w.sum() * total
        assert np.all(np.abs(got - quota) < 1 + 1e-9)
    assert largest_remainder([1, 1, 1], 2).tolist() == [1, 1, 0]
    with pytest.raises(ValueError):
        largest_remainder([0, 0], 3)


def test_shares_of_a_block_from_operation_blocks():
    f = block([1500.0] * 6, ["H1", "H1", "H2", "H3", "H3", "H3"])
    f["transfer_mode"] = "shares"
    f["transfer_operator"] = "竹林土地股份合作社"
    f["transfer_start_year"] = 2008
    f["transfer_term_years"] = 10
    res = operation_blocks(f, geometry=False)
    ids = res.parcels.loc[res.parcels["block_all"] == "A0001", "parcel_id"]
    ls = land_shares(f, ids, rent_per_mu=700)
    assert ls.holders["shares"].tolist() == pytest.approx([4.5, 2.25, 6.75])
    assert ls.holders["dividend_yuan"].tolist() == pytest.approx([3150.0, 1575.0, 4725.0])
