"""folium elements for plan maps: compact vector layers, clustered points, legend, title.

The layers subclass folium's own classes (``FeatureGroup``, ``MarkerCluster``)
so that folium's layer control and search plugin work with them unchanged;
what they change is how the data is written: one compact record per layer
(:mod:`landplan.maps.encode`: encoded-polyline geometry, attributes by
column, category colours by index) decoded in the browser by
:data:`LAYER_JS`, so that a district map stays small.

Every string these elements put into the page is HTML-escaped by the caller
(:mod:`landplan.maps.interactive`) before it gets here; the JSON holding it is
written with :func:`landplan.maps.encode.js_json`, which cannot close a
``<script>``.

Examples
--------
>>> from landplan.maps.elements import Legend
>>> html = Legend([("行政村", [("#737373", "村界", "line")])]).legend_html()
>>> "行政村" in html and "村界" in html
True
"""

from __future__ import annotations

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import MarkerCluster
from folium.template import Template

from .encode import html_text, js_json

__all__ = [
    "LAYER_JS",
    "ClusteredPoints",
    "CompactLayer",
    "DrawOrder",
    "Legend",
    "MetricScale",
    "Title",
]

POLYLINE_JS = "https://cdn.jsdelivr.net/npm/polyline-encoded@0.0.9/Polyline.encoded.js"

#: The browser side of :mod:`landplan.maps.encode`: decode a layer record into Leaflet
#: layers. Values and labels arrive HTML-escaped; tooltips and popups are built on demand.
#: ``landplan.layers[key]`` gives each layer and its record (for checks in the browser).
LAYER_JS = """
var landplan = (function () {
  function val(d, k, i) { var c = d.c[k]; return c.v ? c.v[c.i[i]] : c[i]; }
  function table(d, i, n) {
    var h = '<table class="landplan-detail">';
    for (var k = 0; k < n; k++) {
      var v = val(d, k, i);
      if (v !== null && v !== undefined) { h += '<tr><th>' + d.f[k] + '</th><td>' + v + '</td></tr>'; }
    }
    return h + '</table>';
  }
  function shapes(d, add) {
    var pts = L.PolylineUtil.decode(d.g, d.p), at = 0;
    function take(n) { var s = pts.slice(at, at + n); at += n; return s; }
    var count = d.k === 'point' ? pts.length : d.n.length;
    for (var i = 0; i < count; i++) {
      var s = Object.assign({}, d.s), e = d.n ? d.n[i] : null, layer;
      if (d.cat) { s[d.target] = d.col[d.cat[i]]; }
      if (d.k === 'point') {
        layer = L.circleMarker(pts[i], s);
      } else if (d.k === 'line') {
        layer = L.polyline(typeof e === 'number' ? take(e) : e.map(take), s);
      } else {
        layer = L.polygon(typeof e === 'number' ? [take(e)]
                          : e.map(function (rings) { return rings.map(take); }), s);
      }
      layer._lp = i;
      if (d.q >= 0) {
        var props = {};
        props[d.qn] = val(d, d.q, i);
        layer.feature = {type: 'Feature', properties: props};
      }
      add(layer);
    }
  }
  var registry = {};
  return {
    layers: registry,
    value: function (d, column, i) { var k = d.fn.indexOf(column); return k < 0 ? undefined : val(d, k, i); },
    group: function (d) {
      var g = L.featureGroup();
      registry[d.id] = {layer: g, record: d};
      var build = function () { shapes(d, function (layer) { g.addLayer(layer); }); };
      if (d.lazy) { g.once('add', build); } else { build(); }  // hidden layers: built when shown
      g.bindTooltip(function (layer) { return table(d, layer._lp, d.t); }, {sticky: true});
      g.bindPopup(function (layer) { return table(d, layer._lp, d.f.length); }, {maxWidth: 420});
      return g;
    },
    cluster: function (d, options) {
      var c = L.markerClusterGroup(options), markers = [];
      registry[d.id] = {layer: c, record: d};
      var tip = function (layer) { return table(d, layer._lp, d.t); };
      var pop = function (layer) { return table(d, layer._lp, d.f.length); };
      var build = function () {
        shapes(d, function (layer) { markers.push(layer); });
        c.addLayers(markers);
      };
      // tooltip and popup bound to a marker when the pointer first reaches it (tens of
      // thousands of markers would otherwise each carry two objects from the start);
      // cluster icons have no _lp and keep MarkerCluster's own behaviour
      c.on('mouseover', function (e) {
        var m = e.layer;
        if (m && m._lp !== undefined && !m.getTooltip()) { m.bindTooltip(tip).openTooltip(e.latlng); }
      });
      c.on('click', function (e) {
        var m = e.layer;
        if (m && m._lp !== undefined && !m.getPopup()) { m.bindPopup(pop).openPopup(e.latlng); }
      });
      // always built once on the map: MarkerCluster's addLayers off the map checks each
      // marker against all before it (quadratic); on the map it clusters in one pass
      c.once('add', build);
      return c;
    }
  };
})();
"""


