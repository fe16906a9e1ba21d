"""Reclaimable area per hamlet, village and town, and the township report tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landplan.survey import (RECLAIM_REASONS, SUMMARY_HEADINGS, multiple_homesteads,
                             reclaimable_area, survey_homesteads, survey_project, survey_summary,
                             zh_headings)
from landplan.units import M2_PER_MU


@pytest.fixture
def tiny_survey(tiny):
    return survey_project(tiny)


def test_reclaimable_by_village_by_hand(tiny, tiny_survey):
    v = tiny_survey.reclaimable_villages
    assert v.index.tolist() == ["T1V1", "T1V2", "T2V1"]
    assert v["town_id"].tolist() == ["T1", "T1", "T2"]
    # per village: idle Z002 (144 m2, primary long_vacant), Z003 (144, household_away),
    # Z004 (144, dilapidated); oversize Z000 (+4 m2) and Z001 (+56 m2)
    assert v["long_vacant_m2"].tolist() == pytest.approx([144.0] * 3)
    assert v["household_away_m2"].tolist() == pytest.approx([144.0] * 3)
    assert v["dilapidated_m2"].tolist() == pytest.approx([144.0] * 3)
    assert v["oversize_m2"].tolist() == pytest.approx([60.0] * 3)
    assert v["surplus_m2"].tolist() == [0.0] * 3  # Z004 is surplus but primarily dilapidated
    assert v["total_m2"].tolist() == pytest.approx([492.0] * 3)
    assert v["total_mu"].tolist() == pytest.approx([492.0 / M2_PER_MU] * 3)
    assert v["homesteads"].tolist() == [5, 5, 5] and v["reclaimable"].tolist() == [5, 5, 5]
    assert v["homestead_area_m2"].tolist() == pytest.approx([4 * 144 + 196.0] * 3)


def test_levels_reconcile(tiny_survey):
    flags = tiny_survey.homesteads
    total = flags["reclaimable_m2"].sum()
    for t in (tiny_survey.reclaimable_hamlets, tiny_survey.reclaimable_villages,
              tiny_survey.reclaimable_towns):
        reasons = t[[f"{r}_m2" for r in RECLAIM_REASONS]].sum(axis=1)
        assert np.allclose(reasons, t["total_m2"])
        assert t["total_m2"].sum() == pytest.approx(total)
        assert t["homesteads"].sum() == len(flags)
        assert np.allclose(t["total_mu"] * M2_PER_MU, t["total_m2"])
    towns = tiny_survey.reclaimable_towns
    assert towns.index.tolist() == ["T1", "T2"]
    assert towns.loc["T1", "total_m2"] == pytest.approx(2 * 492.0)
    hamlets = tiny_survey.reclaimable_hamlets
    assert hamlets.index.tolist() == tiny_survey.hamlets["hamlet_id"].tolist()
    assert list(hamlets.columns[:2]) == ["town_id", "village_id"]


def test_units_and_errors(tiny):
    flags = survey_homesteads(tiny["homesteads"], tiny["households"])
    mu = reclaimable_area(flags, by="town", villages=tiny["villages"], unit="mu")
    assert not any(c.endswith("_m2") for c in mu.columns)
    assert mu["total_mu"].sum() == pytest.approx(flags["reclaimable_m2"].sum() / M2_PER_MU)
    with pytest.raises(ValueError, match="hamlet_id"):
        reclaimable_area(flags, by="hamlet")
    with pytest.raises(ValueError, match="by must be"):
        reclaimable_area(flags, by="county")
    # without villages the town is unknown, and the area is kept under "(none)"
    unknown = reclaimable_area(flags, by="town")
    assert unknown.index.tolist() == ["(none)"]
    assert unknown["total_m2"].sum() == pytest.approx(flags["reclaimable_m2"].sum())


def test_summary_per_town(tiny, tiny_survey):
    t = tiny_survey.summary_towns
    assert t["town"].tolist() == ["新丰镇", "凤桥镇", "Total"]
    body, total = t.iloc[:-1], t.iloc[-1]
    assert body["households"].tolist() == [8, 4]
    assert body["homesteads"].tolist() == [10, 5]
    assert body["multiple_households"].tolist() == [2, 1]
    assert body["idle"].tolist() == [6, 3] and body["oversize"].tolist() == [4, 2]
    assert body["reason_surplus"].tolist() == [2, 1]
    assert body["reason_household_away"].tolist() == [6, 3]
    # classes add up to the homesteads, and the total row to the body
    classes = t[["in_use", "oversize", "surplus", "idle"]].sum(axis=1)
    assert (classes == t["homesteads"]).all()
    numeric = t.columns[2:]
    assert np.allclose(body[numeric].sum().to_numpy(dtype=float),
                       total[numeric].to_numpy(dtype=float))
    assert total["households"] == len(tiny["households"])
    assert total["reclaimable_mu"] == pytest.approx(
        tiny_survey.homesteads["reclaimable_m2"].sum() / M2_PER_MU)


def test_summary_per_village_in_chinese(tiny, tiny_survey):
    t = tiny_survey.summary("village", zh=True)
    assert list(t.columns[:4]) == ["镇代码", "镇", "村代码", "行政村"]
    assert set(SUMMARY_HEADINGS.values()) == set(t.columns)
    # villages sorted by town, names as given (HTML-like text stays plain data)
    assert t["行政村"].tolist() == ["竹林村", "<b>东港村</b>", "凤桥村", ""]
    assert t["镇"].tolist()[-1] == "合计"
    assert t["宅基地(宗)"].tolist() == [5, 5, 5, 15]
    assert t["其中一户多宅多余(宗)"].tolist() == [1, 1, 1, 3]


def test_summary_from_the_functions_alone(tiny):
    flags = survey_homesteads(tiny["homesteads"], tiny["households"])
    table = multiple_homesteads(tiny["homesteads"], tiny["households"])
    alone = survey_summary(flags, table, by="town", villages=tiny["villages"],
                           towns=tiny["towns"])
    whole = survey_project(tiny).summary_towns
    pd.testing.assert_frame_equal(alone, whole)
    # without households the household columns are zero; without names the ids show
    bare = survey_summary(flags, by="village", villages=tiny["villages"].drop(columns="name"))
    assert bare["households"].sum() == 0
    assert bare["village"].tolist()[:3] == ["T1V1", "T1V2", "T2V1"]


def test_every_survey_table_has_unique_chinese_headings(tiny_survey):
    for table in (tiny_survey.homesteads, tiny_survey.households, tiny_survey.hamlets,
                  tiny_survey.reclaimable_hamlets, tiny_survey.reclaimable_villages,
                  tiny_survey.reclaimable_towns, tiny_survey.problems):
        zh = zh_headings(table)
        assert zh.columns.is_unique
        assert len(zh) == len(table)
        ascii_left = [c for c in zh.columns if str(c).isascii()]
        # only the geometry and the problems' free-text columns keep English names
        assert set(ascii_left) <= {"geometry", "layer", "rule", "id", "other_id", "value",
                                   "label_zh", "message", "treatment"}, ascii_left
    assert zh_headings(tiny_survey.homesteads).geometry.name == "geometry"
    v = zh_headings(tiny_survey.reclaimable_villages)
    assert v.index.name == "村代码" and "可腾退面积合计(亩)" in v.columns
    flags = zh_headings(tiny_survey.homesteads)
    assert set(flags["调查分类(中文)"]) == {"闲置", "在用超标"}
