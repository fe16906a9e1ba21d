"""一户多宅 (keep rules, surplus plots, the household table) and 一宅超限."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landplan.errors import ValidationError
from landplan.scenario import load_scenario
from landplan.survey import (kept_homesteads, multiple_homesteads, oversize_homesteads,
                             plot_standard_m2)

CRS = "EPSG:4549"


@pytest.fixture
def three_plots():
    """Household H1 with three plots: Z1 vacant and largest, Z2 occupied, Z3 its registered
    address (dilapidated); household H2 with one plot; household H3 with none."""
    hs = gpd.GeoDataFrame(
        {"homestead_id": ["Z1", "Z2", "Z3", "Z4"], "household_id": ["H1", "H1", "H1", "H2"],
         "village_id": "V1", "status": ["vacant", "occupied", "dilapidated", "occupied"]},
        geometry=[box(0, 0, 15, 15), box(30, 0, 40, 10), box(60, 0, 70, 12),
                  box(90, 0, 100, 10)], crs=CRS)
    hh = pd.DataFrame({"household_id": ["H1", "H2", "H3"], "village_id": "V1",
                       "residence": "resident", "registered_homestead_id": ["Z3", "Z4", None]})
    return hs, hh


@pytest.mark.parametrize("rule, kept", [("occupied", "Z2"), ("largest", "Z1"),
                                        ("registered", "Z3")])
def test_keep_rules(three_plots, rule, kept):
    hs, hh = three_plots
    k = kept_homesteads(hs, hh, keep_rule=rule)
    h1 = k[k["household_id"] == "H1"]
    assert h1.loc[h1["kept"], "homestead_id"].tolist() == [kept]
    assert sorted(h1.loc[h1["surplus"], "homestead_id"]) == sorted({"Z1", "Z2", "Z3"} - {kept})
    assert (h1["kept_by"] == rule).all()
    h2 = k[k["household_id"] == "H2"]
    assert h2["kept"].tolist() == [True] and h2["kept_by"].tolist() == ["only_plot"]


def test_scenario_keep_rule_is_the_default(three_plots):
    hs, hh = three_plots
    sc = load_scenario().replace(**{"homestead.keep_rule": "largest"})
    k = kept_homesteads(hs, hh, scenario=sc)
    assert k.loc[k["kept"] & (k["household_id"] == "H1"), "homestead_id"].tolist() == ["Z1"]


def test_registered_rule_falls_back_when_the_address_is_not_one_of_its_plots(three_plots):
    hs, hh = three_plots
    hh = hh.assign(registered_homestead_id=["Z4", "Z4", None])  # H1 registered on H2's plot
    k = kept_homesteads(hs, hh, keep_rule="registered")
    h1 = k[k["household_id"] == "H1"]
    assert h1.loc[h1["kept"], "homestead_id"].tolist() == ["Z2"]  # the occupied one
    assert set(h1["kept_by"]) == {"occupied (no registered plot)"}


def test_ties_are_broken_by_the_smallest_id_whatever_the_row_order():
    plots = [box(30 * i, 0, 30 * i + 10, 10) for i in range(4)]
    hs = gpd.GeoDataFrame({"homestead_id": ["Z9", "Z3", "Z5", "Z4"], "household_id": "H1",
                           "village_id": "V1", "status": "occupied"}, geometry=plots, crs=CRS)
    hh = pd.DataFrame({"household_id": ["H1"], "village_id": "V1", "residence": "resident"})
    for seed in range(5):
        shuffled = hs.sample(frac=1, random_state=seed)
        k = kept_homesteads(shuffled, hh, keep_rule="occupied")
        assert k.index.equals(shuffled.index)
        assert k.loc[k["kept"], "homestead_id"].tolist() == ["Z3"]


def test_household_table_covers_every_household(three_plots):
    hs, hh = three_plots
    t = multiple_homesteads(hs, hh, keep_rule="occupied")
    assert t.index.equals(hh.index)
    assert t["household_id"].tolist() == ["H1", "H2", "H3"]
    assert t["n_homesteads"].tolist() == [3, 1, 0]
    assert t["multiple"].tolist() == [True, False, False]
    assert t["surplus_homestead_ids"].tolist() == ["Z1;Z3", "", ""]
    assert t["n_surplus"].tolist() == [2, 0, 0]
    assert t.loc[0, "homestead_area_m2"] == pytest.approx(225 + 100 + 120)
    assert t.loc[0, "surplus_area_m2"] == pytest.approx(225 + 120)
    assert t.loc[0, "kept_area_m2"] == pytest.approx(100)
    assert pd.isna(t.loc[2, "kept_homestead_id"])
    # every plot of a registered household is accounted for once
    assert t["n_homesteads"].sum() == hs["household_id"].isin(hh["household_id"]).sum()
    assert (t["homestead_area_m2"] - t["kept_area_m2"] - t["surplus_area_m2"]).abs().max() < 1e-9


def test_plots_of_unknown_households_are_neither_kept_nor_surplus(three_plots):
    hs, hh = three_plots
    hs = hs.assign(household_id=["H1", "H1", None, "H8"])
    k = kept_homesteads(hs, hh)
    assert k["kept"].tolist() == [False, True, False, False]
    assert k["surplus"].tolist() == [True, False, False, False]
    assert k["household_plots"].tolist() == [2, 2, 0, 0]


def test_oversize_against_the_standard():
    hs = gpd.GeoDataFrame({"homestead_id": ["Z1", "Z2", "Z3"], "household_id": "H1",
                           "village_id": "V1", "status": "occupied"},
                          geometry=[box(0, 0, 10, 13), box(20, 0, 30, 14), box(40, 0, 50, 15)],
                          crs=CRS)
    other = oversize_homesteads(hs)  # 140 m2 on other land
    assert other["oversize"].tolist() == [False, False, True]
    assert other["excess_m2"].tolist() == pytest.approx([0.0, 0.0, 10.0])
    cultivated = oversize_homesteads(hs, land="cultivated")  # 125 m2
    assert cultivated["excess_m2"].tolist() == pytest.approx([5.0, 15.0, 25.0])
    assert oversize_homesteads(hs, standard_m2=150)["oversize"].sum() == 0
    sc = load_scenario().replace(**{"homestead.plot_standard_other_m2": 100.0})
    assert oversize_homesteads(hs, scenario=sc)["excess_m2"].tolist() == \
        pytest.approx([30.0, 40.0, 50.0])


def test_plot_standard_choices():
    sc = load_scenario()
    assert plot_standard_m2(sc) == sc.homestead["plot_standard_other_m2"]
    assert plot_standard_m2(sc, land="cultivated") == sc.homestead["plot_standard_cultivated_m2"]
    with pytest.raises(ValueError, match="land must be"):
        plot_standard_m2(land="paddy")
    with pytest.raises(ValueError, match="positive"):
        plot_standard_m2(standard_m2=0)


def test_unknown_keep_rule_is_refused(three_plots):
    hs, hh = three_plots
    with pytest.raises(ValidationError, match="keep_rule 'newest'"):
        kept_homesteads(hs, hh, keep_rule="newest")


def test_tiny_household_with_two_plots(tiny):
    t = multiple_homesteads(tiny["homesteads"], tiny["households"])
    multi = t[t["multiple"]]
    assert multi["household_id"].tolist() == ["T1V1H003", "T1V2H003", "T2V1H003"]
    # the occupied Z003 is kept, the collapsed Z004 is surplus
    assert multi["kept_homestead_id"].str[-4:].tolist() == ["Z003"] * 3
    assert multi["surplus_homestead_ids"].str[-4:].tolist() == ["Z004"] * 3
    assert np.allclose(multi["kept_excess_m2"], 4.0)