def _add_layer_js(element) -> None:
    figure = element.get_root()
    figure.header.add_child(Element(f"<script>{LAYER_JS}</script>"), name="landplan_layer_js")


class _RecordLayer:
    """What the two compact layer elements share: the record as JavaScript, and
    the page's layer script added once when the element renders."""

    record: dict

    @property
    def record_js(self) -> str:
        return js_json(self.record)

    def render(self, **kwargs):
        _add_layer_js(self)
        super().render(**kwargs)


class CompactLayer(_RecordLayer, JSCSSMixin, folium.FeatureGroup):
    """A vector overlay from a compact layer record (see :mod:`landplan.maps.encode`).

    One Leaflet path per feature, in a feature group with one tooltip and
    one popup bound to the group, filled from the record's columns when the
    pointer reaches a feature.

    Parameters
    ----------
    record : dict
        Geometry (:func:`~landplan.maps.encode.encode_geometry`), columns
        (:func:`~landplan.maps.encode.encode_columns`), their names ``fn``
        and labels ``f``, the layer's key ``id``, tooltip field count ``t``, base style ``s``, category codes ``cat`` and
        colours ``col`` with the option they set (``target``), and the search
        field ``q``/``qn`` (-1 for none); ``lazy``: build the features only
        when the layer is first shown. Strings are HTML-escaped already.
    name : str
        Layer name (escaped), as shown in the layer control.
    show : bool
        Shown when the map opens.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = landplan.group({{ this.record_js }});
        {% endmacro %}
        """)
    default_js = [("polyline-encoded", POLYLINE_JS)]  # noqa: RUF012 (folium's convention)

    def __init__(self, record: dict, *, name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CompactLayer"
        self.record = record


class ClusteredPoints(_RecordLayer, MarkerCluster):
    """Many points as circle markers in a MarkerCluster, from a compact layer record.

    Parameters
    ----------
    record : dict
        As for :class:`CompactLayer`, with point geometry.
    name : str
        Layer name (escaped).
    show : bool
    disable_clustering_at_zoom : int
        From this zoom on, every point is drawn on its own.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = landplan.cluster({{ this.record_js }},
                                                   {{ this.options|tojavascript }});
        {% endmacro %}
        """)
    default_js = MarkerCluster.default_js + [("polyline-encoded", POLYLINE_JS)]

    def __init__(self, record: dict, *, name: str, show: bool = True,
                 disable_clustering_at_zoom: int = 18):
        super().__init__(name=name, show=show, overlay=True, control=True,
                         disableClusteringAtZoom=disable_clustering_at_zoom,
                         spiderfyOnMaxZoom=False)
        self._name = "ClusteredPoints"
        self.record = record


