"""Suitability rasters, candidate sites and layout-plan scoring on small projects built in code."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, box

from landplan.errors import CRSError, ValidationError
from landplan.project import Project
from landplan.scenario import load_scenario
from landplan.suitability import (
    EXCLUSION_BITS,
    candidate_sites,
    score_sites,
    site_capacity,
    suitability_raster,
)

CRS = "EPSG:4549"
X0, Y0 = 500000.0, 3400000.0


def _tif(path, array, *, crs=CRS, nodata=-9999.0, x0=X0, y1=Y0 + 2000, cell=10.0):
    kw = {"driver": "GTiff", "width": array.shape[1], "height": array.shape[0], "count": 1,
              "dtype": "float32", "transform": Affine(cell, 0, x0, 0, -cell, y1)}
    if crs is not None:
        kw["crs"] = crs
    if nodata is not None:
        kw["nodata"] = nodata
    with rasterio.open(path, "w", **kw) as dst:
        dst.write(array.astype("float32"), 1)
    return path


def _project(tmp_path, *, flood=None, elevation=True, **layers):
    """One 2 km x 2 km town with a canal, basic farmland, a homestead, a road and a school."""
    towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [X0 + 1000],
                              "seat_y": [Y0 + 1000]},
                             geometry=[box(X0, Y0, X0 + 2000, Y0 + 2000)], crs=CRS)
    base = {
        "towns": towns,
        "water": gpd.GeoDataFrame({"water_id": ["W1"], "kind": ["canal"]},
                                  geometry=[box(X0 + 1500, Y0, X0 + 1540, Y0 + 2000)], crs=CRS),
        "protected": gpd.GeoDataFrame(
            {"protected_id": ["P1", "P2"], "kind": ["ecological_redline", "flood_zone"]},
            geometry=[box(X0, Y0 + 1800, X0 + 200, Y0 + 2000),
                      box(X0 + 1800, Y0, X0 + 2000, Y0 + 200)], crs=CRS),
        "farmland": gpd.GeoDataFrame(
            {"parcel_id": ["F1", "F2"], "household_id": [None, None], "village_id": ["V", "V"],
             "landuse_code": ["0101", "0101"], "basic_farmland": [True, False]},
            geometry=[box(X0, Y0, X0 + 1000, Y0 + 500), box(X0, Y0 + 500, X0 + 400, Y0 + 800)],
            crs=CRS),
        "homesteads": gpd.GeoDataFrame(
            {"homestead_id": ["Z1"], "household_id": [None], "village_id": ["V"],
             "landuse_code": ["0702"], "status": ["occupied"]},
            geometry=[box(X0 + 1200, Y0 + 1200, X0 + 1220, Y0 + 1220)], crs=CRS),
        "roads": gpd.GeoDataFrame({"road_id": ["R1"], "road_class": ["town"]},
                                  geometry=[LineString([(X0, Y0 + 1000), (X0 + 2000, Y0 + 1000)])],
                                  crs=CRS),
        "facilities": gpd.GeoDataFrame({"facility_id": ["F1"], "kind": ["school"]},
                                       geometry=[Point(X0 + 500, Y0 + 1500)], crs=CRS),
    }
    base.update(layers)
    rasters = {}
    if flood is not None:
        rasters["flood_depth"] = _tif(tmp_path / "flood_depth.tif", flood)
    if elevation:
        _yy, xx = np.mgrid[0:200, 0:200]
        rasters["elevation"] = _tif(tmp_path / "elevation.tif", 1.0 + xx / 100.0)
    return Project(base, rasters=rasters, validate=False)


def _flood():
    depth = np.zeros((200, 200))
    depth[150:200, 0:50] = 1.2          # deep: bottom-left 500 m x 500 m
    depth[100:150, 100:150] = 0.25       # shallow
    depth[0, 199] = -9999.0              # one nodata cell (top right corner)
    return depth


def _read(path, band=1):
    with rasterio.open(path) as src:
        return src.read(band), src


def _cell(x, y):
    """Row, column of the cell whose centre is (x, y) metres from the town's lower-left corner."""
    return int((2000 - y) // 10), int(x // 10)


def test_exclusion_bits_where_each_layer_lies(tmp_path):
    p = _project(tmp_path, flood=_flood())
    out = suitability_raster(p, tmp_path / "score.tif")
    ex, _ = _read(out.exclusions)
    sc, _ = _read(out.score)
    b = EXCLUSION_BITS
    assert ex[_cell(505, 255)] == b["basic_farmland"] | 0       # F1, basic farmland
    assert ex[_cell(200, 650)] == 0                              # F2, not basic farmland
    assert ex[_cell(1515, 1505)] == b["water"]
    assert ex[_cell(105, 1905)] == b["ecological_redline"]
    assert ex[_cell(1905, 105)] == b["flood_zone"]
    assert ex[_cell(1205, 1205)] == b["buildings"]
    assert ex[_cell(255, 255)] == b["basic_farmland"] | b["deep_flood"]
    assert ex[_cell(1055, 555)] == 0                             # shallow flood is allowed
    for rc in [_cell(505, 255), _cell(1515, 1505), _cell(1205, 1205)]:
        assert sc[rc] == -9999.0                                 # no score where excluded
    s = out.summary()
    assert s.loc["water", "area_m2"] == 40 * 2000
    assert s.loc["buildings", "cells"] == 4
    assert s.loc["basic_farmland", "zh"] == "永久基本农田"
    assert out.cells == 200 * 200


def test_score_is_the_weighted_factors(tmp_path):
    p = _project(tmp_path, flood=_flood())
    out = suitability_raster(p, tmp_path / "score.tif")
    w = load_scenario().suitability["weights"]
    wsum = sum(v for k, v in w.items() if k != "clinic")  # the project has no clinic
    assert out.weights == pytest.approx({k: v / wsum for k, v in w.items() if k != "clinic"})
    with rasterio.open(out.score) as src:
        names = src.descriptions
        bands = src.read()
    assert names == ("score", "town_seat", "roads", "school", "flood", "elevation")
    x, y = 1055.0, 555.0  # a cell centre in the shallow flood patch
    r, c = _cell(x, y)
    seat = 1 - np.hypot(x - 1000, y - 1000) / 5000
    road = 1 - abs(y - 1000) / 1000
    school = 1 - np.hypot(x - 500, y - 1500) / 3000
    flood = 1 - 0.25 / 0.5
    elev_value = 1.0 + c / 100.0
    f = dict(zip(names, bands[:, r, c]))
    assert f["town_seat"] == pytest.approx(seat, abs=1e-5)
    assert f["roads"] == pytest.approx(road, abs=0.01)     # roads densified to half a cell
    assert f["school"] == pytest.approx(school, abs=1e-5)
    assert f["flood"] == pytest.approx(flood, abs=1e-6)
    lo, hi = np.percentile(1.0 + np.arange(200) / 100.0, [2, 98])
    assert f["elevation"] == pytest.approx((elev_value - lo) / (hi - lo), abs=0.02)
    want = sum(out.weights[k] * f[k] for k in out.weights)
    assert f["score"] == pytest.approx(want, abs=1e-5)
    # the nodata cell of the flood raster gets no score and no flood factor
    assert bands[0, 0, 199] == -9999.0 and bands[4, 0, 199] == -9999.0


def test_geotiff_has_crs_nodata_tiles_and_overviews(tmp_path):
    towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [X0 + 3000],
                              "seat_y": [Y0 + 3000]},
                             geometry=[box(X0, Y0, X0 + 6000, Y0 + 6000)], crs=CRS)
    p = Project({"towns": towns}, validate=False)
    out = suitability_raster(p, tmp_path / "big.tif")
    for path, nodata in ((out.score, -9999.0), (out.exclusions, 255)):
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 4549
            assert src.nodata == nodata
            assert src.res == (10.0, 10.0) and (src.width, src.height) == (600, 600)
            assert src.profile["tiled"] and src.profile["compress"] == "deflate"
            assert src.overviews(1) == [2]


