"""Offline HTML: every script, stylesheet and image inlined into the one file.

folium links Leaflet and its plugins from CDNs (jsDelivr, cdnjs), which are
unreachable in parts of mainland China; opened without them, a folium page
draws nothing. This module keeps the files folium 0.20 links, pinned byte for
byte in ``landplan/maps/assets/`` (see its ``MANIFEST.toml``: name, version,
licence and npm source of each), and writes a map as one self-contained
``.html``: each ``<script src>`` and ``<link href>`` is replaced by the pinned
file's content, and CSS ``url(...)`` images become ``data:`` URIs.

Saving refuses, with the URL named, a map that links a file no asset pins
(jQuery, Bootstrap and Font Awesome, which landplan's maps do not use, are not
pinned), and checks the written page with :func:`external_references`: no
``src``/``href``/``url()`` may point outside the file.

Examples
--------
>>> import folium
>>> from landplan.maps.offline import OfflineMap, offline_html, external_references
>>> m = OfflineMap(location=[30.75, 120.78], zoom_start=12)
>>> _ = folium.CircleMarker([30.75, 120.78], radius=5).add_to(m)
>>> page = offline_html(m)
>>> external_references(page)
[]
>>> "L.map(" in page and "cdn.jsdelivr.net" not in page
True
"""

from __future__ import annotations

import base64
import functools
import html as _html
import logging
import mimetypes
import posixpath
import re
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import folium

from ..errors import LandplanError

__all__ = [
    "ASSET_DIR",
    "Asset",
    "AssetFile",
    "OfflineMap",
    "UnpinnedAssetError",
    "asset_for_url",
    "external_references",
    "offline_html",
    "pinned_assets",
    "save_offline",
]

log = logging.getLogger(__name__)

#: Folder of the pinned browser assets.
ASSET_DIR = Path(__file__).parent / "assets"

# The folium 0.20 URLs of the two files every landplan map needs.
LEAFLET_JS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
LEAFLET_CSS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"


class UnpinnedAssetError(LandplanError):
    """A map links a script or stylesheet that no pinned asset provides."""


@dataclass(frozen=True)
class AssetFile:
    """One pinned file: its path under :data:`ASSET_DIR`, hash, and the URLs it replaces."""

    path: str
    sha256: str
    urls: tuple[str, ...] = ()
    url_base: str | None = None

    @property
    def full_path(self) -> Path:
        return ASSET_DIR / self.path

    @property
    def kind(self) -> str:
        """``"js"``, ``"css"`` or ``"image"``."""
        suffix = Path(self.path).suffix.lower()
        return {".js": "js", ".css": "css"}.get(suffix, "image")

    def read_text(self) -> str:
        return self.full_path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Asset:
    """One pinned package (e.g. Leaflet 1.9.3) and its files."""

    name: str
    version: str
    license: str
    license_file: str
    source: str
    integrity: str
    files: tuple[AssetFile, ...]


@functools.cache
def pinned_assets() -> tuple[Asset, ...]:
    """The pinned browser assets listed in ``assets/MANIFEST.toml``.

    Examples
    --------
    >>> {a.name: a.version for a in pinned_assets()}["leaflet"]
    '1.9.3'
    """
    manifest = tomllib.loads((ASSET_DIR / "MANIFEST.toml").read_text(encoding="utf-8"))
    assets = []
    for a in manifest["asset"]:
        files = tuple(AssetFile(f["path"], f["sha256"], tuple(f.get("urls", ())), f.get("url_base"))
                      for f in a["file"])
        assets.append(Asset(a["name"], a["version"], a["license"], a["license_file"], a["source"],
                            a["integrity"], files))
    return tuple(assets)


@functools.cache
def _by_url() -> dict[str, AssetFile]:
    return {url: f for a in pinned_assets() for f in a.files for url in f.urls}


@functools.cache
def _by_path() -> dict[str, AssetFile]:
    return {f.path: f for a in pinned_assets() for f in a.files}


def asset_for_url(url: str) -> AssetFile | None:
    """The pinned file that replaces ``url``, or None.

    Examples
    --------
    >>> asset_for_url(LEAFLET_JS).path
    'leaflet-1.9.3/leaflet.js'
    >>> asset_for_url("https://code.jquery.com/jquery-3.7.1.min.js") is None
    True
    """
    return _by_url().get(url)


