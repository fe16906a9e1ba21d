"""Idle homesteads: every reason, one class per plot, the scenario's settings."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landplan.errors import ValidationError
from landplan.scenario import load_scenario
from landplan.survey import CLASSES, REASONS, idle_homesteads, survey_homesteads

CRS = "EPSG:4549"


def _plots(rows, *, side=10.0):
    """Homesteads from (id, household, status, vacant_since) rows, 10 m squares 30 m apart."""
    ids, hh, status, since = zip(*rows)
    return gpd.GeoDataFrame(
        {"homestead_id": list(ids), "household_id": list(hh), "village_id": "V1",
         "landuse_code": "0702", "status": list(status),
         "vacant_since": pd.array(list(since), dtype="Int64")},
        geometry=[box(30 * i, 0, 30 * i + side, side) for i in range(len(rows))], crs=CRS)


def _households(rows):
    ids, residence = zip(*rows)
    return pd.DataFrame({"household_id": list(ids), "village_id": "V1", "members": 3,
                         "residence": list(residence)})


def _reasons(flags, hid):
    row = flags.set_index("homestead_id").loc[hid]
    return {r for r in REASONS if row[f"reason_{r}"]}


def test_tiny_project_every_plot_by_hand(tiny):
    flags = survey_homesteads(tiny["homesteads"], tiny["households"])
    # each village: H0 resident occupied (Z0), H1 resident occupied 196 m2 (Z1),
    # H2 migrant vacant since 2003 (Z2), H3 nobody living there: Z3 occupied, Z4 collapsed
    for vid in ("T1V1", "T1V2", "T2V1"):
        assert _reasons(flags, f"{vid}Z000") == set()
        assert _reasons(flags, f"{vid}Z001") == set()
        assert _reasons(flags, f"{vid}Z002") == {"long_vacant", "household_away"}
        assert _reasons(flags, f"{vid}Z003") == {"household_away"}
        assert _reasons(flags, f"{vid}Z004") == {"dilapidated", "long_vacant",
                                                 "household_away", "surplus"}
    by_id = flags.set_index("homestead_id")
    # the 12 m squares (144 m2) and the 14 m one (196 m2) exceed the 140 m2 standard
    assert by_id.loc["T1V1Z000", "survey_class"] == "oversize"
    assert by_id.loc["T1V1Z000", "excess_m2"] == pytest.approx(4.0)
    assert by_id.loc["T1V1Z001", "excess_m2"] == pytest.approx(56.0)
    assert by_id.loc["T1V1Z004", "reasons"] == "dilapidated;long_vacant;household_away;surplus"
    assert by_id.loc["T1V1Z004", "reasons_zh"] == "房屋危旧或倒塌;长期闲置;全户外出;一户多宅多余"
    assert by_id.loc["T1V1Z004", "primary_reason"] == "dilapidated"
    assert by_id.loc["T1V1Z004", "n_reasons"] == 4


def test_reason_strings_match_boolean_columns(tiny):
    flags = survey_homesteads(tiny["homesteads"], tiny["households"])
    for _, row in flags.iterrows():
        listed = set(row["reasons"].split(";")) - {""}
        assert listed == {r for r in REASONS if row[f"reason_{r}"]}
        assert row["idle"] == bool(listed)
        assert row["n_reasons"] == len(listed)


def test_vacancy_threshold_follows_scenario_and_survey_year():
    hs = _plots([("Z1", "H1", "vacant", 2006), ("Z2", "H2", "vacant", 2007),
                 ("Z3", "H3", "vacant", 2008)])
    hh = _households([("H1", "resident"), ("H2", "resident"), ("H3", "resident")])
    flags = survey_homesteads(hs, hh)  # 2008 plan: idle after 2 years
    assert flags["reason_long_vacant"].tolist() == [True, False, False]
    assert survey_homesteads(hs, hh, vacant_years=1)["reason_long_vacant"].tolist() == \
        [True, True, False]
    assert survey_homesteads(hs, hh, survey_year=2010)["reason_long_vacant"].tolist() == \
        [True, True, True]
    sc = load_scenario().replace(**{"homestead.idle_vacant_years": 0})
    assert survey_homesteads(hs, hh, scenario=sc)["reason_long_vacant"].all()


def test_occupied_or_undated_plots_are_not_long_vacant():
    hs = _plots([("Z1", "H1", "occupied", 2000), ("Z2", "H2", "vacant", None)])
    hh = _households([("H1", "resident"), ("H2", "resident")])
    flags = survey_homesteads(hs, hh)
    assert not flags["reason_long_vacant"].any()
    assert flags["survey_class"].tolist() == ["in_use", "in_use"]


def test_each_reason_alone():
    hs = _plots([("Z1", None, "occupied", None), ("Z2", "H9", "occupied", None),
                 ("Z3", "H3", "dilapidated", None), ("Z4", "H4", "collapsed", None),
                 ("Z5", "H5", "occupied", None), ("Z6", "H6", "occupied", None),
                 ("Z7", "H7", "occupied", None)])
    hh = _households([("H3", "resident"), ("H4", "resident"), ("H5", "migrant"),
                      ("H6", "none"), ("H7", "resident")])
    flags = survey_homesteads(hs, hh)
    assert [_reasons(flags, z) for z in ("Z1", "Z2", "Z3", "Z4", "Z5", "Z6", "Z7")] == [
        {"no_household"}, {"no_household"}, {"dilapidated"}, {"dilapidated"},
        {"household_away"}, {"household_away"}, set()]
    only_migrant = survey_homesteads(hs, hh, away_residence=("migrant",))
    assert _reasons(only_migrant, "Z6") == set()


def test_surplus_plot_in_use_gets_the_surplus_class():
    hs = _plots([("Z1", "H1", "occupied", None), ("Z2", "H1", "occupied", None)])
    hs.loc[1, "geometry"] = box(30, 0, 38, 8)  # smaller: the occupied rule keeps the larger
    flags = survey_homesteads(hs, _households([("H1", "resident")]))
    assert flags["survey_class"].tolist() == ["in_use", "surplus"]
    assert flags["reclaimable_m2"].tolist() == [0.0, pytest.approx(64.0)]
    assert flags["reclaim_reason"].tolist()[1] == "surplus"
    assert flags["kept"].tolist() == [True, False]


def test_every_plot_in_exactly_one_class_and_areas_add_up(tiny):
    flags = survey_homesteads(tiny["homesteads"], tiny["households"])
    assert set(flags["survey_class"]) <= set(CLASSES)
    assert flags["survey_class"].notna().all()
    by_class = flags.groupby("survey_class")["area_m2"].sum()
    assert by_class.sum() == pytest.approx(tiny["homesteads"].geometry.area.sum())
    # idle and surplus plots free their whole area; oversize ones their excess
    whole = flags["survey_class"].isin(["idle", "surplus"])
    assert np.allclose(flags.loc[whole, "reclaimable_m2"], flags.loc[whole, "area_m2"])
    over = flags["survey_class"] == "oversize"
    assert np.allclose(flags.loc[over, "reclaimable_m2"], flags.loc[over, "excess_m2"])
    assert (flags.loc[flags["survey_class"] == "in_use", "reclaimable_m2"] == 0).all()


def test_row_aligned_index_kept_and_input_untouched(tiny):
    hs = tiny["homesteads"].set_index(pd.Index([f"r{i}" for i in range(15)])).iloc[::-1]
    before = hs.copy()
    flags = survey_homesteads(hs, tiny["households"])
    assert flags.index.equals(hs.index)
    assert flags["homestead_id"].tolist() == hs["homestead_id"].tolist()
    pd.testing.assert_frame_equal(hs, before)
    assert "area_m2" not in hs.columns


def test_idle_homesteads_keeps_only_idle_rows(tiny):
    idle = idle_homesteads(tiny["homesteads"], tiny["households"])
    assert sorted(idle["homestead_id"].str[-4:].unique()) == ["Z002", "Z003", "Z004"]
    assert idle["idle"].all() and len(idle) == 9


def test_geographic_input_is_reprojected_and_areas_are_metric(tiny):
    hs4326 = tiny["homesteads"].to_crs("EPSG:4326")
    flags = survey_homesteads(hs4326, tiny["households"])
    assert flags.crs.to_epsg() == 4549
    assert flags["area_m2"].to_numpy() == pytest.approx(
        tiny["homesteads"].geometry.area.to_numpy(), rel=1e-6)


def test_unusable_input_is_refused_with_rows_and_fix(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[3, "homestead_id"] = hs.loc[2, "homestead_id"]
    hs.loc[5, "status"] = "ruined"
    with pytest.raises(ValidationError) as err:
        survey_homesteads(hs, tiny["households"])
    rules = {p.rule: p for p in err.value.problems}
    assert rules["duplicate_id"].rows == ["T1V1Z002"]
    assert rules["bad_value"].rows == ["T1V2Z000"]
    assert "use one of" in rules["bad_value"].fix

    with pytest.raises(ValidationError) as err:
        survey_homesteads(tiny["homesteads"].drop(columns="status"), tiny["households"])
    assert err.value.problems[0].rule == "missing_column"
    assert "status" in str(err.value)

    with pytest.raises(ValidationError) as err:
        survey_homesteads(tiny["homesteads"].set_crs(None, allow_override=True),
                          tiny["households"])
    assert err.value.problems[0].rule == "missing_crs"


def test_text_and_numbers_from_a_spreadsheet_are_coerced():
    hs = _plots([("Z1", "H1", "vacant", 2001)])
    hs["vacant_since"] = ["2001"]
    hh = pd.DataFrame({"household_id": [1], "village_id": "V1", "residence": "resident"})
    hs["household_id"] = [1.0]
    flags = survey_homesteads(hs, hh)
    assert flags["household_id"].tolist() == ["1"]
    assert _reasons(flags, "Z1") == {"long_vacant"}