def test_windowed_result_is_independent_of_window_size_and_threads(tmp_path):
    p = _project(tmp_path, flood=_flood())
    a = suitability_raster(p, tmp_path / "a.tif", block_size=512)
    b = suitability_raster(p, tmp_path / "b.tif", block_size=48, workers=2)
    with rasterio.open(a.score) as sa, rasterio.open(b.score) as sb:
        np.testing.assert_array_equal(sa.read(), sb.read())
    np.testing.assert_array_equal(_read(a.exclusions)[0], _read(b.exclusions)[0])
    assert a.excluded_cells == b.excluded_cells


def test_missing_factor_inputs_rescale_weights_and_say_so(tmp_path, caplog):
    p = _project(tmp_path, flood=None, elevation=False)
    with caplog.at_level(logging.WARNING, logger="landplan.suitability"):
        out = suitability_raster(p, tmp_path / "s.tif")
    assert set(out.weights) == {"town_seat", "roads", "school"}
    assert sum(out.weights.values()) == pytest.approx(1.0)
    assert "clinic" in caplog.text and "flood" in caplog.text and "elevation" in caplog.text


@pytest.mark.parametrize("case, rule, words", [
    ("crs", "crs_mismatch", ["EPSG:4326", "EPSG:4549"]),
    ("nodata", "missing_nodata", ["no nodata value"]),
    ("nocrs", "missing_crs", ["no coordinate reference system"]),
])
def test_bad_rasters_are_refused(tmp_path, case, rule, words):
    p = _project(tmp_path)
    arr = np.zeros((200, 200))
    if case == "crs":
        bad = _tif(tmp_path / "bad.tif", arr, crs="EPSG:4326", x0=120.0, y1=31.0, cell=1e-4)
    elif case == "nodata":
        bad = _tif(tmp_path / "bad.tif", arr, nodata=None)
    else:
        bad = _tif(tmp_path / "bad.tif", arr, crs=None)
    p.rasters["flood_depth"] = bad
    with pytest.raises(CRSError) as err:
        suitability_raster(p, tmp_path / "s.tif")
    assert rule in err.value.rules()
    for w in words:
        assert w in str(err.value)
    assert "flood_depth" in str(err.value)
    assert not (tmp_path / "s.tif").exists()


