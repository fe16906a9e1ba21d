"""Every validation rule, each with an input that breaks it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from landplan.errors import CRSError, ValidationError
from landplan.project import Project


def _problems(layers, **kw):
    with pytest.raises(ValidationError) as exc:
        Project(layers, **kw)
    return exc.value


def _rule(err, rule):
    found = [p for p in err.problems if p.rule == rule]
    assert found, f"no {rule!r} problem in:\n{err}"
    return found[0]


def test_tiny_project_is_valid(tiny):
    p = Project(tiny)
    assert set(p.layers) == set(tiny)
    assert p["households"]["members"].dtype == "Int64"
    assert p["farmland"]["basic_farmland"].dtype == "boolean"


def test_inputs_are_not_modified(tiny):
    before = {k: v.copy() for k, v in tiny.items()}
    tiny["homesteads"] = tiny["homesteads"].to_crs("EPSG:4490")
    snapshot = tiny["homesteads"].copy()
    Project(tiny)
    pd.testing.assert_frame_equal(tiny["homesteads"], snapshot)
    pd.testing.assert_frame_equal(tiny["households"], before["households"])


def test_missing_required_layer(tiny):
    del tiny["households"]
    err = _problems(tiny)
    p = _rule(err, "missing_layer")
    assert p.layer == "households"


def test_unknown_layer(tiny):
    tiny["parcels"] = tiny["farmland"]
    assert _rule(_problems(tiny), "unknown_layer").layer == "parcels"


def test_empty_layer(tiny):
    tiny["sites"] = tiny["sites"].iloc[0:0]
    p = _rule(_problems(tiny), "empty_layer")
    assert p.layer == "sites"


def test_missing_column_suggests_the_close_name(tiny):
    tiny["households"] = tiny["households"].rename(columns={"members": "member"})
    p = _rule(_problems(tiny), "missing_column")
    assert p.layer == "households"
    assert "'members'" in p.message and "did you mean 'member'" in p.message
    assert "mapping" in p.fix


def test_mistyped_numbers_name_the_rows(tiny):
    hh = tiny["households"].astype({"members": object})
    hh.loc[2, "members"] = "三"
    tiny["households"] = hh
    p = _rule(_problems(tiny), "mistyped_column")
    assert p.rows == [hh.loc[2, "household_id"]]
    assert "members" in p.message


def test_decimal_ids_are_refused(tiny):
    v = tiny["villages"].copy()
    v["town_id"] = [1.5, 1.0, 2.0]
    tiny["villages"] = v
    p = _rule(_problems(tiny), "mistyped_column")
    assert p.rows == ["T1V1"]


def test_integer_ids_become_text():
    pts = gpd.GeoDataFrame({"facility_id": [1, 2], "kind": ["school", "clinic"]},
                           geometry=[Point(500000, 3400000), Point(500010, 3400000)], crs="EPSG:4549")
    from landplan._validate import validate_layer
    out, problems = validate_layer("facilities", pts)
    assert problems == []
    assert out["facility_id"].tolist() == ["1", "2"]


def test_missing_value(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[3, "status"] = None
    tiny["homesteads"] = hs
    p = _rule(_problems(tiny), "missing_value")
    assert p.rows == [hs.loc[3, "homestead_id"]]


def test_bad_choice(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[0, "status"] = "ruined"
    tiny["homesteads"] = hs
    p = _rule(_problems(tiny), "bad_value")
    assert "ruined" in p.message and "occupied" in p.fix


def test_out_of_range(tiny):
    hh = tiny["households"].copy()
    hh.loc[0, "members"] = 0
    tiny["households"] = hh
    assert _rule(_problems(tiny), "out_of_range").rows == [hh.loc[0, "household_id"]]


def test_bool_words_are_read_and_nonsense_refused(tiny):
    f = tiny["farmland"].copy().astype({"basic_farmland": object})
    f["basic_farmland"] = ["是", "否"] * 9
    tiny_ok = dict(tiny, farmland=f)
    p = Project(tiny_ok)
    assert p["farmland"]["basic_farmland"].tolist() == [True, False] * 9
    f.loc[4, "basic_farmland"] = "maybe"
    assert _rule(_problems(dict(tiny, farmland=f)), "mistyped_column").rows == [f.loc[4, "parcel_id"]]


def test_duplicate_ids(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[1, "homestead_id"] = hs.loc[0, "homestead_id"]
    tiny["homesteads"] = hs
    p = _rule(_problems(tiny), "duplicate_id")
    assert p.rows == [hs.loc[0, "homestead_id"]]


def test_dangling_reference(tiny):
    hh = tiny["households"].copy()
    hh.loc[5, "village_id"] = "T9V9"
    tiny["households"] = hh
    p = _rule(_problems(tiny), "dangling_reference")
    assert p.layer == "households" and p.rows == [hh.loc[5, "household_id"]]
    assert "T9V9" in p.message


def test_missing_crs(tiny):
    tiny["roads"] = tiny["roads"].set_crs(None, allow_override=True)
    err = _problems(tiny)
    assert isinstance(err, CRSError)
    assert _rule(err, "missing_crs").layer == "roads"


@pytest.mark.parametrize("epsg, datum", [(2385, "Xian 1980"), (2436, "Beijing 1954"), (4610, "Xian 1980")])
def test_legacy_datum_is_refused(tiny, epsg, datum):
    tiny["water"] = tiny["water"].set_crs(epsg, allow_override=True)
    p = _rule(_problems(tiny), "legacy_datum")
    assert datum in p.message and "seven-parameter" in p.fix


@pytest.mark.parametrize("epsg", [4490, 4326, 4528])
def test_accepted_crs_are_reprojected(tiny, epsg):
    original = tiny["sites"]
    tiny["sites"] = original.to_crs(epsg)
    p = Project(tiny)
    assert p["sites"].crs.to_epsg() == 4549
    assert p.reprojected["sites"].endswith(str(epsg))
    np.testing.assert_allclose(p["sites"].area, original.area, rtol=1e-6)


def test_empty_geometry(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[2, "geometry"] = Polygon()
    tiny["homesteads"] = hs
    assert _rule(_problems(tiny), "empty_geometry").rows == [hs.loc[2, "homestead_id"]]


def test_wrong_geometry_type(tiny):
    r = tiny["roads"].copy()
    r.loc[0, "geometry"] = Point(500000, 3400000)
    tiny["roads"] = r
    p = _rule(_problems(tiny), "wrong_geometry_type")
    assert p.rows == ["R1"] and "Point" in p.message


def _bowtie(x, y):
    return Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])


def test_self_intersecting_polygon_refused_then_repaired_on_request(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[4, "geometry"] = _bowtie(500200, 3400600)
    tiny["homesteads"] = hs
    p = _rule(_problems(tiny), "invalid_geometry")
    assert p.rows == [hs.loc[4, "homestead_id"]]
    assert "Self-intersection" in p.message and "repair=True" in p.fix

    project = Project(tiny, repair=True)
    assert project.repairs["id"].tolist() == [hs.loc[4, "homestead_id"]]
    assert "Self-intersection" in project.repairs["reason"].iloc[0]
    fixed = project["homesteads"].geometry.iloc[4]
    assert fixed.is_valid and fixed.area == pytest.approx(50.0)
    assert not tiny["homesteads"].geometry.iloc[4].is_valid  # the input is untouched


def test_zero_area_sliver_is_a_warning_naming_the_row(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[6, "geometry"] = box(500300, 3400600, 500300.0001, 3400610)
    tiny["homesteads"] = hs
    p = Project(tiny)
    [w] = [w for w in p.warnings if w.rule == "zero_area"]
    assert w.layer == "homesteads" and w.rows == [hs.loc[6, "homestead_id"]]
    assert len(p["homesteads"]) == len(hs)  # reported, not dropped


def test_homestead_of_an_unregistered_household_is_a_warning(tiny):
    hs = tiny["homesteads"].copy()
    hs.loc[0, "household_id"] = "GHOST"
    hh = tiny["households"].copy()
    hh.loc[1, "registered_homestead_id"] = "NOPLOT"
    tiny.update(homesteads=hs, households=hh)
    p = Project(tiny)
    found = {(w.layer, tuple(w.rows)) for w in p.warnings if w.rule == "dangling_reference"}
    assert found == {("homesteads", (hs.loc[0, "homestead_id"],)),
                     ("households", (hh.loc[1, "household_id"],))}
    assert p["homesteads"]["household_id"].iloc[0] == "GHOST"  # kept as given


def test_non_spatial_layer_given_for_a_spatial_one(tiny):
    tiny["towns"] = pd.DataFrame(tiny["towns"].drop(columns="geometry"))
    assert _rule(_problems(tiny), "missing_geometry_column").layer == "towns"


def test_every_problem_is_collected_in_one_error(tiny):
    hh = tiny["households"].copy()
    hh.loc[0, "village_id"] = "NOPE"
    hh.loc[1, "household_id"] = hh.loc[2, "household_id"]
    tiny["households"] = hh
    tiny["roads"] = tiny["roads"].set_crs(None, allow_override=True)
    r = tiny["water"].copy()
    r.loc[0, "kind"] = "sea"
    tiny["water"] = r
    err = _problems(tiny)
    assert {"dangling_reference", "duplicate_id", "missing_crs", "bad_value"} <= err.rules()
    text = str(err)
    for layer in ("households", "roads", "water"):
        assert f"[{layer}]" in text
    assert "fix:" in text


def test_long_row_lists_are_shortened(tiny):
    hh = tiny["households"].copy()
    hh["village_id"] = "NOPE"
    tiny["households"] = hh
    text = str(_problems(tiny))
    assert "and 2 more (12 in all)" in text


def test_line_and_nullable_columns(tiny):
    r = tiny["roads"].copy().astype({"bridge": object})
    r.loc[1, "bridge"] = None
    r.loc[1, "geometry"] = LineString([(500000, 3400000), (500100, 3400100)])
    tiny["roads"] = r
    p = Project(tiny)
    assert p["roads"]["bridge"].isna().tolist() == [False, True]
