"""Offline maps in a real browser: Debian's headless Chromium driven by Playwright.

Every page is opened from file:// with every other request intercepted, counted and
refused. Needs /usr/bin/chromium (``bash tools/install_browser.sh``) and Playwright for
Python; Playwright's own browser download is never used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_maps_interactive import BRACES_NAME, XSS_NAME, plan_layers

from landplan.maps import plan_map, save_offline, tianditu_tiles
from landplan.maps.browser import check_in_browser, chromium_path, launch_chromium

pytestmark = pytest.mark.browser

# Fire a pointer event on the feature of a layer whose column has a value (through the
# page's registry of layers), and return what the tooltip and popup show.
FIRE = """([key, column, value, events]) => {
  const entry = landplan.layers[key];
  let target = null;
  entry.layer.eachLayer(l => { if (landplan.value(entry.record, column, l._lp) === value) target = l; });
  if (!target) return null;
  const at = target.getBounds ? target.getBounds().getCenter() : target.getLatLng();
  for (const ev of events) target.fire(ev, {latlng: at}, true);
  const read = sel => Array.from(document.querySelectorAll(sel)).map(e => ({
      text: e.innerText, elements: e.querySelectorAll('b, img, script, iframe').length}));
  return {tooltip: read('.leaflet-tooltip'), popup: read('.leaflet-popup-content')};
}"""


@pytest.fixture(scope="module")
def browser():
    try:
        chromium_path()
    except FileNotFoundError as e:
        pytest.fail(str(e))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture
def page_of(browser):
    """Open a saved map with all outside requests refused; yields (page, blocked, errors)."""
    opened = []

    def open_(path: Path):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        blocked, errors, dialogs = [], [], []
        uri = path.resolve().as_uri()

        def route(r):
            url = r.request.url
            if url.startswith(("data:", "blob:")) or url.split("#")[0] == uri:
                r.continue_()
            else:
                blocked.append(url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(uri, wait_until="load")
        opened.append(context)
        return page, blocked, errors, dialogs

    yield open_
    for c in opened:
        c.close()


def test_plan_map_opens_offline_with_every_layer_and_a_screenshot(tiny, tmp_path, browser):
    m = plan_map(plan_layers(tiny), title="新丰镇规划图")
    path = save_offline(m, tmp_path / "plan.html")
    shot = tmp_path / "plan.png"
    report = check_in_browser(path, screenshot=shot, browser=browser)
    assert report.blocked_requests == []
    assert report.console_errors == []
    from landplan.maps.styles import LAYER_STYLES
    assert set(report.layer_names) == {LAYER_STYLES[k].zh for k in m.layer_counts}
    img = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert img.shape[:2] == (800, 1280)
    assert img.std() > 20 and len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # not blank
    print(f"tiny plan map: {report.render_ms:.0f} ms to first frame")


def test_interception_catches_online_tiles(tiny, tmp_path, browser):
    # a positive control: a map asking for Tianditu tiles does make requests, all refused
    m = plan_map({"villages": tiny["villages"]}, tiles=tianditu_tiles("0123456789abcdef"))
    report = check_in_browser(save_offline(m, tmp_path / "tiles.html"), browser=browser)
    assert report.blocked_requests and all("tianditu.gov.cn" in u for u in report.blocked_requests)
    assert all("tk=0123456789abcdef" in u for u in report.blocked_requests)


def test_markup_and_template_syntax_show_as_text_and_never_run(tiny, tmp_path, page_of):
    tiny["villages"].loc[0, "name"] = XSS_NAME
    tiny["villages"].loc[2, "name"] = BRACES_NAME
    path = save_offline(plan_map({"villages": tiny["villages"], "towns": tiny["towns"]},
                                 title="<i>标题</i>"), tmp_path / "xss.html")
    page, blocked, errors, dialogs = page_of(path)
    for vid, name in [("T1V1", XSS_NAME), ("T1V2", "<b>东港村</b>"), ("T2V1", BRACES_NAME)]:
        shown = page.evaluate(FIRE, ["villages", "village_id", vid, ["mouseover", "click"]])
        assert shown is not None, vid
        assert any(name in t["text"] for t in shown["tooltip"]), (vid, shown)
        assert any(name in p["text"] and "村代码" in p["text"] for p in shown["popup"]), (vid, shown)
        assert all(t["elements"] == 0 for t in shown["tooltip"] + shown["popup"])
    assert page.inner_text(".landplan-title") == "<i>标题</i>"
    assert page.evaluate("() => window.__xss") is None
    assert dialogs == [] and errors == [] and blocked == []


def test_search_by_village_name(tiny, tmp_path, page_of):
    path = save_offline(plan_map({"villages": tiny["villages"]}), tmp_path / "search.html")
    page, blocked, errors, _ = page_of(path)
    centre = page.evaluate("() => window[document.querySelector('.folium-map').id].getCenter()")
    page.fill("input.search-input", "凤桥")
    page.dispatch_event("input.search-input", "keyup")  # what typing (or an IME) fires
    page.wait_for_selector(".search-tip")
    assert page.eval_on_selector_all(".search-tip", "els => els.map(e => e.innerText)") == ["凤桥村"]
    page.fill("input.search-input", "&lt;b")
    page.dispatch_event("input.search-input", "keyup")
    page.wait_for_function("() => document.querySelector('.search-tip') && "
                           "document.querySelector('.search-tip').innerText === '<b>东港村</b>'")
    page.click(".search-tip")
    page.wait_for_function(f"() => window[document.querySelector('.folium-map').id].getCenter().lng "
                           f"!== {centre['lng']}")
    assert errors == [] and blocked == []


def test_hidden_layers_are_built_when_ticked_on(tiny, tmp_path, page_of):
    layers = plan_layers(tiny)
    path = save_offline(plan_map({"villages": layers["villages"], "farmland": layers["farmland"],
                                  "homestead_flags": layers["homestead_flags"]}),
                        tmp_path / "lazy.html")
    page, blocked, errors, _ = page_of(path)
    count = "() => landplan.layers.farmland.layer.getLayers().length"
    assert page.evaluate(count) == 0  # off when the map opens: nothing built yet
    page.get_by_label("承包地(流转状态)").check()
    assert page.evaluate(count) == len(layers["farmland"])
    shown = page.evaluate(FIRE, ["farmland", "parcel_id", "T1V1F000", ["mouseover"]])
    assert "出租" in shown["tooltip"][0]["text"]
    # the clustered points are all there, and a village re-ticked stays under the parcels
    assert page.evaluate("() => landplan.layers.homestead_flags.layer.getLayers().length") == 15
    page.get_by_label("行政村").uncheck()
    page.get_by_label("行政村").check()
    on_top = page.evaluate("""() => {
        const map = window[document.querySelector('.folium-map').id];
        const order = []; for (let o = map._renderer._drawFirst; o; o = o.next) order.push(o.layer);
        const v = landplan.layers.villages.layer.getLayers()[0];
        const f = landplan.layers.farmland.layer.getLayers()[0];
        return order.indexOf(v) < order.indexOf(f); }""")
    assert on_top
    assert errors == [] and blocked == []


def test_sample_town_map_renders_offline(tmp_path, browser):
    from landplan.datasets import sample_path
    from landplan.project import Project

    project = Project.read(sample_path())
    layers = {k: project[k] for k in ("towns", "villages", "farmland", "roads", "water", "sites",
                                      "facilities")}
    path = save_offline(plan_map(layers, title="样例镇", background=project.rasters["elevation"]),
                        tmp_path / "town.html")
    report = check_in_browser(path, screenshot=tmp_path / "town.png", browser=browser,
                              evaluate="() => { landplan.layers.farmland.layer.addTo("
                                       "window[document.querySelector('.folium-map').id]); "
                                       "return landplan.layers.farmland.layer.getLayers().length; }")
    assert report.blocked_requests == [] and report.console_errors == []
    assert report.evaluated == len(project["farmland"])
    assert "承包地(流转状态)" in report.layer_names and "背景：elevation(晕渲)" in report.layer_names
    print(f"sample town map: {path.stat().st_size / 1e6:.2f} MB, {report.render_ms:.0f} ms to first frame")

