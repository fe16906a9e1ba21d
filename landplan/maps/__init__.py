"""Maps: interactive offline HTML plan maps (folium) and their building blocks.

- :mod:`landplan.maps.interactive` -- :func:`plan_map`, the plan's layers on one map
- :mod:`landplan.maps.layers` -- map-ready layers from plan tables (moves as lines)
- :mod:`landplan.maps.styles` -- the layer registry: Chinese names, column whitelist, colours
- :mod:`landplan.maps.offline` -- pinned assets inlined: one ``.html`` that needs no internet
- :mod:`landplan.maps.encode` -- simplified, quantised, compactly encoded layers for the browser
- :mod:`landplan.maps.elements` -- folium elements: compact layers, clustered points, legend
- :mod:`landplan.maps.background` -- an offline background from the project's GeoTIFF
- :mod:`landplan.maps.tiles` -- Tianditu tiles with the user's key; GCJ-02 refused
- :mod:`landplan.maps.browser` -- check a saved map in headless Chromium (tests, benchmarks)

Examples
--------
>>> from landplan.maps import plan_map, save_offline
>>> callable(plan_map) and callable(save_offline)
True
"""

from .background import raster_overlay
from .interactive import layer_properties, plan_map
from .layers import move_lines
from .offline import OfflineMap, UnpinnedAssetError, external_references, offline_html, save_offline
from .styles import LAYER_STYLES, Field, LayerStyle
from .tiles import check_tile_url, tianditu_tiles

__all__ = [
           "LAYER_STYLES",
           "Field",
           "LayerStyle",
           "OfflineMap",
           "UnpinnedAssetError",
           "check_tile_url",
           "external_references",
           "layer_properties",
           "move_lines",
           "offline_html",
           "plan_map",
           "raster_overlay",
           "save_offline",
           "tianditu_tiles",
]