class Legend(MacroElement):
    """A fixed legend box: per layer, its swatches.

    Parameters
    ----------
    entries : list of (layer name, [(colour, label, kind), ...])
        ``kind`` is ``"fill"``, ``"line"``, ``"dash"`` or ``"point"``. Names and
        labels are escaped here.
    title : str
        Heading of the box.
    """

    _template = Template("""
        {% macro header(this, kwargs) %}
        <style>
          .landplan-legend { position: absolute; z-index: 1000; bottom: 24px; right: 10px;
            background: rgba(255,255,255,0.92); padding: 6px 10px; border-radius: 4px;
            box-shadow: 0 1px 4px rgba(0,0,0,0.3); max-height: 45%; overflow-y: auto;
            font: 12px/1.5 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
          .landplan-legend h4 { margin: 2px 0 4px; font-size: 13px; }
          .landplan-legend .lp-layer { font-weight: bold; margin-top: 4px; }
          .landplan-legend .lp-row { white-space: nowrap; }
          .landplan-legend .lp-sw { display: inline-block; width: 14px; height: 10px;
            margin-right: 5px; vertical-align: middle; border: 1px solid #666; }
          .landplan-legend .lp-line { height: 0; border: none; border-top: 3px solid; }
          .landplan-legend .lp-dash { height: 0; border: none; border-top: 2px dashed; }
          .landplan-legend .lp-point { width: 10px; height: 10px; border-radius: 50%; }
          .landplan-detail th { text-align: left; padding-right: 8px; white-space: nowrap; }
          .landplan-detail td { white-space: nowrap; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        {{ this.legend_html() }}
        {% endmacro %}
        """)

    def __init__(self, entries, *, title: str = "图例"):
        super().__init__()
        self._name = "Legend"
        self.entries = entries
        self.title = title

    def legend_html(self) -> str:
        esc = html_text
        parts = [f'<div class="landplan-legend"><h4>{esc(self.title)}</h4>']
        for layer, swatches in self.entries:
            parts.append(f'<div class="lp-layer">{esc(layer)}</div>')
            for colour, label, kind in swatches:
                colour = esc(colour)
                if kind == "line":
                    sw = f'<span class="lp-sw lp-line" style="border-top-color:{colour}"></span>'
                elif kind == "dash":
                    sw = f'<span class="lp-sw lp-dash" style="border-top-color:{colour}"></span>'
                elif kind == "point":
                    sw = f'<span class="lp-sw lp-point" style="background:{colour}"></span>'
                else:
                    sw = f'<span class="lp-sw" style="background:{colour}"></span>'
                parts.append(f'<div class="lp-row">{sw}{esc(label)}</div>')
        parts.append("</div>")
        return "".join(parts)


class Title(MacroElement):
    """A title bar at the top of the map (text escaped here)."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <style>
          .landplan-title { position: absolute; z-index: 1000; top: 8px; left: 50%;
            transform: translateX(-50%); background: rgba(255,255,255,0.92); padding: 4px 14px;
            border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,0.3);
            font: bold 16px/1.4 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
          .landplan-title small { font-weight: normal; font-size: 12px; color: #555; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <div class="landplan-title">{{ this.title_html }}</div>
        {% endmacro %}
        """)

    def __init__(self, title: str, subtitle: str | None = None):
        super().__init__()
        self._name = "Title"
        text = html_text(title)
        if subtitle:
            text += f" <small>{html_text(subtitle)}</small>"
        self.title_html = text


class MetricScale(MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` also shows feet and miles)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, metric: true, position: "bottomleft"})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """)

    def __init__(self):
        super().__init__()
        self._name = "MetricScale"


class DrawOrder(MacroElement):
    """Keep vector layers in their drawing order when one is ticked back on.

    Leaflet draws a re-added layer on top of the others; with the canvas
    renderer the topmost layer under the pointer gets hover and click, so a
    village outline re-added over the parcels would hide their tooltips.

    Parameters
    ----------
    layers : list of folium elements
        Bottom to top.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(map, layers) {
            map.on("overlayadd", function() {
                layers.forEach(function(l) {
                    if (map.hasLayer(l) && typeof l.bringToFront === "function") { l.bringToFront(); }
                });
            });
        })({{ this._parent.get_name() }}, [{{ this.names|join(", ") }}]);
        {% endmacro %}
        """)

    def __init__(self, layers):
        super().__init__()
        self._name = "DrawOrder"
        self.names = [layer.get_name() for layer in layers]
