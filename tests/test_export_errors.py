"""County GIS export: bad input is refused with the value, the row and the format to use,
and a failure leaves no half-written file set."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from landplan.errors import ValidationError
from landplan.export import county, export_county, read_export, shapefile_field_names

X0, Y0 = 500000.0, 3400000.0


def _villages(names):
    return gpd.GeoDataFrame(
        {"village_id": [f"V{i}" for i in range(len(names))], "town_id": "T1", "name": names},
        geometry=[box(X0 + i * 100, Y0, X0 + i * 100 + 90, Y0 + 90) for i in range(len(names))],
        crs="EPSG:4549")


def _files(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_character_outside_gbk_is_refused_naming_value_and_row(tmp_path):
    villages = _villages(["竹林村", "𠀋头村", "东港村"])  # U+2000B is not in GBK
    with pytest.raises(ValidationError) as err:
        export_county({"villages": villages}, tmp_path, formats=("shp",), encoding="gbk")
    (problem,) = err.value.problems
    assert problem.rule == "not_in_encoding"
    assert problem.rows == ["V1"]
    assert "𠀋头村" in problem.message and "GBK" in problem.message
    assert "utf-8" in problem.fix
    assert _files(tmp_path) == []
    # UTF-8 (the default) holds it
    export_county({"villages": villages}, tmp_path, formats=("shp",))
    assert read_export(tmp_path, "villages")["name"].tolist() == ["竹林村", "𠀋头村", "东港村"]


def test_text_over_254_bytes_is_refused_in_the_target_encoding(tmp_path):
    long_name = "村" * 100  # 300 bytes in UTF-8, 200 in GBK
    villages = _villages(["竹林村", long_name])
    with pytest.raises(ValidationError) as err:
        export_county({"villages": villages}, tmp_path / "utf8", formats=("shp", "gpkg"))
    (problem,) = err.value.problems
    assert problem.rule == "text_too_long" and problem.rows == ["V1"]
    assert "300 bytes" in problem.message
    assert "GeoPackage" in problem.fix
    assert not (tmp_path / "utf8").exists()
    export_county({"villages": villages}, tmp_path / "gbk", formats=("shp",), encoding="gbk")
    assert read_export(tmp_path / "gbk", "villages")["name"].tolist()[1] == long_name
    export_county({"villages": villages}, tmp_path / "gpkg", formats=("gpkg", "gdb"))
    assert read_export(tmp_path / "gpkg", "villages", format="gdb")["name"].tolist()[1] == long_name


def test_layer_over_the_shapefile_limit_is_refused_suggesting_geopackage(tmp_path, monkeypatch):
    villages = _villages(["竹林村", "东港村"])
    # the estimate is exact (test_export checks it against GDAL's files); lower the limit
    # to just under this layer's .dbf rather than writing 2 GB
    monkeypatch.setattr(county, "SHAPEFILE_MAX_BYTES", 200)
    with pytest.raises(ValidationError) as err:
        export_county({"villages": villages}, tmp_path, formats=("shp", "gpkg"))
    (problem,) = err.value.problems
    assert problem.rule == "shapefile_too_large"
    assert "2 GB" in problem.message and "GeoPackage" in problem.fix
    assert _files(tmp_path) == []
    export_county({"villages": villages}, tmp_path, formats=("gpkg", "gdb"))
    assert len(read_export(tmp_path, "villages", format="gpkg")) == 2


def test_every_problem_is_reported_at_once(tmp_path):
    villages = _villages(["𠀋头村", "村" * 130])  # 260 bytes in GBK
    odd = pd.DataFrame({"item_id": ["a"], "payload": [{"x": 1}]})
    with pytest.raises(ValidationError) as err:
        export_county({"villages": villages, "odd": odd}, tmp_path, formats=("shp",),
                      encoding="gbk", field_names={"villages": {"village_id": "村代码"}})
    assert err.value.rules() == {"not_in_encoding", "text_too_long", "unsupported_column",
                                 "bad_field_name"}
    assert _files(tmp_path) == []


def test_auto_names_that_truncate_onto_each_other_get_suffixes():
    names = shapefile_field_names(["transfer_start_year", "transfer_start_yr", "TRSTARTYR",
                                   "willing_to_relocate"])
    assert names == {"transfer_start_year": "trstartyr", "transfer_start_yr": "trstarty_2",
                     "TRSTARTYR": "TRSTARTY_3", "willing_to_relocate": "will_reloc"}
    # automatic names avoid the names given
    assert shapefile_field_names(["household_id", "b"], given={"b": "hh_id"}) == \
        {"household_id": "hh_id_2", "b": "hh_id"}


@pytest.mark.parametrize("given, rule, words", [
    ({"household_id": "户编号"}, "bad_field_name", "not ASCII"),
    ({"household_id": "household_no"}, "bad_field_name", "at most 10"),
    ({"household_id": "HH", "village_id": "hh"}, "duplicate_field_name", "ignores case"),
    ({"household_id": "FID"}, "bad_field_name", "reserved"),
    ({"no_such": "X"}, "bad_field_name", "does not have"),
])
def test_given_field_names_are_used_as_given_or_refused(given, rule, words):
    with pytest.raises(ValidationError) as err:
        shapefile_field_names(["household_id", "village_id"], given=given, layer="households")
    assert rule in err.value.rules()
    assert words in str(err.value)


def test_given_field_names_are_written(tiny, tmp_path):
    export_county(tiny, tmp_path, formats=("shp",), layers=["households"],
                  field_names={"households": {"household_id": "HBH", "village_id": "CDM"}})
    fields = list(pyogrio.read_info(tmp_path / "landplan_shp/households.dbf")["fields"])
    assert fields[:2] == ["HBH", "CDM"]


def test_markup_is_data_and_round_trips_unchanged(tmp_path):
    villages = _villages(["<b>东港村</b>", "<script>alert(1)</script>", "A & B \"村\""])
    export_county({"villages": villages}, tmp_path)
    for fmt in ("shp", "gpkg", "gdb"):
        assert read_export(tmp_path, "villages", format=fmt)["name"].tolist() == \
            villages["name"].tolist()


def test_failure_while_writing_leaves_nothing(tiny, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = county.pyogrio.write_arrow
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(county.pyogrio, "write_arrow", failing)
    with pytest.raises(OSError, match="disk full"):
        export_county(tiny, out, formats=("shp", "gpkg", "gdb"))
    assert calls["n"] == 2
    assert not out.exists()


def test_failure_keeps_the_previous_export_intact(tiny, tmp_path, monkeypatch):
    export_county(tiny, tmp_path, formats=("shp", "gpkg"))
    before = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path) if (tmp_path / p).is_file()}
    real = county.pyogrio.write_arrow
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:  # in the GeoPackage, after every shapefile was written
            raise RuntimeError("GDAL error")
        return real(*args, **kwargs)

    monkeypatch.setattr(county.pyogrio, "write_arrow", failing)
    changed = dict(tiny)
    changed["villages"] = tiny["villages"].assign(name=["甲村", "乙村", "丙村"])
    with pytest.raises(RuntimeError, match="GDAL error"):
        export_county(changed, tmp_path, formats=("shp", "gpkg"), overwrite=True)
    after = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path) if (tmp_path / p).is_file()}
    assert after == before


def test_failure_while_moving_into_place_restores_the_previous_files(tiny, tmp_path, monkeypatch):
    export_county(tiny, tmp_path, formats=("shp",), layers=["villages", "towns"])
    before = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path) if (tmp_path / p).is_file()}
    real = county.os.replace
    calls = {"n": 0}

    def failing(src, dst):
        calls["n"] += 1
        if calls["n"] == 9:
            raise OSError("device busy")
        return real(src, dst)

    monkeypatch.setattr(county.os, "replace", failing)
    changed = {"villages": tiny["villages"].assign(name=["甲村", "乙村", "丙村"]),
               "towns": tiny["towns"]}
    with pytest.raises(OSError, match="device busy"):
        export_county(changed, tmp_path, formats=("shp",), overwrite=True)
    monkeypatch.setattr(county.os, "replace", real)
    after = {p: (tmp_path / p).read_bytes() for p in _files(tmp_path) if (tmp_path / p).is_file()}
    assert after == before


def test_existing_outputs_are_not_replaced_without_overwrite(tiny, tmp_path):
    export_county(tiny, tmp_path, formats=("gpkg",), layers=["towns"])
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_county(tiny, tmp_path, formats=("gpkg",), layers=["towns"])
    export_county(tiny, tmp_path, formats=("gpkg",), layers=["towns", "villages"], overwrite=True)
    assert [n for n, _ in pyogrio.list_layers(tmp_path / "landplan.gpkg")] == ["towns", "villages"]


def test_layer_without_crs_is_refused(tmp_path):
    pts = gpd.GeoDataFrame({"site_id": ["S1"]}, geometry=[Point(1, 2)])
    with pytest.raises(ValidationError, match="no coordinate reference system"):
        export_county({"sites_draft": pts}, tmp_path)
    assert _files(tmp_path) == []


def test_unknown_layer_or_format_is_refused(tiny, tmp_path):
    with pytest.raises(ValidationError, match="not given: hamlets"):
        export_county(tiny, tmp_path, layers=["hamlets"])
    with pytest.raises(ValueError, match="kml"):
        export_county(tiny, tmp_path, formats=("kml",))
    with pytest.raises(ValueError, match="utf-8' or 'gbk"):
        export_county(tiny, tmp_path, encoding="big5")


def test_mixed_geometry_types_go_to_geopackage_only(tmp_path):
    mixed = gpd.GeoDataFrame({"item_id": ["P", "A"]},
                             geometry=[Point(X0, Y0), Point(X0, Y0).buffer(10)], crs="EPSG:4549")
    with pytest.raises(ValidationError) as err:
        export_county({"items": mixed}, tmp_path, formats=("shp", "gdb"))
    assert [p.rule for p in err.value.problems] == ["mixed_geometry", "mixed_geometry"]
    assert "Point, Polygon" in str(err.value) and "formats=('gpkg',)" in str(err.value)
    assert _files(tmp_path) == []
    export_county({"items": mixed}, tmp_path, formats=("gpkg",))
    assert read_export(tmp_path, "items", format="gpkg").geom_type.tolist() == ["Point", "Polygon"]