def test_existing_output_is_not_overwritten(tmp_path):
    p = _project(tmp_path)
    suitability_raster(p, tmp_path / "s.tif")
    with pytest.raises(FileExistsError):
        suitability_raster(p, tmp_path / "s.tif")
    suitability_raster(p, tmp_path / "s.tif", overwrite=True)


# --- sites ---------------------------------------------------------------------------------

def test_capacity_follows_the_plot_standard():
    s = load_scenario()
    assert site_capacity([0.0], [10000.0], scenario=s).tolist() == [50]   # 10000*0.7/140
    assert site_capacity([10000.0], [0.0], scenario=s).tolist() == [56]   # 10000*0.7/125
    assert site_capacity([0.0], [9990.0], scenario=s).tolist() == [49]
    s2 = s.replace(**{"sites.road_green_share": 0.5})
    assert site_capacity([0.0], [14000.0], scenario=s2).tolist() == [50]


def test_candidate_sites_are_big_enough_and_off_excluded_land(tmp_path):
    p = _project(tmp_path, flood=_flood())
    r = suitability_raster(p, tmp_path / "s.tif")
    c = candidate_sites(p, r, min_score=0.0)
    assert len(c) > 0
    assert (c["capacity_households"] >= 50).all()
    assert (c["capacity_by_standard"] == c["capacity_households"]).all()
    assert not c["on_protected"].any() and not c["in_water"].any()
    assert (c["buildings_m2"] == 0).all() and (c["buildable_share"] == 1.0).all()
    assert c["site_id"].is_unique and (c["town_id"] == "T1").all()
    # the canal splits the town: no site crosses it
    canal = p["water"].geometry.iloc[0]
    assert not c.geometry.intersection(canal).area.gt(1e-6).any()
    # a site on the non-basic farmland strip F2 counts cultivated land at 125 m2
    f2 = p["farmland"].geometry.iloc[1]
    on_f2 = c[c.geometry.intersection(f2).area > 0]
    assert len(on_f2) and (on_f2["cultivated_m2"] > 0).all()
    plain = c["cultivated_m2"] == 0
    assert (c.loc[plain, "capacity_households"]
            == np.floor(c.loc[plain, "area_m2"] * 0.7 / 140 + 1e-9)).all()
    # a stricter score leaves fewer, never more, cells
    strict = candidate_sites(p, r, min_score=0.7)
    assert strict["area_m2"].sum() < c["area_m2"].sum()
    # a Project accepts them as its sites layer
    Project({**{k: v for k, v in p.layers.items()}, "sites": c[["site_id", "town_id", "kind",
             "capacity_households", "fixed_cost", "geometry"]]}, validate=False)


