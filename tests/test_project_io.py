"""Project storage: the round trip loses nothing, in every supported format."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from landplan.errors import EncodingError, ValidationError
from landplan.project import Project
from landplan.schema import LAYERS

# A county's short field names (shapefiles allow 10 bytes) onto ours.
SHORT = {
    "households": {"household_": "household_id", "registered": "registered_homestead_id",
                   "willing_to": "willing_to_relocate"},
    "homesteads": {"homestead_": "homestead_id", "household_": "household_id",
                   "landuse_co": "landuse_code", "vacant_sin": "vacant_since"},
    "farmland": {"household_": "household_id", "landuse_co": "landuse_code",
                 "basic_farm": "basic_farmland", "transfer_m": "transfer_mode",
                 "transfer_o": "transfer_operator", "transfer_s": "transfer_start_year",
                 "transfer_t": "transfer_term_years", "rent_per_m": "rent_per_mu"},
    "villages": {"village_id": "village_id"},
    "sites": {"capacity_h": "capacity_households"},
    "facilities": {"facility_i": "facility_id"},
    "roads": {"road_class": "road_class"},
}


def _with_leading_zeros(layers):
    """Give the tiny project ids with leading zeros, which must survive every format."""
    layers = {k: v.copy() for k, v in layers.items()}
    layers["towns"]["town_id"] = ["001", "002"]
    layers["villages"]["town_id"] = ["001", "001", "002"]
    layers["sites"]["town_id"] = ["001", "002"]
    layers["facilities"]["town_id"] = ["001"]
    return layers


def assert_same_project(a: Project, b: Project):
    assert set(a.layers) == set(b.layers)
    for name in a.layers:
        x, y = a[name], b[name]
        cols = LAYERS[name].column_names
        cols = [c for c in cols if c in x.columns]
        pd.testing.assert_frame_equal(x[cols].reset_index(drop=True), y[cols].reset_index(drop=True),
                                      check_dtype=True, obj=name)
        if isinstance(x, gpd.GeoDataFrame):
            assert y.crs.to_epsg() == 4549
            # shapefiles rewind rings: compare normalised geometries
            assert x.geometry.normalize().reset_index(drop=True).geom_equals_exact(
                y.geometry.normalize().reset_index(drop=True), tolerance=1e-6).all(), name


def test_gpkg_round_trip_loses_nothing(tiny, tmp_path):
    p = Project(_with_leading_zeros(tiny))
    path = p.to_gpkg(tmp_path / "p.gpkg")
    q = Project.read(path)
    assert_same_project(p, q)
    assert q["towns"]["town_id"].tolist() == ["001", "002"]
    assert q["villages"]["name"].tolist() == ["竹林村", "<b>东港村</b>", "凤桥村"]
    # households are a table without geometry
    assert not isinstance(q["households"], gpd.GeoDataFrame)


def test_gpkg_bytes_are_deterministic(tiny, tmp_path):
    p = Project(tiny)
    a = p.to_gpkg(tmp_path / "a" / "p.gpkg")
    b = p.to_gpkg(tmp_path / "b" / "p.gpkg")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_gpkg_refuses_to_overwrite_and_writes_atomically(tiny, tmp_path, monkeypatch):
    p = Project(tiny)
    path = p.to_gpkg(tmp_path / "p.gpkg")
    with pytest.raises(FileExistsError):
        p.to_gpkg(path)
    before = path.read_bytes()
    import landplan.project as mod
    calls = {"n": 0}
    real = mod.write_layer

    def failing(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(*args, **kw)

    monkeypatch.setattr(mod, "write_layer", failing)
    with pytest.raises(OSError, match="disk full"):
        p.to_gpkg(path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["p.gpkg"]


def _write_folder(project: Project, folder, fmt: str, encoding="UTF-8"):
    folder.mkdir()
    inverse = {layer: {v: k for k, v in m.items()} for layer, m in SHORT.items()}
    for name, df in project.layers.items():
        out = df.rename(columns=inverse.get(name, {}))
        if fmt == "shp":
            if isinstance(out, gpd.GeoDataFrame):
                pyogrio.write_dataframe(out, folder / f"{name}.shp", encoding=encoding)
            else:
                df.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig")
        elif fmt == "geojson":
            if isinstance(out, gpd.GeoDataFrame):
                pyogrio.write_dataframe(df, folder / f"{name}.geojson", driver="GeoJSON")
            else:
                df.to_excel(folder / f"{name}.xlsx", index=False)
        elif fmt == "gpkg":
            pyogrio.write_dataframe(df, folder / f"{name}.gpkg", driver="GPKG")
    return {k: v for k, v in SHORT.items()} if fmt == "shp" else None


@pytest.mark.parametrize("fmt", ["shp", "geojson", "gpkg"])
def test_folder_round_trip_every_format(tiny, tmp_path, fmt):
    p = Project(_with_leading_zeros(tiny))
    mapping = _write_folder(p, tmp_path / "county", fmt)
    if fmt == "shp":
        # only the layers whose names were cut need a mapping; the CSV keeps full names
        mapping = {k: v for k, v in mapping.items() if k != "households"}
    q = Project.read(tmp_path / "county", mapping=mapping)
    assert_same_project(p, q)


def test_gbk_shapefile_with_cpg_reads_without_being_told(tiny, tmp_path):
    p = Project(tiny)
    folder = tmp_path / "gbk"
    mapping = _write_folder(p, folder, "shp", encoding="GBK")
    assert "GBK" in (folder / "villages.cpg").read_text().upper() or \
        "936" in (folder / "villages.cpg").read_text()
    q = Project.read(folder, mapping={k: v for k, v in mapping.items() if k != "households"})
    assert q["villages"]["name"].tolist() == ["竹林村", "<b>东港村</b>", "凤桥村"]


def test_gbk_shapefile_without_cpg_is_detected_then_read_with_encoding(tiny, tmp_path):
    p = Project(tiny)
    folder = tmp_path / "gbk"
    mapping = _write_folder(p, folder, "shp", encoding="GBK")
    mapping = {k: v for k, v in mapping.items() if k != "households"}
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    with pytest.raises(EncodingError) as exc:
        Project.read(folder, mapping=mapping)
    text = str(exc.value)
    assert "encoding='gbk'" in text and "[villages] mojibake" in text
    assert "竹林村" in text  # the message shows what the text reads as in GBK
    q = Project.read(folder, mapping=mapping, encoding="gbk")
    assert q["villages"]["name"].tolist() == ["竹林村", "<b>东港村</b>", "凤桥村"]
    assert q["roads"]["name"].tolist()[0] == "南湖大道"


def test_reading_leaves_the_users_files_untouched(tiny, tmp_path):
    p = Project(tiny)
    folder = tmp_path / "county"
    mapping = _write_folder(p, folder, "shp", encoding="GBK")
    mapping = {k: v for k, v in mapping.items() if k != "households"}
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    with pytest.raises(EncodingError):
        Project.read(folder, mapping=mapping)
    Project.read(folder, mapping=mapping, encoding="gbk")
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before


def test_mapping_naming_a_column_the_file_lacks(tiny, tmp_path):
    p = Project(tiny)
    folder = tmp_path / "county"
    _write_folder(p, folder, "gpkg")
    with pytest.raises(ValidationError) as exc:
        Project.read(folder, mapping={"homesteads": {"ZJDBH": "homestead_id"}})
    assert exc.value.problems[0].rule == "mapping_column_missing"
    assert exc.value.problems[0].rows == ["ZJDBH"]


def test_files_mapping_with_chinese_file_names(tiny, tmp_path):
    p = Project(tiny)
    folder = tmp_path / "county"
    folder.mkdir()
    names = {"towns": "镇界.gpkg", "villages": "行政村.gpkg", "households": "农户.csv",
             "homesteads": "宅基地.gpkg"}
    for layer, fname in names.items():
        df = p[layer]
        if fname.endswith(".csv"):
            df.to_csv(folder / fname, index=False)
        else:
            pyogrio.write_dataframe(df, folder / fname, driver="GPKG")
    q = Project.read(folder, files=names)
    assert set(q.layers) == set(names)
    assert q["homesteads"]["homestead_id"].tolist() == p["homesteads"]["homestead_id"].tolist()


def test_select_towns_is_town_local(tiny):
    p = Project(tiny)
    t2 = p.select_towns(["T2"])
    assert t2["villages"]["village_id"].tolist() == ["T2V1"]
    assert set(t2["homesteads"]["village_id"]) == {"T2V1"}
    assert t2["sites"]["site_id"].tolist() == ["S2"]
    Project(t2.layers)  # still a valid project
