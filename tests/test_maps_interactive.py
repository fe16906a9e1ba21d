"""Offline interactive maps: pinned assets, escaping, whitelist, accounting, bad input.

Browser-level checks (requests, console, the rendered DOM) are in test_maps_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tomllib

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from folium.plugins import MarkerCluster, Search
from PIL import Image
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from landplan.errors import CRSError, ValidationError
from landplan.maps import (
    LAYER_STYLES,
    OfflineMap,
    UnpinnedAssetError,
    check_tile_url,
    external_references,
    move_lines,
    offline_html,
    plan_map,
    raster_overlay,
    save_offline,
    tianditu_tiles,
)
from landplan.maps.elements import POLYLINE_JS, ClusteredPoints, CompactLayer
from landplan.maps.encode import decode_geometry, display_geometry, encode_geometry
from landplan.maps.offline import ASSET_DIR, LEAFLET_CSS, LEAFLET_JS, asset_for_url, pinned_assets

XSS_NAME = '<script>alert(1)</script><img src=x onerror="window.__xss=1">竹林村'
BRACES_NAME = "{{ 7*7 }}{% if true %}东港{# x #}"


def records(m) -> dict:
    """Layer key -> the compact record each map layer carries."""
    return {el.record["id"]: el.record for el in m._children.values()
            if isinstance(el, (CompactLayer, ClusteredPoints))}


def column(record: dict, name: str) -> list:
    c = record["c"][record["fn"].index(name)]
    return [c["v"][i] for i in c["i"]] if isinstance(c, dict) else list(c)


def plan_layers(tiny) -> dict:
    """The tiny project plus survey-like flags, sites with a plan, moves and progress."""
    hs, hh = tiny["homesteads"], tiny["households"]
    flags = gpd.GeoDataFrame(
        {"homestead_id": hs["homestead_id"], "village_id": hs["village_id"],
         "household_id": hs["household_id"],
         "survey_class": np.where(hs["status"] == "occupied", "oversize", "idle"),
         "reasons_zh": np.where(hs["status"] == "occupied", "", "长期闲置"),
         "reclaimable_m2": 144.0},
        geometry=hs.geometry, crs=hs.crs)
    flags = flags.merge(hh[["household_id", "head_name", "id_number"]], on="household_id", how="left")
    flags = gpd.GeoDataFrame(flags, geometry="geometry", crs=hs.crs)
    sites = tiny["sites"].assign(opened=[True, False], households=[55, None])
    hamlets = gpd.GeoDataFrame(
        {"hamlet_id": ["T1V1-A", "T1V2-A", "T2V1-A"], "village_id": ["T1V1", "T1V2", "T2V1"],
         "households": [4, 4, 4]},
        geometry=[hs[hs.village_id == v].union_all().convex_hull for v in ["T1V1", "T1V2", "T2V1"]],
        crs=hs.crs)
    moves = pd.DataFrame({"origin": ["T1V1-A", "T1V2-A"], "destination": ["S1", "S1"],
                          "households": [4, 4], "distance_m": [1400.0, 600.0]})
    progress = pd.DataFrame({"village_id": ["T1V1", "T2V1"], "transferred_share": [0.35, 0.82],
                             "transferred_mu": [1.2, 0.9]}).set_index("village_id")
    return {"towns": tiny["towns"], "villages": tiny["villages"], "farmland": tiny["farmland"],
            "roads": tiny["roads"], "water": tiny["water"], "hamlets": hamlets,
            "homestead_flags": flags, "sites": sites, "moves": move_lines(moves, hamlets, sites),
            "transfer": progress, "facilities": tiny["facilities"]}


# ------------------------------------------------------------------------------------- assets


def test_pinned_assets_match_manifest_hashes_and_carry_licences():
    manifest = tomllib.loads((ASSET_DIR / "MANIFEST.toml").read_text(encoding="utf-8"))
    assert {a["name"] for a in manifest["asset"]} == {
        "leaflet", "leaflet.markercluster", "leaflet-search", "polyline-encoded"}
    total = 0
    for asset in pinned_assets():
        assert (ASSET_DIR / asset.license_file).read_text(encoding="utf-8").strip()
        assert asset.integrity.startswith("sha512-")
        for f in asset.files:
            data = f.full_path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.sha256, f.path
            total += len(data)
    assert total < 400_000  # only what the maps use


def test_every_url_folium_links_for_our_elements_is_pinned():
    urls = [LEAFLET_JS, LEAFLET_CSS, POLYLINE_JS]
    urls += [u for _, u in MarkerCluster.default_js + MarkerCluster.default_css]
    urls += [u for _, u in Search.default_js + Search.default_css]
    missing = [u for u in urls if asset_for_url(u) is None]
    assert missing == []


def test_offline_page_has_nothing_outside_itself(tiny, tmp_path):
    m = plan_map(plan_layers(tiny), title="测试")
    path = save_offline(m, tmp_path / "plan.html")
    page = path.read_text(encoding="utf-8")
    assert external_references(page) == []
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link\b", page)
    assert "cdn.jsdelivr.net" not in page and "cdnjs.cloudflare.com" not in page
    # CSS images became data URIs; Leaflet, MarkerCluster, search and the decoder are inside
    assert 'url("data:image/png;base64,' in page
    for marker in ("Leaflet 1.9.3", "Leaflet.markercluster", "Leaflet Control Search v2.9.7",
                   "PolylineUtil"):
        assert marker in page


def test_external_references_finds_every_kind_of_link():
    page = ('<html><head><link rel="stylesheet" href="https://x.example/a.css">'
            '<style>.a{background:url(images/b.png)} @import "c.css";</style></head>'
            '<body><img src="//x.example/d.png"><div style="background:url(\'e.png\')"></div>'
            '<a href="#top">ok</a><img src="data:image/png;base64,AA=="></body></html>')
    found = external_references(page)
    assert len(found) == 5
    assert any("a.css" in f for f in found) and any("e.png" in f for f in found)


def test_stock_folium_map_is_refused_with_the_unpinned_urls(tmp_path):
    m = folium.Map(location=[30.75, 120.78])
    with pytest.raises(UnpinnedAssetError, match="jquery-3.7.1.min.js") as e:
        save_offline(m, tmp_path / "stock.html")
    assert "bootstrap" in str(e.value) and "fix:" in str(e.value)
    assert not (tmp_path / "stock.html").exists()


def test_offline_map_save_and_notebook_display_are_offline(tmp_path):
    m = OfflineMap(location=[30.75, 120.78], zoom_start=12)
    folium.CircleMarker([30.75, 120.78], radius=4).add_to(m)
    m.save(str(tmp_path / "m.html"))
    assert external_references((tmp_path / "m.html").read_text(encoding="utf-8")) == []
    shown = m._repr_html_()
    assert "<iframe srcdoc=" in shown and "cdn.jsdelivr.net" not in shown


# ------------------------------------------------------------------------------------ escaping


def test_markup_in_attributes_is_escaped_before_it_reaches_the_page(tiny):
    tiny["villages"].loc[0, "name"] = XSS_NAME
    m = plan_map({"villages": tiny["villages"]})
    names = column(records(m)["villages"], "name")
    assert names[0] == ("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;"
                        "window.__xss=1&quot;&gt;竹林村")
    assert names[1] == "&lt;b&gt;东港村&lt;/b&gt;"  # the tiny fixture's own markup
    page = offline_html(m)
    assert "<script>alert(1)" not in page and "<b>东港村" not in page
    assert "<img src=x" not in page


def test_jinja_syntax_in_attributes_is_inert(tiny):
    # branca renders each element's output through Jinja again: braces must not survive as tags
    tiny["villages"].loc[1, "name"] = BRACES_NAME
    m = plan_map({"villages": tiny["villages"]}, title="{{ 6*7 }}规划")
    page = offline_html(m)
    assert "42规划" not in page
    assert column(records(m)["villages"], "name")[1] == (
        "&#123;&#123; 7*7 &#125;&#125;&#123;% if true %&#125;东港&#123;# x #&#125;")
    assert "&#123;&#123; 6*7 &#125;&#125;规划" in page


def test_personal_columns_leave_only_when_asked_for(tiny):
    layers = plan_layers(tiny)
    flags = layers["homestead_flags"]
    page = offline_html(plan_map({"homestead_flags": flags}))
    assert "测试户主" not in page and "TEST0" not in page
    m = plan_map({"homestead_flags": flags}, include_personal=True)
    rec = records(m)["homestead_flags"]
    assert set(column(rec, "head_name")) == set(flags["head_name"])
    assert "户主身份证号" in rec["f"]
    with pytest.raises(ValidationError) as e:
        plan_map({"homestead_flags": flags}, columns={"homestead_flags": ["id_number"]})
    assert e.value.rules() == {"personal_columns"}
    assert "include_personal=True" in str(e.value)


def test_unknown_columns_are_not_shown_unless_whitelisted(tiny):
    villages = tiny["villages"].assign(note=["机密甲", "机密乙", "机密丙"])
    assert "机密" not in offline_html(plan_map({"villages": villages}))
    m = plan_map({"villages": villages}, columns={"villages": ["note"]})
    assert column(records(m)["villages"], "note") == ["机密甲", "机密乙", "机密丙"]
    with pytest.raises(ValidationError, match="no_such"):
        plan_map({"villages": villages}, columns={"villages": ["no_such"]})


# ---------------------------------------------------------------------------------- accounting


def test_every_row_becomes_one_feature_and_geometry_round_trips(tiny):
    layers = plan_layers(tiny)
    m = plan_map(layers)
    expected = {k: len(v) for k, v in layers.items() if k not in ("sites", "transfer")}
    expected.update(sites=1, opened_sites=1, transfer=len(tiny["villages"]))
    assert m.layer_counts == expected
    recs = records(m)
    for key, n in expected.items():
        rec = recs[key]
        assert len(decode_geometry(rec)) == n, key
        assert all(len(c if isinstance(c, list) else c["i"]) == n for c in rec["c"]), key
    # the parcels come back where they were, to the precision asked for (1e-6 degree)
    parcels = decode_geometry(recs["farmland"])
    expected_xy = tiny["farmland"].to_crs("EPSG:4326").geometry
    for feature, geom in zip(parcels, expected_xy):
        ring = np.array(feature[0][0])[:, ::-1]
        assert np.abs(ring - np.asarray(geom.exterior.coords)[:-1]).max() < 1.1e-6


def test_input_frames_are_not_modified(tiny):
    layers = plan_layers(tiny)
    before = {k: v.copy() for k, v in layers.items()}
    plan_map(layers)
    for k, v in layers.items():
        pd.testing.assert_frame_equal(pd.DataFrame(v), pd.DataFrame(before[k]))


def test_transfer_progress_is_drawn_on_every_village(tiny):
    layers = plan_layers(tiny)
    m = plan_map({"villages": layers["villages"], "transfer": layers["transfer"]})
    rec = records(m)["transfer"]
    assert column(rec, "transferred_share") == ["35.0%", None, "82.0%"]
    # bins: 35% -> "20-40%", no row -> "无数据", 82% -> ">= 80%"
    assert [rec["col"][c] for c in rec["cat"]] == ["#bae4b3", "#d9d9d9", "#006d2c"]


def test_sites_split_into_candidate_and_opened(tiny):
    layers = plan_layers(tiny)
    m = plan_map({"sites": layers["sites"]})
    assert m.layer_counts == {"sites": 1, "opened_sites": 1}
    assert column(records(m)["opened_sites"], "households") == ["55"]


def test_a_project_draws_its_styled_layers(tiny):
    from landplan.project import Project

    m = plan_map(Project(tiny))
    assert set(m.layer_counts) == {"towns", "villages", "homesteads", "farmland", "roads", "water",
                                   "sites", "facilities"}
    assert m.layer_counts["homesteads"] == 15


def test_sample_town_every_parcel_is_drawn_under_three_megabytes(tmp_path):
    from landplan.datasets import sample_path
    from landplan.project import Project

    project = Project.read(sample_path())
    layers = {k: project[k] for k in ("towns", "villages", "farmland", "roads", "water", "sites")}
    m = plan_map(layers, background=project.rasters["elevation"])
    assert m.layer_counts["farmland"] == len(project["farmland"]) > 30_000
    assert len(decode_geometry(records(m)["farmland"])) == len(project["farmland"])
    path = save_offline(m, tmp_path / "town.html")
    assert path.stat().st_size < 3_000_000
    assert external_references(path.read_text(encoding="utf-8")) == []


# ----------------------------------------------------------------------------------- bad input


def test_bad_layers_are_refused_with_layer_rows_and_fix(tiny):
    roads = tiny["roads"].copy()
    roads.loc[1, "geometry"] = None
    water = tiny["water"].set_crs(None, allow_override=True)
    moves = gpd.GeoDataFrame({"origin": ["H1"], "destination": ["S1"], "households": [3]},
                             geometry=[Point(500000, 3400000)], crs="EPSG:4549")
    villages = tiny["villages"].drop(columns="village_id")
    with pytest.raises(ValidationError) as e:
        plan_map({"roads": roads, "water": water, "moves": moves, "villages": villages,
                  "parcels": tiny["farmland"]})
    by = {p.layer: p for p in e.value.problems}
    assert by["roads"].rule == "no_geometry" and by["roads"].rows == ["R2"]
    assert by["water"].rule == "no_crs"
    assert by["moves"].rule == "geometry_type" and by["moves"].rows == ["H1"]
    assert by["villages"].rule == "missing_key"
    assert by["parcels"].rule == "unknown_layer" and "farmland" in by["parcels"].fix
    assert all(p.fix for p in e.value.problems)


def test_transfer_rows_for_unknown_or_repeated_villages_are_refused(tiny):
    progress = pd.DataFrame({"village_id": ["T1V1", "T1V1", "X9"], "transferred_share": [0.1, 0.2, 0.3]})
    with pytest.raises(ValidationError) as e:
        plan_map({"villages": tiny["villages"], "transfer": progress})
    assert e.value.rules() == {"duplicate_village", "dangling_reference"}
    with pytest.raises(ValidationError, match="villages layer"):
        plan_map({"transfer": progress.iloc[:1]})


def test_move_lines_refuse_moves_they_cannot_place(tiny):
    hamlets = gpd.GeoDataFrame({"hamlet_id": ["H1"]}, geometry=[box(500000, 3400000, 500050, 3400050)],
                               crs="EPSG:4549")
    moves = pd.DataFrame({"origin": ["H1", "H9"], "destination": ["S1", "S1"], "households": [5, 6]},
                         index=[10, 11])
    lines = move_lines(moves.iloc[:1], hamlets, tiny["sites"])
    assert lines.index.tolist() == [10] and lines.geometry.iloc[0].geom_type == "LineString"
    assert lines.geometry.iloc[0].coords[0] == pytest.approx((500025, 3400025))
    with pytest.raises(ValidationError) as e:
        move_lines(moves, hamlets, tiny["sites"])
    assert e.value.problems[0].rows == ["H9->S1"]


# --------------------------------------------------------------------------------------- tiles


def test_tianditu_tiles_carry_the_key_and_the_web_mercator_matrix_set():
    base, labels = tianditu_tiles("abc123def456", kind="vec")
    for layer in (base, labels):
        assert "tk=abc123def456" in layer.tiles
        assert "TILEMATRIXSET=w" in layer.tiles and "_w/wmts" in layer.tiles
    assert "LAYER=vec" in base.tiles and "LAYER=cva" in labels.tiles
    with pytest.raises(ValidationError, match="Tianditu key"):
        tianditu_tiles("")


@pytest.mark.parametrize("url, rule", [
    ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&x={x}&y={y}&z={z}", "gcj02_tiles"),
    ("https://rt0.map.gtimg.com/tile?z={z}&x={x}&y={y}", "gcj02_tiles"),
    ("https://maponline0.bdimg.com/tile/?x={x}&y={y}&z={z}", "bd09_tiles"),
])
def test_offset_tiles_are_refused(url, rule, tiny):
    with pytest.raises(ValidationError) as e:
        check_tile_url(url)
    assert e.value.rules() == {rule} and "tianditu_tiles" in e.value.problems[0].fix
    with pytest.raises(ValidationError):
        plan_map({"villages": tiny["villages"]}, tiles=url)


def test_tiles_are_optional_and_added_as_layers(tiny):
    m = plan_map({"villages": tiny["villages"]}, tiles=tianditu_tiles("abc123"))
    page = m.get_root().render()
    assert "tianditu.gov.cn" in page and "tk=abc123" in page
    assert "tianditu" not in plan_map({"villages": tiny["villages"]}).get_root().render()


# ---------------------------------------------------------------------------------- background


def _tiff(path, *, crs="EPSG:4549", nodata=-9999.0):
    z = np.add.outer(np.arange(40.0), np.arange(50.0)) / 10
    z[:5, :5] = nodata
    with rasterio.open(path, "w", driver="GTiff", width=50, height=40, count=1, dtype="float32",
                       crs=crs, nodata=nodata, transform=Affine(10, 0, 500000, 0, -10, 3400400)) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def test_background_from_a_geotiff_is_an_embedded_image_in_the_right_place(tmp_path):
    overlay = raster_overlay(_tiff(tmp_path / "elevation.tif"))
    assert overlay.url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(overlay.url.split(",", 1)[1]))).convert("RGBA")
    alpha = np.asarray(img)[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 255  # nodata corner transparent
    (s, w), (n, e) = overlay.bounds
    t = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
    w0, s0 = t.transform(500000, 3400000)
    e0, n0 = t.transform(500500, 3400400)
    assert (w, s, e, n) == pytest.approx((w0, s0, e0, n0), abs=2e-5)
    m = plan_map({}, background=tmp_path / "elevation.tif")
    assert external_references(offline_html(m)) == []


def test_background_without_crs_is_refused(tmp_path):
    with rasterio.open(tmp_path / "x.tif", "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="float32", transform=Affine(10, 0, 500000, 0, -10, 3400040)) as dst:
        dst.write(np.ones((1, 4, 4), dtype="float32"))
    with pytest.raises(CRSError, match="no CRS"):
        raster_overlay(tmp_path / "x.tif")


# ------------------------------------------------------------------------------------ encoding


def test_encoding_round_trips_holes_multipolygons_and_multilines():
    hole = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    geoms = gpd.GeoSeries([hole, MultiPolygon([box(20, 0, 25, 5), box(30, 0, 35, 5)])], crs="EPSG:4549")
    geoms = geoms.translate(500000, 3400000)
    disp = display_geometry(geoms, tolerance_m=0)
    enc = encode_geometry(disp)
    assert enc["n"] == [[[4, 4]], [[4], [4]]]
    back = decode_geometry(enc)
    assert back[0][0][1] == [[y, x] for x, y in list(disp.iloc[0].interiors[0].coords)[:-1]]
    lines = gpd.GeoSeries([LineString([(120, 30), (120.1, 30.1), (120.2, 30)])], crs=4326)
    assert decode_geometry(encode_geometry(lines)) == [[[[30.0, 120.0], [30.1, 120.1], [30.0, 120.2]]]]
    with pytest.raises(ValueError, match="precision"):
        encode_geometry(lines, precision=7)


def test_adjacent_polygons_keep_their_shared_edges_when_simplified():
    # a wavy shared boundary between two villages, simplified at 5 m
    xs = np.linspace(0, 1000, 200)
    wave = [(500000 + x, 3400500 + 3 * np.sin(x / 7)) for x in xs]
    south = Polygon([(500000, 3400000), (501000, 3400000)] + wave[::-1])
    north = Polygon(wave + [(501000, 3401000), (500000, 3401000)])
    out = display_geometry(gpd.GeoSeries([south, north], crs="EPSG:4549"), tolerance_m=5, coverage=True)
    assert len(out.iloc[0].exterior.coords) < 60
    assert out.iloc[0].intersection(out.iloc[1]).area == pytest.approx(0, abs=1e-12)
    assert out.union_all().area == pytest.approx(out.iloc[0].area + out.iloc[1].area, rel=1e-9)


def test_blocks_are_drawn_as_the_outline_of_their_parcels_and_ditches():
    # block A: two parcels across a 3 m ditch; block B: one parcel 1 m wide (too thin to lose)
    a = MultiPolygon([box(500000, 3400000, 500010, 3400060), box(500013, 3400000, 500023, 3400060)])
    b = box(500100, 3400000, 500101, 3400060)
    blocks = gpd.GeoDataFrame({"block_id": ["A", "B"], "area_mu": [1.8, 0.09]}, geometry=[a, b],
                              crs="EPSG:4549")
    m = plan_map({"blocks": blocks})
    shapes = decode_geometry(records(m)["blocks"])
    assert m.layer_counts == {"blocks": 2}
    assert len(shapes[0]) == 1 and len(shapes[0][0]) == 1  # one polygon, one ring: the ditch closed
    assert len(shapes[1]) == 1
    assert column(records(m)["blocks"], "area_mu") == ["1.8", "0.1"]  # the data's own area


def test_layer_styles_name_every_layer_in_chinese_and_translate_codes():
    for key, style in LAYER_STYLES.items():
        assert re.search(r"[\u4e00-\u9fff]", style.zh), key
        assert style.fields and all(re.search(r"[\u4e00-\u9fff]", f.zh) for f in style.fields), key
    assert len({s.zh for s in LAYER_STYLES.values()}) == len(LAYER_STYLES)
