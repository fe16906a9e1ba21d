"""Progress against the plan's targets: areas, shares, modes, years, the two target rules."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landplan.project import Project
from landplan.scenario import load_scenario
from landplan.transfer import (parcel_transfer_state, progress_by_year, transfer_progress,
                               zh_headings)
from landplan.units import m2_to_mu, mu_to_m2


def plan_towns(areas_mu: dict, *, modes=None, start=2008, term=10):
    """Five towns named as in the plan, one village each, one transferred parcel of the given
    mu per town and one untransferred parcel of 1,000 mu."""
    names = list(areas_mu)
    towns = pd.DataFrame({"town_id": [f"T{k}" for k in range(len(names))], "name": names})
    villages = pd.DataFrame({"village_id": [f"V{k}" for k in range(len(names))],
                             "town_id": towns["town_id"], "name": [f"{n}村" for n in names]})
    rows, geoms = [], []
    for k, name in enumerate(names):
        side = 1000.0
        width = mu_to_m2(areas_mu[name]) / side
        rows.append({"parcel_id": f"P{k}a", "village_id": f"V{k}",
                     "transfer_mode": (modes or {}).get(name, "lease"), "transfer_operator": "合作社",
                     "transfer_start_year": start, "transfer_term_years": term})
        geoms.append(box(k * 10000, 0, k * 10000 + width, side))
        rows.append({"parcel_id": f"P{k}b", "village_id": f"V{k}", "transfer_mode": None,
                     "transfer_operator": None, "transfer_start_year": None,
                     "transfer_term_years": None})
        geoms.append(box(k * 10000 + 5000, 0, k * 10000 + 5000 + mu_to_m2(1000) / side, side))
    farmland = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4549")
    return {"towns": towns, "villages": villages, "farmland": farmland}


def test_tiny_areas_match_the_geometry(tiny):
    p = transfer_progress(Project(tiny))
    f = tiny["farmland"]
    vt = dict(zip(tiny["villages"]["village_id"], tiny["villages"]["town_id"]))
    town = f["village_id"].map(vt)
    moved = f["transfer_mode"].notna()
    for tid in ("T1", "T2"):
        want = m2_to_mu(f.geometry.area[moved & (town == tid)].sum())
        total = m2_to_mu(f.geometry.area[town == tid].sum())
        assert p.loc[tid, "transferred_mu"] == pytest.approx(want)
        assert p.loc[tid, "farmland_mu"] == pytest.approx(total)
        assert p.loc[tid, "transferred_share"] == pytest.approx(want / total)
        assert p.loc[tid, "lease_mu"] == pytest.approx(want)
        assert p.loc[tid, "shares_mu"] == 0 and p.loc[tid, "exchange_mu"] == 0
    assert p.loc["T1", "target_mu"] == 3000 and p.loc["T2", "target_mu"] == 5000
    assert not p["on_track"].any()
    assert p.loc["T1", "short_by_mu"] == pytest.approx(3000 - p.loc["T1", "transferred_mu"])


def test_village_level_adds_up_to_towns(tiny):
    v = transfer_progress(tiny, level="village")
    t = transfer_progress(tiny, level="town")
    sums = v.groupby("town_id")[["farmland_mu", "transferred_mu", "lease_mu", "parcels"]].sum()
    pd.testing.assert_frame_equal(sums, t[["farmland_mu", "transferred_mu", "lease_mu", "parcels"]],
                                  check_names=False)
    # names kept as given (escaping them is the map's job)
    assert v.loc["T1V2", "village"] == "<b>东港村</b>"


def test_exceed_and_at_least_at_exactly_the_target():
    layers = plan_towns({"凤桥镇": 5000, "七星镇": 5000.5, "新丰镇": 3000, "余新镇": 2999.5,
                         "大桥镇": 3200})
    p = transfer_progress(layers).set_index("town")
    assert p.loc["凤桥镇", "transferred_mu"] == pytest.approx(5000)
    assert not p.loc["凤桥镇", "on_track"]            # 突破 5000: 5000 is not enough
    assert p.loc["凤桥镇", "short_by_mu"] == 0.0
    assert "must exceed 5,000" in p.loc["凤桥镇", "status"]
    assert "须突破" in p.loc["凤桥镇", "status_zh"]
    assert p.loc["七星镇", "on_track"]
    assert p.loc["新丰镇", "on_track"]                 # 3000亩以上: 3000 is enough
    assert not p.loc["余新镇", "on_track"]
    assert p.loc["余新镇", "short_by_mu"] == pytest.approx(0.5)
    assert p.loc["余新镇", "status"].startswith("short by 0.5 mu")
    assert p.loc["大桥镇", "status"].startswith("on track")
    assert p["target_rule"].tolist() == ["exceed", "exceed", "at_least", "at_least", "at_least"]


def test_town_without_target_or_farmland():
    layers = plan_towns({"新丰镇": 100})
    layers["towns"] = pd.concat([layers["towns"], pd.DataFrame({"town_id": ["TX"],
                                                                "name": ["东栅街道"]})])
    p = transfer_progress(layers)
    assert p.loc["TX", "farmland_mu"] == 0 and p.loc["TX", "transferred_mu"] == 0
    assert np.isnan(p.loc["TX", "transferred_share"])
    assert pd.isna(p.loc["TX", "on_track"]) and np.isnan(p.loc["TX", "target_mu"])
    assert p.loc["TX", "status"].startswith("no target")


def test_term_window_counts_start_but_not_end_year():
    layers = plan_towns({"新丰镇": 3000}, start=2007, term=10)
    got = {y: transfer_progress(layers, year=y).loc["T0", "transferred_mu"]
           for y in (2006, 2007, 2016, 2017)}
    assert got[2006] == 0 and got[2017] == 0
    assert got[2007] == pytest.approx(3000) and got[2016] == pytest.approx(3000)


def test_modes_are_split_and_sum_to_the_total():
    layers = plan_towns({"新丰镇": 100, "余新镇": 200, "大桥镇": 300},
                        modes={"新丰镇": "lease", "余新镇": "shares", "大桥镇": "exchange"})
    p = transfer_progress(layers)
    modes = p[["lease_mu", "shares_mu", "exchange_mu"]]
    np.testing.assert_allclose(modes.sum(axis=1), p["transferred_mu"])
    assert p.loc["T1", "shares_mu"] == pytest.approx(200)
    assert p.loc["T2", "exchange_mu"] == pytest.approx(300)


def test_by_year_stock_and_flow(tiny):
    y = progress_by_year(tiny, years=range(2005, 2019))
    t1 = y[y["town_id"] == "T1"].set_index("year")
    parcel_mu = m2_to_mu(1500.0)
    assert t1.loc[2007, "started_mu"] == pytest.approx(4 * parcel_mu)
    assert t1["started_mu"].drop(2007).eq(0).all()
    assert t1.loc[2006, "in_force_mu"] == 0 and t1.loc[2017, "in_force_mu"] == 0
    np.testing.assert_allclose(t1.loc[2007:2016, "in_force_mu"], 4 * parcel_mu)
    assert not t1["on_track"].any()
    default = progress_by_year(tiny)
    assert default["year"].min() == 2007 and default["year"].max() == 2008


def test_a_parcel_is_counted_once_even_with_overlapping_records(tiny):
    rec = pd.DataFrame({"parcel_id": ["T1V1F002", "T1V1F002"], "transfer_mode": ["lease", "shares"],
                        "transfer_operator": ["甲", "乙"], "transfer_start_year": [2005, 2007],
                        "transfer_term_years": [10, 10], "rent_per_mu": [500.0, 600.0]})
    s = parcel_transfer_state(tiny["farmland"], year=2008, records=rec).set_index("parcel_id")
    assert s.loc["T1V1F002", "transfer_operator"] == "乙"
    assert s["transferred"].sum() == 1


def test_chinese_headings_and_the_scenario_can_change(tiny):
    s = load_scenario().replace(**{"towns.新丰镇.transfer_target_mu": 5.0})
    p = transfer_progress(tiny, scenario=s)
    assert p.loc["T1", "on_track"]
    zh = zh_headings(p)
    assert {"镇名称", "已流转面积(亩)", "流转比例", "出租(亩)", "是否达标", "差额(亩)"} <= set(zh.columns)


def test_by_year_agrees_with_progress_in_each_year(tiny):
    from landplan.transfer import apply_transfer_records
    t = pd.DataFrame({"地块编号": ["T1V1F002", "T1V1F002", "T2V1F003", "T1V2F004"],
                      "流转方式": ["出租", "入股", "置换", "出租"],
                      "流入方": ["甲", "乙", "镇政府", "丙"], "起始年": [2001, 2006, 2004, 2008],
                      "期限": [5, 20, 30, 1]})
    res = apply_transfer_records(tiny["farmland"], t)
    assert res.rejected.empty
    layers = dict(tiny, farmland=res.farmland)
    years = list(range(2000, 2011))
    by_year = progress_by_year(layers, years=years, records=res.records)
    for level in ("town", "village"):
        yv = progress_by_year(layers, level=level, years=years, records=res.records)
        key = "town_id" if level == "town" else "village_id"
        for y in years:
            p = transfer_progress(layers, level=level, year=y, records=res.records)
            got = yv[yv["year"] == y].set_index(key)
            for col in ("lease_mu", "shares_mu", "exchange_mu"):
                np.testing.assert_allclose(got.loc[p.index, col], p[col])
            np.testing.assert_allclose(got.loc[p.index, "in_force_mu"], p["transferred_mu"])
            if level == "town":
                assert got.loc[p.index, "on_track"].tolist() == p["on_track"].tolist()
    # every start is counted once, in its year
    starts = by_year.groupby("year")["started_mu"].sum()
    assert starts[2001] == starts[2006] == starts[2004] == pytest.approx(m2_to_mu(1500.0))
    assert starts[2008] == pytest.approx(m2_to_mu(1500.0))
