"""Online basemap tiles: Tianditu with the user's key; GCJ-02 tiles refused.

A plan map needs no basemap (it works with no internet at all). When a
meeting room does have internet, Tianditu (天地图, the national platform) is
the basemap to use: its tiles are in CGCS2000, which matches landplan's data
to well under a metre, and it needs the user's own key (申请 at the Tianditu
developer site; landplan never ships one).

Gaode/AMap (高德) and Tencent (腾讯) tiles are in GCJ-02, an obfuscated datum
whose offset from CGCS2000/WGS84 varies from place to place (100 to 700 m in
Zhejiang); Baidu's are in BD-09, offset further. CGCS2000 data drawn on them
lands hundreds of metres off, so landplan refuses them rather than shift the
data by an approximation.

Examples
--------
>>> from landplan.maps.tiles import tianditu_tiles, check_tile_url
>>> base, labels = tianditu_tiles("0123456789abcdef0123456789abcdef")
>>> "TILEMATRIXSET=w" in base.tiles and "tk=0123456789abcdef" in base.tiles
True
>>> check_tile_url("https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}")
Traceback (most recent call last):
...
landplan.errors.ValidationError: 1 problem found:
  [tiles] gcj02_tiles: ...
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import folium

from ..errors import Problem, ValidationError

__all__ = ["OFFSET_TILE_HOSTS", "check_tile_url", "tianditu_tiles", "tile_layers"]

#: Tile hosts whose maps are not in CGCS2000/WGS84: host suffix -> (provider, datum).
OFFSET_TILE_HOSTS: dict[str, tuple[str, str]] = {
    "autonavi.com": ("高德 Gaode/AMap", "GCJ-02"),
    "amap.com": ("高德 Gaode/AMap", "GCJ-02"),
    "map.qq.com": ("腾讯 Tencent", "GCJ-02"),
    "gtimg.com": ("腾讯 Tencent", "GCJ-02"),
    "map.baidu.com": ("百度 Baidu", "BD-09"),
    "bdimg.com": ("百度 Baidu", "BD-09"),
    "bdstatic.com": ("百度 Baidu", "BD-09"),
}

_TIANDITU_KINDS = {"vec": ("矢量", "cva"), "img": ("影像", "cia"), "ter": ("地形", "cta")}
_TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                 "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                 "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")


def tianditu_tiles(key: str, *, kind: str = "vec", labels: bool = True) -> list[folium.TileLayer]:
    """Tianditu (天地图) basemap tiles with the user's key, for Leaflet's Web Mercator.

    Parameters
    ----------
    key : str
        Your Tianditu key (``tk``), a "浏览器端" key from the Tianditu
        developer console.
    kind : {"vec", "img", "ter"}
        矢量 vector map, 影像 imagery or 地形 terrain.
    labels : bool
        Add the matching annotation layer (注记) as an overlay.

    Returns
    -------
    list of folium.TileLayer
        The base layer, then the annotation overlay. They use the ``w``
        (Web Mercator) tile matrix set; the ``c`` set (lon/lat) would need a
        map in EPSG:4326, which the other layers of a plan map are not.

    Examples
    --------
    >>> layers = tianditu_tiles("0123456789abcdef0123456789abcdef", kind="img")
    >>> [layer.tile_name for layer in layers]
    ['天地图影像', '天地图影像注记']
    >>> "LAYER=cia" in layers[1].tiles
    True
    """
    key = (key or "").strip()
    if not key or not re.fullmatch(r"[A-Za-z0-9]+", key):
        raise ValidationError([Problem(
            "tiles", "tianditu_key", [], "a Tianditu key must be a non-empty string of letters and "
            "digits (the 32-character tk of your Tianditu application)",
            "pass tianditu_tiles(key=...) with your own key, or use no tiles (the map needs none)")])
    if kind not in _TIANDITU_KINDS:
        raise ValueError(f"kind must be one of {', '.join(_TIANDITU_KINDS)}, not {kind!r}")
    zh, label_layer = _TIANDITU_KINDS[kind]
    attr = "&copy; 天地图 Tianditu"
    common = {"attr": attr, "subdomains": "01234567", "max_zoom": 18, "min_zoom": 1}
    layers = [folium.TileLayer(_TIANDITU_URL.format(layer=kind, key=quote(key)), name=f"天地图{zh}",
                               overlay=False, control=True, **common)]
    if labels:
        layers.append(folium.TileLayer(_TIANDITU_URL.format(layer=label_layer, key=quote(key)),
                                       name=f"天地图{zh}注记", overlay=True, control=True, **common))
    return layers


def check_tile_url(url: str) -> None:
    """Refuse tile URLs whose maps are offset from CGCS2000 (GCJ-02, BD-09).

    Raises
    ------
    landplan.errors.ValidationError
        With the provider, the datum and the fix.

    Examples
    --------
    >>> check_tile_url("https://t0.tianditu.gov.cn/vec_w/wmts?tk=abc")  # fine: returns None
    """
    host = (urlsplit(url.replace("{s}", "a")).hostname or "").lower()
    for suffix, (provider, datum) in OFFSET_TILE_HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            raise ValidationError([Problem(
                "tiles", "gcj02_tiles" if datum == "GCJ-02" else "bd09_tiles", [url],
                f"{provider} tiles are in {datum}, an offset datum: CGCS2000 data drawn on them lands "
                "hundreds of metres off (100-700 m in Zhejiang, varying by place)",
                "use tianditu_tiles(key) (CGCS2000, no offset), or no tiles with an offline "
                "background from the project's GeoTIFF (background=...)")])


def tile_layers(tiles) -> list[folium.TileLayer]:
    """Normalise ``plan_map``'s ``tiles`` argument to checked tile layers.

    Parameters
    ----------
    tiles : None, str, folium.TileLayer or list of them
        A URL template (``https://.../{z}/{x}/{y}.png``) or layers.

    Examples
    --------
    >>> tile_layers(None)
    []
    >>> len(tile_layers(tianditu_tiles("abc123")))
    2
    """
    if tiles is None:
        return []
    items = tiles if isinstance(tiles, (list, tuple)) else [tiles]
    out = []
    for t in items:
        if isinstance(t, str):
            check_tile_url(t)
            if "{z}" not in t:
                raise ValueError(f"tiles must be a URL template with {{z}}/{{x}}/{{y}}, not {t!r}; "
                                 "use tianditu_tiles(key) for Tianditu")
            t = folium.TileLayer(t, attr=urlsplit(t).hostname or "tiles", name="底图", max_zoom=18)
        elif isinstance(t, folium.TileLayer):
            check_tile_url(str(t.tiles))
        else:
            raise TypeError(f"tiles must be a URL template or folium.TileLayer, not {type(t).__name__}")
        out.append(t)
    return out