# ---------------------------------------------------------------------------------------------
# inlining

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(f: AssetFile) -> str:
    """The stylesheet with every relative ``url(...)`` turned into a data URI."""
    base = f.url_base or posixpath.dirname(f.path) + "/"

    def repl(m: re.Match) -> str:
        ref = m.group(2).strip()
        if ref.startswith(("data:", "#")):
            return m.group(0)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^//", ref, re.IGNORECASE):
            raise UnpinnedAssetError(f"{f.path} refers to {ref}, outside the pinned assets")
        target = posixpath.normpath(posixpath.join(base, ref.split("?")[0].split("#")[0]))
        pinned = _by_path().get(target)
        if pinned is None:
            raise UnpinnedAssetError(f"{f.path} refers to {ref} ({target}), which is not pinned "
                                     "in landplan/maps/assets/MANIFEST.toml")
        return f'url("{_data_uri(pinned.full_path)}")'

    return _CSS_URL.sub(repl, f.read_text())


def _script_block(code: str) -> str:
    # "</script" or "<!--" inside a script would end or confuse the HTML parser.
    code = code.replace("</script", "<\\/script").replace("<!--", "<\\!--")
    return f"<script>\n{code}\n</script>"


def _style_block(css: str) -> str:
    css = css.replace("</style", "<\\/style")
    return f"<style>\n{css}\n</style>"


