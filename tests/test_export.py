"""County GIS export: every format read back and compared with its source."""

from __future__ import annotations

import datetime as dt
import math
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import tiny_layers
from pyproj import CRS
from shapely.geometry import Point, Polygon, box

from landplan.export import PERSONAL_COLUMNS, export_county, read_export, read_field_dictionary
from landplan.export.shapefile import estimate_shapefile_bytes
from landplan.project import Project

X0, Y0 = 500000.0, 3400000.0
FORMATS = ("shp", "gpkg", "gdb")


def _tiny_project(layers) -> Project:
    layers = dict(layers)
    # an id with leading zeros, a holed polygon and a multipolygon
    fac = layers["facilities"]
    layers["facilities"] = pd.concat([fac, gpd.GeoDataFrame(
        {"facility_id": ["007"], "kind": ["clinic"], "town_id": ["T2"], "name": ["凤桥卫生院"]},
        geometry=[Point(X0 + 3050, Y0 + 950)], crs=fac.crs)], ignore_index=True)
    water = layers["water"]
    ring = box(X0 + 2500, Y0 + 100, X0 + 2600, Y0 + 200)
    pond = Polygon(ring.exterior.coords, [box(X0 + 2540, Y0 + 140, X0 + 2560, Y0 + 160).exterior.coords])
    layers["water"] = pd.concat([water, gpd.GeoDataFrame(
        {"water_id": ["W002"], "kind": ["pond"], "name": [None]},
        geometry=[shapely.MultiPolygon([pond, box(X0 + 2700, Y0 + 100, X0 + 2720, Y0 + 120)])],
        crs=water.crs)], ignore_index=True)
    return Project(layers, name="tiny")


def _results() -> gpd.GeoDataFrame:
    """A result layer with the types the schema does not use: dates, big integers, Chinese names."""
    return gpd.GeoDataFrame(
        {"move_id": ["001", "002", "003"],
         "approved_on": [dt.date(2008, 3, 1), None, dt.date(2009, 12, 31)],
         "surveyed_at": pd.to_datetime(["2008-01-28 09:30:00", None, "2008-02-01 17:05:10"]),
         "parcel_code": pd.array([330402100001000123, None, 5], dtype="Int64"),
         "households": pd.array([12, 0, None], dtype="Int64"),
         "relocated": pd.array([True, None, False], dtype="boolean"),
         "share": [0.25, np.nan, 1.0],
         "备注": ["<b>东港村</b> & 竹林村", None, "=SUM(A1)"]},
        geometry=[Point(X0, Y0), None, Point(X0 + 10.5, Y0 + 20.25)], crs="EPSG:4549")


def _norm(v):
    """A comparable python value: None for every kind of missing."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v).to_pydatetime()
    if isinstance(v, (dt.date, str, bool, np.bool_)):
        return bool(v) if isinstance(v, np.bool_) else v
    return float(v)


def assert_same_layer(src: pd.DataFrame, back: pd.DataFrame, *, what: str,
                      tolerance: float = 1e-6) -> None:
    """Same columns, rows, values and geometries (within ``tolerance`` metres)."""
    geom = src.geometry.name if isinstance(src, gpd.GeoDataFrame) else None
    cols = [c for c in src.columns if c != geom and c not in PERSONAL_COLUMNS]
    back_cols = [c for c in back.columns if not (isinstance(back, gpd.GeoDataFrame)
                                                and c == back.geometry.name)]
    assert back_cols == cols, what
    assert len(back) == len(src), what  # every feature accounted for
    for c in cols:
        a = [_norm(v) for v in src[c].tolist()]
        b = [_norm(v) for v in back[c].tolist()]
        for i, (x, y) in enumerate(zip(a, b)):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-9), f"{what} {c} row {i}"
            else:
                assert x == y, f"{what} {c} row {i}: {x!r} != {y!r}"
    if geom is not None:
        assert isinstance(back, gpd.GeoDataFrame), what
        assert CRS.from_user_input(back.crs).equals(CRS("EPSG:4549")), what
        sg, bg = src.geometry.values, back.geometry.values
        missing = shapely.is_missing(sg) | shapely.is_empty(sg)
        assert (shapely.is_missing(bg) | shapely.is_empty(bg)).tolist() == missing.tolist(), what
        d = shapely.hausdorff_distance(sg[~missing], bg[~missing])
        assert np.all(d <= tolerance), f"{what}: geometry moved by up to {d.max()} m"
        assert np.allclose(shapely.area(sg[~missing]), shapely.area(bg[~missing])), what
    else:
        assert not isinstance(back, gpd.GeoDataFrame) or back.geometry.isna().all(), what


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export of the tiny project plus a result layer, in every format (read-only in tests)."""
    out = tmp_path_factory.mktemp("export")
    project = _tiny_project(tiny_layers())
    layers = dict(project.layers)
    layers["moves"] = _results()
    manifest = export_county(layers, out, name="tiny")
    return project, layers, manifest, out


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_every_layer(exported, fmt):
    _project, layers, _manifest, out = exported
    for name, src in layers.items():
        back = read_export(out, name, format=fmt, name="tiny")
        # a File Geodatabase stores coordinates on ArcGIS's default 0.1 mm grid
        assert_same_layer(src, back, what=f"{fmt}:{name}", tolerance=1e-4 if fmt == "gdb" else 1e-6)


