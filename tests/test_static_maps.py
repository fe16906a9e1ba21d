"""Static maps: PNG and PDF with Chinese text in an embedded CJK font, legend, scale bar, north arrow."""

from __future__ import annotations

import re
import warnings

import geopandas as gpd
import matplotlib.image
import numpy as np
import pytest
from matplotlib_scalebar.scalebar import ScaleBar
from shapely.geometry import box

from landplan.errors import ValidationError
from landplan.maps import static
from landplan.maps.static import MissingFontError, map_figure, static_map

ORDER = ("water", "villages", "towns", "farmland", "roads", "homesteads", "sites", "facilities")


@pytest.fixture
def layers(tiny):
    out = {k: tiny[k] for k in ORDER}
    out["villages"] = out["villages"].assign(name=["竹林村", "<b>东港村</b>", r"凤桥村 $\frac$"])
    return out


def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts] + [ax.get_title()]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()] + [leg.get_title().get_text()]
    return out


def test_png_and_pdf_with_embedded_cjk_font(layers, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "Glyph ... missing" warning fails the test
        paths = static_map(layers, tmp_path / "maps" / "南湖区宅基地", title="南湖区 宅基地与承包地",
                           labels={"villages": "name"}, subtitle="合成数据 synthetic data",
                           dpi=60)
    assert [p.name for p in paths] == ["南湖区宅基地.png", "南湖区宅基地.pdf"]
    pdf = paths[1].read_bytes()
    fonts = set(re.findall(rb"/BaseFont\s*/([A-Z]{6}\+)?([A-Za-z0-9-]+)", pdf))
    names = {f[1].decode() for f in fonts}
    assert "NotoSansCJKsc-Regular" in names, names
    assert b"/FontFile" in pdf or b"/CharProcs" in pdf  # glyphs are in the file, not referenced
    img = matplotlib.image.imread(paths[0])
    assert img.shape[0] > 300 and img.shape[1] > 400
    rgb = img[..., :3].reshape(-1, 3)
    assert (rgb < 0.95).any(axis=1).mean() > 0.01  # not blank
    assert len(np.unique((rgb * 255).astype(np.uint8), axis=0)) > 10  # several colours drawn
    assert not list(tmp_path.glob("maps/.*"))  # no temporary files left


def test_legend_scale_bar_north_arrow_and_literal_labels(layers):
    fig = map_figure(layers, title="南湖区 $x$ 测试", labels={"villages": "name"})
    texts = _texts(fig)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["水域", "行政村", "镇界"]
    assert "道路: 县道" in legend and "道路: 村道" in legend
    assert "承包地(流转状态): 出租" in legend
    assert fig.legends[0].get_title().get_text() == "图例"
    assert "北" in texts
    assert "<b>东港村</b>" in texts and r"凤桥村 $\frac$" in texts  # text, not markup or math
    assert "南湖区 $x$ 测试" in texts
    ax = fig.axes[0]
    bars = [a for a in ax.artists if isinstance(a, ScaleBar)]
    assert len(bars) == 1 and bars[0].units == "m"
    x0, x1 = ax.get_xlim()
    assert x0 < 500000 and x1 > 504000  # the towns' extent is framed


def test_scale_bar_reads_in_metres_after_reprojection(tiny, tmp_path):
    lonlat = tiny["villages"].to_crs("EPSG:4490")
    fig = map_figure({"villages": lonlat}, title="行政村")
    x0, x1 = fig.axes[0].get_xlim()
    assert 4000 < x1 - x0 < 5000  # metres in EPSG:4549, not degrees


def test_missing_font_is_a_clear_error(layers, monkeypatch, tmp_path):
    monkeypatch.setattr(static, "CJK_FAMILY", "No Such CJK Font")
    monkeypatch.setattr(static, "CJK_FONT_FILES", ())
    with pytest.raises(MissingFontError, match="fonts-noto-cjk"):
        static_map(layers, tmp_path / "m", title="行政村")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MissingFontError, match="fonts-noto-cjk"):
        static.cjk_font(tmp_path / "nope.ttc")


def test_layer_without_crs_or_geometry_is_refused(tiny):
    nocrs = gpd.GeoDataFrame({"x": [1]}, geometry=[box(0, 0, 1, 1)])
    with pytest.raises(ValidationError) as err:
        map_figure({"draft": nocrs, "households": tiny["households"]}, title="t")
    assert err.value.rules() == {"missing_crs", "missing_geometry_column"}


def test_custom_style_and_unknown_layer(tiny):
    hamlets = gpd.GeoDataFrame({"hamlet_id": ["H1"]}, geometry=[box(500000, 3400000, 500100,
                                                                    3400100)], crs="EPSG:4549")
    fig = map_figure({"my_layer": hamlets, "villages": tiny["villages"]}, title="t",
                     styles={"villages": {"zh": "村界"}})
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["my_layer", "村界"]
