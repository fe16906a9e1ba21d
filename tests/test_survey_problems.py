"""Bad input is counted and reported by id, never dropped; the survey still adds up."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from landplan.errors import Problem, ValidationError
from landplan.project import Project
from landplan.survey import (PROBLEM_RULES, problem_list, survey_problems, survey_project)


@pytest.fixture
def flawed(tiny):
    """The tiny project with one of each flaw the survey must report."""
    hs = tiny["homesteads"].copy()
    hh = tiny["households"].copy()
    x0, y0 = hs.geometry.iloc[0].bounds[:2]
    extra = gpd.GeoDataFrame(
        {"homestead_id": ["X-ORPHAN", "X-GHOST", "X-OVER", "X-SLIVER", "X-NOGEOM", "X-BOW"],
         "household_id": [None, "H-GONE", "T1V1H000", "T1V1H001", "T1V1H002", "T1V1H000"],
         "village_id": ["T1V1", "T1V1", "T1V1", "T1V1", "T1V1", "T9V9"],
         "landuse_code": "0702",
         "status": ["vacant", "vacant", "occupied", "occupied", "occupied", "occupied"],
         "vacant_since": pd.array([None, 2012, 2001, None, None, None], dtype="Int64")},
        geometry=[box(x0, y0 + 100, x0 + 10, y0 + 110),
                  box(x0 + 30, y0 + 100, x0 + 40, y0 + 110),
                  box(x0 + 6, y0, x0 + 16, y0 + 10),       # overlaps Z000 by 6 x 10 m
                  box(x0 + 200, y0, x0 + 200, y0 + 10),    # zero width
                  None,
                  Polygon([(x0 + 300, y0), (x0 + 310, y0 + 10), (x0 + 310, y0),
                           (x0 + 300, y0 + 4)])],
        crs=hs.crs)
    hs = pd.concat([hs, extra], ignore_index=True)
    hh.loc[0, "registered_homestead_id"] = "Z-MISSING"
    hh.loc[1, "registered_homestead_id"] = "T1V1Z002"  # household 2's plot
    hh = pd.concat([hh, pd.DataFrame([{"household_id": "H-EMPTY", "village_id": "T1V1",
                                       "members": 2, "residence": "resident"}])],
                   ignore_index=True)
    return {**tiny, "homesteads": hs, "households": hh}


def _ids(problems, rule):
    return problems.loc[problems["rule"] == rule, "id"].tolist()


def test_every_flaw_is_reported_by_id(flawed):
    p = survey_problems(flawed["homesteads"], flawed["households"], villages=flawed["villages"])
    assert set(p["rule"]) <= set(PROBLEM_RULES)
    assert _ids(p, "no_household") == ["X-ORPHAN"]
    assert _ids(p, "unknown_household") == ["X-GHOST"]
    assert p.loc[p["rule"] == "unknown_household", "other_id"].tolist() == ["H-GONE"]
    assert _ids(p, "missing_registered_homestead") == ["T1V1H000"]
    assert _ids(p, "registered_homestead_of_other") == ["T1V1H001"]
    assert _ids(p, "household_without_homestead") == ["H-EMPTY"]
    assert _ids(p, "empty_geometry") == ["X-NOGEOM"]
    assert _ids(p, "zero_area") == ["X-SLIVER"]
    assert set(_ids(p, "invalid_geometry")) == {"X-SLIVER", "X-BOW"}
    over = p[p["rule"] == "overlap"]
    assert over[["id", "other_id"]].to_numpy().tolist() == [["T1V1Z000", "X-OVER"]]
    assert over["value"].tolist() == pytest.approx([60.0])
    assert _ids(p, "vacant_since_missing") == ["X-ORPHAN"]
    assert _ids(p, "vacant_since_future") == ["X-GHOST"]
    assert p.loc[p["rule"] == "vacant_since_future", "value"].tolist() == [2012.0]
    assert _ids(p, "occupied_with_vacant_since") == ["X-OVER"]
    assert _ids(p, "unknown_village") == ["X-BOW"]
    assert p["label_zh"].str.len().min() > 0 and p["treatment"].str.len().min() > 0


def test_clean_input_has_no_problems(tiny):
    p = survey_problems(tiny["homesteads"], tiny["households"], villages=tiny["villages"])
    assert len(p) == 0
    assert list(p.columns) == ["layer", "rule", "id", "other_id", "value", "label_zh",
                               "message", "treatment"]


def test_flawed_project_is_surveyed_whole(flawed):
    before = {k: v.copy() for k, v in flawed.items()}
    r = survey_project(flawed)
    hs = flawed["homesteads"]
    # nothing dropped: every plot is in the flags, once, in its input order and index
    assert r.homesteads["homestead_id"].tolist() == hs["homestead_id"].tolist()
    assert r.homesteads.index.equals(hs.index)
    assert r.homesteads["survey_class"].notna().all()
    t = r.totals()
    assert t.loc["total", "homesteads"] == t.loc["input", "homesteads"] == len(hs)
    assert t.loc["total", "area_m2"] == pytest.approx(hs.geometry.area.fillna(0).sum())
    by_id = r.homesteads.set_index("homestead_id")
    assert by_id.loc["X-ORPHAN", "reason_no_household"]
    assert by_id.loc["X-GHOST", "reason_no_household"]
    assert by_id.loc["X-NOGEOM", "area_m2"] == 0 and pd.isna(by_id.loc["X-NOGEOM", "hamlet_id"])
    assert pd.isna(by_id.loc["X-BOW", "town_id"])
    # every household is in the household table, the empty one with no plot
    assert r.households["household_id"].tolist() == flawed["households"]["household_id"].tolist()
    empty = r.households.set_index("household_id").loc["H-EMPTY"]
    assert empty["n_homesteads"] == 0 and pd.isna(empty["hamlet_id"])
    # the problems are the survey_problems table
    assert set(r.problems["rule"]) >= {"no_household", "overlap", "zero_area", "empty_geometry"}
    # unknown places are totalled, not lost
    towns = r.reclaimable_towns
    assert "(none)" in towns.index
    assert towns["total_m2"].sum() == pytest.approx(r.homesteads["reclaimable_m2"].sum())
    for k, v in before.items():
        pd.testing.assert_frame_equal(flawed[k], v)


def test_project_validation_refuses_what_the_survey_reports(flawed):
    # Project() refuses dangling references and slivers; the survey runs on the raw layers
    with pytest.raises(ValidationError):
        Project(flawed)
    r = survey_project(Project(flawed, validate=False))
    assert len(r.homesteads) == len(flawed["homesteads"])


def test_problem_list_gives_one_problem_per_rule(flawed):
    p = survey_problems(flawed["homesteads"], flawed["households"])
    problems = problem_list(p)
    assert all(isinstance(x, Problem) for x in problems)
    assert sorted(x.rule for x in problems) == sorted(set(p["rule"]))
    text = str(ValidationError(problems, header="survey input"))
    assert "X-ORPHAN" in text and "宅基地无登记农户" in text and "fix:" in text


def test_overlap_check_can_be_skipped(flawed):
    p = survey_problems(flawed["homesteads"], flawed["households"], overlaps=False)
    assert "overlap" not in set(p["rule"])
    assert np.isin(["no_household", "zero_area"], p["rule"]).all()