def test_round_trip_gbk_shapefiles(tiny, tmp_path):
    project = _tiny_project(tiny)
    export_county(project, tmp_path, formats=("shp",), encoding="gbk")
    for name, src in project.layers.items():
        assert_same_layer(src, read_export(tmp_path, name, name="tiny"), what=f"gbk:{name}")
    assert (tmp_path / "tiny_shp/villages.cpg").read_text() == "936"
    dbf = (tmp_path / "tiny_shp/villages.dbf").read_bytes()
    assert "<b>东港村</b>".encode("gbk") in dbf
    assert "东港村".encode() not in dbf


def test_manifest_accounts_for_every_feature(exported):
    _project, layers, manifest, out = exported
    assert set(manifest["format"]) == set(FORMATS)
    for _, row in manifest.iterrows():
        assert row["features"] == len(layers[row["layer"]])
        assert (out / row["path"]).exists()
    hh = manifest[manifest["layer"] == "households"]
    assert (hh["omitted"] == "head_name, id_number").all()
    on_disk = pd.read_csv(out / "tiny_manifest.csv", encoding="utf-8-sig", dtype=str)
    assert list(on_disk.columns[:4]) == ["图层", "图层名称", "格式", "路径"]
    assert len(on_disk) == len(manifest)


def test_shapefile_fields_are_short_ascii_and_documented(exported):
    _, layers, _, out = exported
    for name in layers:
        path = out / "tiny_shp" / (f"{name}.shp" if isinstance(layers[name], gpd.GeoDataFrame)
                                   else f"{name}.dbf")
        fields = list(pyogrio.read_info(path)["fields"])
        assert all(f.isascii() and len(f.encode()) <= 10 for f in fields), fields
        assert len({f.upper() for f in fields}) == len(fields)
        dictionary = pd.read_csv(out / "tiny_shp" / f"{name}_fields.csv", encoding="utf-8-sig",
                                 dtype=str, keep_default_na=False)
        assert list(dictionary.columns[:3]) == ["字段名", "全名", "中文名称"]
        assert dictionary["字段名"].tolist() == fields
    hh = pd.read_csv(out / "tiny_shp/households_fields.csv", encoding="utf-8-sig", dtype=str)
    row = hh.set_index("全名").loc["registered_homestead_id"]
    assert row["中文名称"] == "户籍地址宅基地" and len(row["字段名"]) <= 10
    moves = pd.read_csv(out / "tiny_shp/moves_fields.csv", encoding="utf-8-sig", dtype=str)
    assert moves.set_index("全名").loc["备注", "字段名"] == "field_1"


def test_personal_columns_only_when_asked(tiny, tmp_path):
    project = _tiny_project(tiny)
    export_county(project, tmp_path / "a", formats=("shp", "gpkg"), layers=["households"])
    assert "户主姓名" not in pyogrio.read_info(tmp_path / "a/tiny.gpkg", layer="households")["fields"]
    dbf = (tmp_path / "a/tiny_shp/households.dbf").read_bytes()
    assert "测试户主".encode() not in dbf
    export_county(project, tmp_path / "b", formats=("gpkg",), layers=["households"],
                  include_personal=True)
    back = read_export(tmp_path / "b", "households", format="gpkg", name="tiny")
    assert back["head_name"].tolist() == project["households"]["head_name"].tolist()


