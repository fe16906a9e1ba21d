"""Check an offline map in a real browser: headless Chromium driven by Playwright.

:func:`check_in_browser` opens a saved ``.html`` from ``file://`` with every
request that is not the file itself intercepted, counted and refused, and
reports what a planner would see: the console errors, the layer names in the
layer control, the time to the first drawn frame, and a screenshot. Tests and
``benchmarks/bench_maps.py`` use it; it also lets a planner check a map before
taking it to a meeting without internet.

It needs Playwright for Python and a Chromium. On Debian, Chromium comes from
apt (``tools/install_browser.sh``); Playwright's own browser download is not
used, so nothing is fetched at run time.

Examples
--------
>>> from landplan.maps.browser import CHROMIUM_ARGS
>>> "--disable-background-networking" in CHROMIUM_ARGS
True
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "BrowserReport", "check_in_browser", "chromium_path", "launch_chromium"]

log = logging.getLogger(__name__)

#: Chromium flags: no sandbox (root in CI), no GPU, and no background traffic of its own.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-default-apps", "--disable-extensions")

_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str:
    """The Chromium executable (Debian's ``/usr/bin/chromium`` first).

    Raises
    ------
    FileNotFoundError
        With the command that installs it.
    """
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise FileNotFoundError("no Chromium found; install it with `bash tools/install_browser.sh` "
                            "(Debian: apt-get install chromium fonts-noto-cjk)")


def launch_chromium(playwright):
    """Launch headless Chromium from the system, not Playwright's download."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS),
                                      headless=True)


@dataclass
class BrowserReport:
    """What a browser saw of a map page.

    Attributes
    ----------
    blocked_requests : list of str
        URLs the page tried to fetch from outside the file (all refused).
    console_errors : list of str
        Console errors and uncaught exceptions.
    layer_names : list of str
        Names in the layer control, as displayed.
    render_ms : float
        Milliseconds from the start of navigation to the first frame after
        the page's scripts ran (two animation frames after ``load``).
    wall_s : float
        Seconds the whole open took, as seen from Python.
    screenshot : Path or None
    evaluated : object
        The result of the ``evaluate`` script, if one was given.
    """

    blocked_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    layer_names: list[str] = field(default_factory=list)
    render_ms: float = float("nan")
    wall_s: float = float("nan")
    screenshot: Path | None = None
    evaluated: object = None


def check_in_browser(path: str | Path, *, screenshot: str | Path | None = None,
                     viewport: tuple[int, int] = (1280, 800), evaluate: str | None = None,
                     timeout_s: float = 120.0, browser=None) -> BrowserReport:
    """Open an offline map page in headless Chromium and report what happened.

    Parameters
    ----------
    path : str or Path
        The saved ``.html``.
    screenshot : str or Path, optional
        Where to save a PNG screenshot of the page.
    viewport : (int, int)
        Window size in pixels.
    evaluate : str, optional
        A JavaScript function body's expression (``"() => ..."``) evaluated
        after rendering; its value is in ``report.evaluated``.
    timeout_s : float
        Give up on loading after this long.
    browser : playwright Browser, optional
        A browser to reuse (from :func:`launch_chromium`); by default one is
        started and closed.

    Returns
    -------
    BrowserReport
    """
    from playwright.sync_api import sync_playwright

    path = Path(path).resolve()
    report = BrowserReport()
    own = browser is None
    pw = sync_playwright().start() if own else None
    try:
        if own:
            browser = launch_chromium(pw)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                      service_workers="block")
        page = context.new_page()

        def route(r):
            url = r.request.url
            if url.startswith(_LOCAL_SCHEMES) and (not url.startswith("file:") or
                                                   url.split("#")[0] == path.as_uri()):
                r.continue_()
            else:
                report.blocked_requests.append(url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda msg: report.console_errors.append(msg.text)
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: report.console_errors.append(f"uncaught: {exc}"))
        # timed inside the page: the second animation frame after "load" is the first one
        # drawn after all the page's scripts ran
        page.add_init_script(
            "window.addEventListener('load', () => requestAnimationFrame(() => "
            "requestAnimationFrame(() => { window.__landplanFirstFrame = performance.now(); })));")
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=timeout_s * 1000)
        page.wait_for_function("() => window.__landplanFirstFrame !== undefined",
                               timeout=timeout_s * 1000)
        report.render_ms = float(page.evaluate("() => window.__landplanFirstFrame"))
        report.wall_s = time.perf_counter() - t0
        report.layer_names = page.eval_on_selector_all(
            ".leaflet-control-layers-list label span span, .leaflet-control-layers-list label > span",
            "els => els.map(e => e.textContent.trim()).filter(t => t.length)")
        report.layer_names = list(dict.fromkeys(report.layer_names))
        if evaluate:
            report.evaluated = page.evaluate(evaluate)
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
            report.screenshot = Path(screenshot)
        context.close()
    finally:
        if own:
            browser.close()
            pw.stop()
    log.info("%s: %.0f ms to first frame, %d blocked requests, %d console errors", path.name,
             report.render_ms, len(report.blocked_requests), len(report.console_errors))
    return report