def test_small_patches_are_not_candidates(tmp_path):
    towns = gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [X0 + 100],
                              "seat_y": [Y0 + 100]},
                             geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=CRS)
    # everything is basic farmland except a 100 m x 100 m hole (1 ha: 50 households)
    # and a 90 m x 100 m hole (45 households)
    farm = box(X0, Y0, X0 + 1000, Y0 + 1000).difference(box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200)) \
        .difference(box(X0 + 500, Y0 + 500, X0 + 590, Y0 + 600))
    prot = gpd.GeoDataFrame({"protected_id": ["P"], "kind": ["basic_farmland"]},
                            geometry=[farm], crs=CRS)
    p = Project({"towns": towns, "protected": prot}, validate=False)
    r = suitability_raster(p, tmp_path / "s.tif")
    c = candidate_sites(p, r, min_score=0.0)
    assert c["area_m2"].tolist() == [10000.0]
    assert c["capacity_households"].tolist() == [50]
    fewer = candidate_sites(p, r, min_score=0.0,
                            scenario=load_scenario().replace(**{"sites.min_households": 45}))
    assert sorted(fewer["capacity_households"].tolist()) == [45, 50]


def test_layout_plan_sites_on_protected_land_are_flagged(tmp_path):
    p = _project(tmp_path, flood=_flood())
    r = suitability_raster(p, tmp_path / "s.tif")
    plan = gpd.GeoDataFrame(
        {"site_id": ["布点A", "布点B", "布点C", "布点D"], "name": ["<b>东港</b>", "好", "水", "外"]},
        geometry=[box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200),    # on basic farmland F1
                  box(X0 + 1050, Y0 + 1100, X0 + 1150, Y0 + 1180),  # clean
                  box(X0 + 1490, Y0 + 600, X0 + 1560, Y0 + 700),    # across the canal
                  box(X0 + 5000, Y0, X0 + 5100, Y0 + 100)],         # off the grid
        index=[10, 20, 30, 40], crs=CRS)
    before = plan.copy()
    s = score_sites(plan, p, r)
    pd.testing.assert_frame_equal(plan, before)
    assert s.index.tolist() == [10, 20, 30, 40]
    assert s["site_id"].tolist() == plan["site_id"].tolist()
    assert s["on_protected"].tolist() == [True, False, False, False]
    assert s["in_water"].tolist() == [False, False, True, False]
    assert s.loc[10, "basic_farmland_m2"] == pytest.approx(10000.0)
    assert s.loc[10, "buildable_share"] == 0.0 and np.isnan(s.loc[10, "mean_score"])
    assert "占永久基本农田 10,000 m2 (100%)" in s.loc[10, "reasons"]
    assert "on permanent basic farmland" in s.loc[10, "reasons"]
    assert s.loc[20, "reasons"] == "" and s.loc[20, "buildable_share"] == 1.0
    assert 0 < s.loc[20, "mean_score"] <= 1
    assert s.loc[30, "water_m2"] == pytest.approx(4000.0)
    assert "占水域" in s.loc[30, "reasons"]
    assert "outside the suitability grid" in s.loc[40, "reasons"]
    # a clean 8000 m2 site on other land: floor(8000*0.7/140) = 40
    assert s.loc[20, "capacity_by_standard"] == 40


def test_sites_in_another_crs_are_refused(tmp_path):
    p = _project(tmp_path)
    r = suitability_raster(p, tmp_path / "s.tif")
    plan = gpd.GeoDataFrame({"site_id": ["A"]}, geometry=[box(X0, Y0, X0 + 50, Y0 + 50)],
                            crs=CRS).to_crs("EPSG:4490")
    with pytest.raises(CRSError) as err:
        score_sites(plan, p, r)
    assert "EPSG:4490" in str(err.value) and "EPSG:4549" in str(err.value)
    with pytest.raises(ValidationError, match="polygons"):
        score_sites(gpd.GeoDataFrame({"site_id": ["P"]}, geometry=[Point(X0, Y0)], crs=CRS), p, r)