def test_prj_is_esri_cgcs2000(exported):
    _, _, _, out = exported
    prj = (out / "tiny_shp/homesteads.prj").read_text()
    assert prj.startswith('PROJCS["CGCS2000_3_Degree_GK_CM_120E"')
    assert 'PARAMETER["Central_Meridian",120.0]' in prj
    assert CRS.from_wkt(prj).to_epsg() == 4549
    assert not (out / "tiny_shp/households.prj").exists()  # a table has no .prj


def test_dates_are_real_date_fields(exported):
    _, _, _, out = exported
    shp = pyogrio.read_info(out / "tiny_shp/moves.shp")
    types = dict(zip(shp["fields"], shp["ogr_types"]))
    dictionary = read_field_dictionary(out, name="tiny").query("layer == 'moves'").set_index("name")
    assert types[dictionary.loc["approved_on", "shp_field"]] == "OFTDate"
    # a datetime with times cannot be a DBF date: it is text, and the dictionary says so
    assert types[dictionary.loc["surveyed_at", "shp_field"]] == "OFTString"
    assert "日期时间" in dictionary.loc["surveyed_at", "note"]
    gpkg = pyogrio.read_info(out / "tiny.gpkg", layer="moves")
    assert dict(zip(gpkg["fields"], gpkg["ogr_types"]))["approved_on"] == "OFTDate"
    gdb = pyogrio.read_info(out / "tiny.gdb", layer="moves")
    assert dict(zip(gdb["fields"], gdb["ogr_types"]))["approved_on"] == "OFTDateTime"


def test_codes_stay_text(exported):
    _, _, _, out = exported
    for fmt in FORMATS:
        back = read_export(out, "homesteads", format=fmt, name="tiny")
        assert set(back["landuse_code"]) == {"0702"}
        fac = read_export(out, "facilities", format=fmt, name="tiny")
        assert "007" in fac["facility_id"].tolist()
    info = pyogrio.read_info(out / "tiny_shp/homesteads.shp")
    assert dict(zip(info["fields"], info["ogr_types"]))["lu_code"] == "OFTString"


def test_gdb_has_no_field_type_arcmap_cannot_read(exported):
    _, _layers, _, out = exported
    for layer_name, _ in pyogrio.list_layers(out / "tiny.gdb"):
        info = pyogrio.read_info(out / "tiny.gdb", layer=layer_name)
        assert "OFTInteger64" not in info["ogr_types"], layer_name
    moves = pyogrio.read_info(out / "tiny.gdb", layer="moves")
    types = dict(zip(moves["fields"], moves["ogr_types"]))
    assert types["parcel_code"] == "OFTString"  # too big for 32 bits: text, exact
    assert types["households"] == "OFTInteger"
    assert types["relocated"] == "OFTInteger"  # Short 1/0
    back = read_export(out, "moves", format="gdb", name="tiny")
    assert back["parcel_code"].tolist()[0] == 330402100001000123


def test_gdb_and_gpkg_carry_chinese_names(exported):
    _, _, _, out = exported
    gpkg_fields = list(pyogrio.read_info(out / "tiny.gpkg", layer="homesteads")["fields"])
    assert gpkg_fields[:3] == ["宅基地编号", "户编号", "村代码"]
    with pyogrio.open_arrow(out / "tiny.gdb", layer="homesteads", use_pyarrow=True) as (_, reader):
        schema = reader.schema
    aliases = {f.name: (f.metadata or {}).get(b"GDAL:OGR:alternative_name", b"").decode()
               for f in schema}
    assert aliases["homestead_id"] == "宅基地编号"
    with pyogrio.open_arrow(out / "tiny.gpkg", layer="homesteads", use_pyarrow=True) as (_, reader):
        alt = {f.name: (f.metadata or {}).get(b"GDAL:OGR:alternative_name", b"").decode()
               for f in reader.schema}
    assert alt["宅基地编号"] == "homestead_id"


