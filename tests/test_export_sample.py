"""County export, static map and Excel summary on the committed one-town sample."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from landplan.datasets import sample_path
from landplan.export import PERSONAL_COLUMNS, export_county, read_export
from landplan.maps.static import static_map
from landplan.project import Project
from landplan.report import write_summary


@pytest.fixture(scope="module")
def sample():
    return Project.read(sample_path())


@pytest.fixture(scope="module")
def sample_export(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample_export")
    manifest = export_county(sample, out, name="sample")
    return out, manifest


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "gdb"])
def test_sample_round_trip(sample, sample_export, fmt):
    out, manifest = sample_export
    for name, src in sample.layers.items():
        back = read_export(out, name, format=fmt, name="sample")
        cols = [c for c in src.columns if c != "geometry" and c not in PERSONAL_COLUMNS]
        assert [c for c in back.columns if c != "geometry"] == cols, name
        assert len(back) == len(src), name
        for c in cols:
            pd.testing.assert_series_equal(back[c].reset_index(drop=True),
                                           src[c].reset_index(drop=True), check_dtype=False,
                                           check_exact=False, rtol=1e-12, obj=f"{fmt}:{name}.{c}")
        if "geometry" in src.columns:
            assert back.crs.to_epsg() == 4549
            d = shapely.hausdorff_distance(src.geometry.values, back.geometry.values)
            assert np.nanmax(d) <= (1e-4 if fmt == "gdb" else 1e-6), (name, np.nanmax(d))
    counts = manifest[manifest["format"] == fmt].set_index("layer")["features"]
    assert counts.to_dict() == {k: len(v) for k, v in sample.layers.items()}


def test_sample_gbk_shapefiles(sample, tmp_path):
    export_county(sample, tmp_path, formats=("shp",), encoding="gbk",
                  layers=["villages", "households", "roads"], name="gbk")
    assert (tmp_path / "gbk_shp/villages.cpg").read_text() == "936"
    back = read_export(tmp_path, "villages", name="gbk")
    assert back["name"].tolist() == sample["villages"]["name"].tolist()
    raw = (tmp_path / "gbk_shp/villages.dbf").read_bytes()
    assert sample["villages"]["name"].iloc[0].encode("gbk") in raw


def test_sample_gdb_is_arcmap_readable(sample_export):
    out, _ = sample_export
    for layer, _ in pyogrio.list_layers(out / "sample.gdb"):
        types = pyogrio.read_info(out / "sample.gdb", layer=layer)["ogr_types"]
        assert "OFTInteger64" not in types, layer


def test_sample_static_map_and_summary(sample, tmp_path):
    layers = {k: sample[k] for k in ("water", "villages", "towns", "roads", "sites")}
    png, pdf = static_map(layers, tmp_path / "sample", title=f"{sample['towns']['name'].iloc[0]} 村庄布局",
                          labels={"villages": "name"}, dpi=60)
    assert b"NotoSansCJKsc" in pdf.read_bytes() and png.stat().st_size > 10_000
    hs = sample["homesteads"].assign(idle=sample["homesteads"]["status"] != "occupied",
                                     area_m2=sample["homesteads"].geometry.area)
    by_village = hs.groupby("village_id", as_index=False).agg(
        homesteads=("homestead_id", "size"), idle=("idle", "sum"), area_m2=("area_m2", "sum"))
    by_village = sample["villages"][["village_id", "town_id", "name"]].merge(by_village)
    path = write_summary(tmp_path / "sample.xlsx", survey={"village": by_village})
    ws = openpyxl.load_workbook(path)["宅基地调查-按村"]
    assert ws.max_row == len(sample["villages"]) + 1
    assert sum(c.value for c in ws["D"][1:]) == len(sample["homesteads"])