def _icon_patch() -> str:
    """Point Leaflet's default marker icon at data URIs (it otherwise guesses a path)."""
    images = {p: _data_uri(_by_path()[f"leaflet-1.9.3/images/{p}"].full_path)
              for p in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")}
    return _script_block(
        'L.Icon.Default.imagePath = "";\n'
        f'L.Icon.Default.mergeOptions({{iconUrl: "{images["marker-icon.png"]}", '
        f'iconRetinaUrl: "{images["marker-icon-2x.png"]}", '
        f'shadowUrl: "{images["marker-shadow.png"]}"}});')


_SCRIPT_SRC = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*(["'])(.*?)\1[^>]*>\s*</script\s*>""",
                         re.IGNORECASE | re.DOTALL)
_LINK_HREF = re.compile(r"""<link\b[^>]*?\bhref\s*=\s*(["'])(.*?)\1[^>]*?/?>""", re.IGNORECASE | re.DOTALL)


def _inline_head(head: str) -> str:
    missing: list[str] = []

    def js(m: re.Match) -> str:
        url = _html.unescape(m.group(2))
        f = asset_for_url(url)
        if f is None:
            missing.append(url)
            return m.group(0)
        block = _script_block(f.read_text())
        if f.path == "leaflet-1.9.3/leaflet.js":
            block += "\n" + _icon_patch()
        return block

    def css(m: re.Match) -> str:
        url = _html.unescape(m.group(2))
        f = asset_for_url(url)
        if f is None:
            missing.append(url)
            return m.group(0)
        return _style_block(_inline_css(f))

    head = _LINK_HREF.sub(css, _SCRIPT_SRC.sub(js, head))
    if missing:
        raise UnpinnedAssetError(
            "the map links files that are not pinned for offline use:\n  "
            + "\n  ".join(missing)
            + "\nfix: build the map with landplan.maps.plan_map or OfflineMap (which do not use "
              "jQuery, Bootstrap or Font Awesome), remove the elements that need these files, or "
              "pin them in landplan/maps/assets/MANIFEST.toml")
    return head


def offline_html(m: folium.Map) -> str:
    """Render a folium map as one self-contained HTML page.

    Parameters
    ----------
    m : folium.Map
        Any folium map whose elements link only pinned files; an
        :class:`OfflineMap` (what :func:`landplan.maps.plan_map` returns)
        always qualifies.

    Returns
    -------
    str
        The page, with scripts, stylesheets and images inlined.

    Raises
    ------
    UnpinnedAssetError
        The map links a file that no pinned asset provides, or the rendered
        page still refers to something outside itself.

    Examples
    --------
    >>> page = offline_html(OfflineMap(location=[30.75, 120.78]))
    >>> page.count("<script src=")
    0
    """
    page = m.get_root().render()
    cut = page.lower().find("</head>")
    if cut < 0:
        raise UnpinnedAssetError("the rendered map has no <head>; render it from a folium.Map")
    page = _inline_head(page[:cut]) + page[cut:]
    leftover = external_references(page)
    if leftover:
        raise UnpinnedAssetError("the offline page still refers to files outside itself:\n  "
                                 + "\n  ".join(leftover))
    return page


def save_offline(m: folium.Map, path: str | Path) -> Path:
    """Write a folium map as one ``.html`` that works with no internet at all.

    Parameters
    ----------
    m : folium.Map
        The map (see :func:`offline_html`).
    path : str or Path
        The ``.html`` file to write (UTF-8).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = save_offline(OfflineMap(location=[30.75, 120.78]),
    ...                    pathlib.Path(tempfile.mkdtemp()) / "map.html")
    >>> out.stat().st_size > 100_000  # Leaflet itself is inside
    True
    """
    page = offline_html(m)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    log.info("wrote offline map %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


# ---------------------------------------------------------------------------------------------
# audit

_URL_ATTRS = ("src", "href", "srcset", "poster", "data", "action", "formaction", "background",
              "xlink:href", "manifest", "ping")
_SAFE_PREFIXES = ("data:", "#", "about:blank", "javascript:void(0)")


class _RefFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.lower() in _URL_ATTRS and value is not None and value.strip():
                if not value.strip().lower().startswith(_SAFE_PREFIXES):
                    self.refs.append(f"<{tag} {name}={value!r}>")
            elif name.lower() == "style" and value:
                self._css(value, f"<{tag} style>")
        self._in_style = tag.lower() == "style"

    def handle_endtag(self, tag):
        if tag.lower() == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self._css(data, "<style>")

    def _css(self, css: str, where: str):
        for m in _CSS_URL.finditer(css):
            ref = m.group(2).strip()
            if not ref.lower().startswith(_SAFE_PREFIXES):
                self.refs.append(f"{where} url({ref})")
        for m in re.finditer(r"@import\s+(['\"])(.*?)\1", css):
            self.refs.append(f"{where} @import {m.group(2)}")


def external_references(page: str) -> list[str]:
    """Every ``src``/``href``/CSS ``url()`` in an HTML page that points outside it.

    ``data:`` URIs and ``#fragment`` links are inside the page; anything else
    (``http(s)://``, ``//host``, relative file paths) is listed.

    Examples
    --------
    >>> external_references('<img src="data:image/png;base64,AA=="><a href="#top">top</a>')
    []
    >>> external_references('<script src="https://cdn.example/leaflet.js"></script>')
    ["<script src='https://cdn.example/leaflet.js'>"]
    """
    finder = _RefFinder()
    finder.feed(page)
    finder.close()
    return finder.refs


# ---------------------------------------------------------------------------------------------
# the map class


class OfflineMap(folium.Map):
    """A :class:`folium.Map` that links only Leaflet and saves as one offline file.

    folium's defaults also link jQuery, Bootstrap, glyphicons, Font Awesome and
    awesome-markers, which landplan's maps do not use; this map drops them, so
    that every file it needs is pinned. ``save`` writes the self-contained page
    (:func:`save_offline`) and the notebook display shows the same page.

    Parameters
    ----------
    **kwargs
        As for :class:`folium.Map`; ``tiles`` defaults to None (no basemap).

    Examples
    --------
    >>> m = OfflineMap(location=[30.75, 120.78], zoom_start=11)
    >>> [name for name, _ in m.default_js]
    ['leaflet']
    """

    def __init__(self, *args, tiles=None, **kwargs):
        super().__init__(*args, tiles=tiles, **kwargs)
        # instance copies: folium's add_js_link mutates these lists in place
        self.default_js = [("leaflet", LEAFLET_JS)]
        self.default_css = [("leaflet_css", LEAFLET_CSS)]

    def save(self, outfile, close_file=True, **kwargs) -> None:
        """Write the map as one offline ``.html`` (see :func:`save_offline`)."""
        if hasattr(outfile, "write"):
            outfile.write(offline_html(self).encode("utf-8") if "b" in getattr(outfile, "mode", "")
                          else offline_html(self))
            if close_file:
                outfile.close()
        else:
            save_offline(self, outfile)

    def _repr_html_(self, **kwargs) -> str:
        page = _html.escape(offline_html(self), quote=True)
        return ('<div style="width:100%;"><div style="position:relative;width:100%;height:0;'
                'padding-bottom:60%;"><iframe srcdoc="' + page + '" style="position:absolute;'
                'width:100%;height:100%;left:0;top:0;border:none !important;" allowfullscreen>'
                '</iframe></div></div>')