def test_gpkg_english_names_on_request(tiny, tmp_path):
    project = _tiny_project(tiny)
    export_county(project, tmp_path, formats=("gpkg",), gpkg_names="en", layers=["villages"])
    assert list(pyogrio.read_info(tmp_path / "tiny.gpkg", layer="villages")["fields"]) == \
        ["village_id", "town_id", "name"]
    assert_same_layer(project["villages"], read_export(tmp_path, "villages", format="gpkg",
                                                       name="tiny"), what="gpkg en")


def test_size_estimate_matches_the_files_gdal_writes(exported):
    _, layers, _, out = exported
    dictionary = read_field_dictionary(out, name="tiny")
    for name, df in layers.items():
        widths = []
        for _, row in dictionary[dictionary["layer"] == name].iterrows():
            t = row["shp_type"]
            widths.append(int(t[5:-1]) if t.startswith("Text(") else
                          {"Double": 24, "Date": 8, "Short": 1}.get(t))
        base = out / "tiny_shp" / name
        # integer widths are GDAL's: read them from the .dbf header
        dbf = (base.with_suffix(".dbf")).read_bytes()
        header_widths = [dbf[32 + 32 * i + 16] for i in range(len(widths))]
        widths = [w if w is not None else hw for w, hw in zip(widths, header_widths)]
        assert widths == header_widths, name
        geoms = df.geometry.values if isinstance(df, gpd.GeoDataFrame) else None
        est = estimate_shapefile_bytes(geoms, widths, n_rows=len(df))
        assert est["dbf"] == len(dbf), name
        assert struct.unpack("<I", dbf[4:8])[0] == len(df)
        if geoms is not None:
            assert est["shp"] == base.with_suffix(".shp").stat().st_size, name
            assert est["shx"] == base.with_suffix(".shx").stat().st_size, name


def test_input_frames_are_not_modified(tiny, tmp_path):
    before = {k: v.copy() for k, v in tiny.items()}
    export_county(tiny, tmp_path, formats=("shp", "gpkg"))
    for k, v in tiny.items():
        pd.testing.assert_frame_equal(v, before[k])


def test_schema_layers_given_as_frames_are_validated(tiny, tmp_path):
    bad = dict(tiny)
    hs = tiny["homesteads"].copy()
    hs.loc[0, "status"] = "abandoned"
    bad["homesteads"] = hs
    from landplan.errors import ValidationError
    with pytest.raises(ValidationError, match="abandoned"):
        export_county(bad, tmp_path, formats=("gpkg",))
    assert list(tmp_path.iterdir()) == []


def test_reprojects_result_layers_to_cgcs2000(tmp_path):
    lonlat = gpd.GeoDataFrame({"site_id": ["S1"]}, geometry=[Point(120.779, 30.748)],
                              crs="EPSG:4490")
    export_county({"seat": lonlat}, tmp_path, formats=("shp", "gdb"))
    back = read_export(tmp_path, "seat", format="gdb")
    assert back.crs.to_epsg() == 4549
    expected = lonlat.to_crs("EPSG:4549").geometry.iloc[0]
    assert back.geometry.iloc[0].distance(expected) < 1e-4  # ArcGIS's 0.1 mm grid


def test_same_input_gives_the_same_geopackage(tiny, tmp_path):
    export_county(tiny, tmp_path / "a", formats=("gpkg",))
    export_county(tiny, tmp_path / "b", formats=("gpkg",))
    assert (tmp_path / "a/landplan.gpkg").read_bytes() == (tmp_path / "b/landplan.gpkg").read_bytes()


def test_layers_without_features_or_geometries_are_written(tmp_path):
    empty = gpd.GeoDataFrame({"hamlet_id": pd.Series([], dtype="str")},
                             geometry=gpd.GeoSeries([], crs="EPSG:4549"))
    unplaced = gpd.GeoDataFrame({"site_id": ["S9", "S10"]},
                                geometry=gpd.GeoSeries([None, None], crs="EPSG:4549"))
    manifest = export_county({"hamlets": empty, "unplaced": unplaced}, tmp_path)
    assert manifest.set_index(["layer", "format"])["features"].to_dict() == {
        (layer, fmt): n for layer, n in (("hamlets", 0), ("unplaced", 2)) for fmt in FORMATS}
    for fmt in FORMATS:
        assert_same_layer(empty, read_export(tmp_path, "hamlets", format=fmt), what=fmt)
        assert_same_layer(unplaced, read_export(tmp_path, "unplaced", format=fmt), what=fmt)
