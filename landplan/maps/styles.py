"""The registry of map layer styles: Chinese names, columns shown, colours.

Each layer :func:`landplan.maps.plan_map` can draw has a :class:`LayerStyle`
in :data:`LAYER_STYLES`, keyed by the name the layer is passed under
(``"villages"``, ``"homestead_flags"``, ``"moves"``, ...). A style says

- the Chinese name shown in the layer control and the legend;
- the columns shown in tooltips and popups (:class:`Field`), each with its
  Chinese label and format: the **whitelist**. Other columns are not written
  into the page unless the caller names them, and personal columns (household
  heads' names and ID numbers, :data:`PERSONAL_COLUMNS`) only with
  ``include_personal=True``;
- the colours: one colour, or one per value of a category column, or bins of
  a numeric column (a choropleth);
- how the geometry is prepared: ``coverage=True`` for adjacent polygons
  (simplified as a coverage, so shared edges stay shared), ``cluster=True``
  for many points (MarkerCluster).

The columns are those of the steps that produce the layers:
:func:`landplan.survey.survey_homesteads` (``survey_class``, ``reasons_zh``,
``reclaimable_m2`` ...), :func:`landplan.survey.hamlets_from_homesteads`,
the consolidation plan's ``sites`` and ``moves`` (see
:func:`landplan.maps.layers.move_lines`), and
:func:`landplan.transfer.transfer_progress` / ``operation_blocks``. Where
two names are in use for one thing they are listed as alternatives (the first
present is used); absent columns are skipped.

Examples
--------
>>> from landplan.maps.styles import LAYER_STYLES, style_for
>>> LAYER_STYLES["villages"].zh
'行政村'
>>> [f.zh for f in LAYER_STYLES["moves"].fields][:3]
['迁出(自然村)', '迁入(安置点)', '户数']
>>> style_for("villages").search
'name'
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..schema import LAYERS, PERSONAL_COLUMNS, VALUE_ZH

__all__ = [
    "LAYER_STYLES",
    "PERSONAL_COLUMNS",
    "VALUE_ZH",
    "Field",
    "LayerStyle",
    "label_for",
    "style_for",
]



@dataclass(frozen=True)
class Field:
    """A column shown in a layer's tooltip and popup.

    Parameters
    ----------
    columns : tuple of str
        The column, or alternative names for it; the first present is used.
    zh : str
        Chinese label.
    fmt : {"text", "code", "int", "float0", "float1", "float2", "pct", "bool", "year"}
        How the value is written: ``"code"`` translates coded values with
        :data:`VALUE_ZH`; ``"pct"`` writes a fraction as a percentage.
    tooltip : bool
        Also shown in the tooltip (hover), not only in the popup (click).
    """

    columns: tuple[str, ...]
    zh: str
    fmt: str = "text"
    tooltip: bool = False

    def __init__(self, columns, zh, fmt="text", tooltip=False):
        object.__setattr__(self, "columns", (columns,) if isinstance(columns, str) else tuple(columns))
        object.__setattr__(self, "zh", zh)
        object.__setattr__(self, "fmt", fmt)
        object.__setattr__(self, "tooltip", tooltip)

    def present(self, columns) -> str | None:
        """The first of :attr:`columns` found in ``columns``, or None."""
        return next((c for c in self.columns if c in columns), None)


@dataclass(frozen=True)
class LayerStyle:
    """How one layer is drawn and described.

    Parameters
    ----------
    key : str
        The name the layer is passed under.
    zh : str
        Chinese layer name (layer control, legend).
    geometry : {"Polygon", "LineString", "Point"}
        Expected geometry family. Points may be given as polygons (their
        representative point is drawn).
    id_columns : tuple of str
        The key column (alternatives); always written, so every feature can
        be traced to its row.
    fields : tuple of Field
        The whitelist of columns shown.
    color, weight, opacity, dash : outline / line style.
    fill_color, fill_opacity : fill; ``fill_color=None`` means outline only: the
        transparent inside answers hover and click where no layer above does, so
        such layers (towns, villages) come first in :data:`LAYER_STYLES`.
    radius : float
        Point radius in pixels.
    category : tuple of str
        Column (alternatives) whose value picks the colour from ``palette``.
    palette : tuple of (value, colour, label)
        Colours per category value. ``value`` None matches missing values.
        Values not listed get colours from :data:`FALLBACK_COLOURS`.
    bins : tuple of (upper, colour, label)
        Numeric classes of the category column (upper bound inclusive),
        instead of a palette.
    coverage : bool
        Adjacent polygons that tile the ground: simplified as a coverage.
    cluster : bool
        Cluster the points (MarkerCluster).
    close_gaps_m : float
        Draw the parts of a multi-part polygon that lie closer than this as
        one outline (a morphological closing): a farmland block is its
        parcels and the ditches between them, tens of thousands of rectangles
        that a browser draws slowly; its outline is a few hundred vertices.
        The attributes (the block's area) are the data's own.
    show : bool
        Shown when the map opens (otherwise ticked on in the layer control).
    area_mu : bool
        Show the area in mu computed from the geometry.
    search : str or None
        Column searched by the search control.
    """

    key: str
    zh: str
    geometry: str
    id_columns: tuple[str, ...]
    fields: tuple[Field, ...]
    color: str = "#555555"
    weight: float = 1.0
    opacity: float = 1.0
    dash: str | None = None
    fill_color: str | None = None
    fill_opacity: float = 0.35
    radius: float = 5.0
    category: tuple[str, ...] = ()
    palette: tuple[tuple, ...] = ()
    bins: tuple[tuple, ...] = ()
    coverage: bool = False
    cluster: bool = False
    close_gaps_m: float = 0.0
    show: bool = True
    area_mu: bool = False
    search: str | None = None
    description: str = field(default="", compare=False)

    def with_(self, **changes) -> LayerStyle:
        """A copy with some attributes changed."""
        return replace(self, **changes)


#: Colours for category values a palette does not list.
FALLBACK_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                    "#ff9da7", "#9c755f", "#bab0ac")

F = Field

LAYER_STYLES: dict[str, LayerStyle] = {s.key: s for s in [
    # drawn bottom to top: the pointer goes to the topmost layer under it
    LayerStyle(
        "towns", "镇界", "Polygon", ("town_id",),
        (F("name", "镇名称", tooltip=True), F("town_id", "镇代码")),
        color="#252525", weight=3.0, fill_color=None, coverage=True),
    LayerStyle(
        "villages", "行政村", "Polygon", ("village_id",),
        (F("name", "村名称", tooltip=True), F("village_id", "村代码"), F("town_id", "镇代码")),
        color="#737373", weight=1.2, dash="4 3", fill_color=None, coverage=True, search="name"),
    LayerStyle(
        "protected", "保护区", "Polygon", ("protected_id",),
        (F("kind", "类型", "code", tooltip=True), F("protected_id", "编号")),
        color="#238b45", weight=0.5, fill_color="#c7e9c0", fill_opacity=0.4,
        category=("kind",),
        palette=(("basic_farmland", "#c7e9c0", "永久基本农田"), ("ecological_redline", "#fdae6b", "生态保护红线"),
                 ("flood_zone", "#9ecae1", "蓄滞洪区")),
        show=False),
    LayerStyle(
        "water", "水域", "Polygon", ("water_id",),
        (F("name", "名称", tooltip=True), F("kind", "类型", "code", tooltip=True), F("water_id", "水域编号")),
        color="#6baed6", weight=0.5, fill_color="#9ecae1", fill_opacity=0.8),
    LayerStyle(
        "farmland", "承包地(流转状态)", "Polygon", ("parcel_id",),
        (F("parcel_id", "地块编号", tooltip=True), F("village_id", "村代码"),
         F("landuse_code", "地类", "code"), F("basic_farmland", "永久基本农田", "bool"),
         F("transfer_mode", "流转方式", "code", tooltip=True), F("transfer_operator", "流入方"),
         F("transfer_start_year", "流转起始年", "year"), F("transfer_term_years", "流转期限(年)", "int")),
        color="#999999", weight=0.3, fill_color="#dddddd", fill_opacity=0.7,
        category=("transfer_mode",),
        palette=(("lease", "#4e79a7", "出租"), ("shares", "#59a14f", "入股"),
                 ("exchange", "#edc948", "置换"), (None, "#e0e0e0", "未流转")),
        coverage=True, show=False, area_mu=True,
        description="farmland parcels coloured by transfer mode; heavy, off when the map opens"),
    LayerStyle(
        "homesteads", "宅基地", "Polygon", ("homestead_id",),
        (F("homestead_id", "宅基地编号", tooltip=True), F("status", "房屋状况", "code", tooltip=True),
         F("village_id", "村代码"), F("household_id", "户编号"), F("vacant_since", "闲置起始年", "year"),
         F("built_year", "建造年份", "year"), F("landuse_code", "地类", "code")),
        color="#8c510a", weight=0.5, fill_color="#dfc27d", fill_opacity=0.8, category=("status",),
        palette=(("occupied", "#dfc27d", "在用"), ("vacant", "#f46d43", "空置"),
                 ("dilapidated", "#a50026", "危旧"), ("collapsed", "#4d4d4d", "倒塌")),
        show=False, area_mu=False,
        description="every homestead plot; heavy at district scale, off when the map opens"),
    LayerStyle(
        "transfer", "土地流转进度", "Polygon", ("village_id",),
        (F(("village", "name"), "村名称", tooltip=True), F("village_id", "村代码"),
         F(("transferred_share", "share"), "流转比例", "pct", tooltip=True),
         F("transferred_mu", "已流转(亩)", "float1", tooltip=True),
         F("farmland_mu", "承包地(亩)", "float1"), F("parcels", "地块数", "int"),
         F("parcels_transferred", "已流转地块数", "int"), F(("lease_mu",), "出租(亩)", "float1"),
         F(("shares_mu",), "入股(亩)", "float1"), F(("exchange_mu",), "置换(亩)", "float1"),
         F("target_mu", "目标(亩)", "float0")),
        color="#ffffff", weight=0.5, fill_color="#cccccc", fill_opacity=0.7,
        category=("transferred_share", "share"),
        bins=((0.2, "#edf8e9", "< 20%"), (0.4, "#bae4b3", "20-40%"), (0.6, "#74c476", "40-60%"),
              (0.8, "#31a354", "60-80%"), (float("inf"), "#006d2c", ">= 80%"), (None, "#d9d9d9", "无数据")),
        coverage=True, show=False,
        description="per village (landplan.transfer.transfer_progress(level='village')); a table "
                    "keyed by village_id (column or index) is drawn on the villages' polygons"),
    LayerStyle(
        "blocks", "连片农田", "Polygon", ("block_id",),
        (F("block_id", "连片编号", tooltip=True), F("area_mu", "面积(亩)", "float1", tooltip=True),
         F(("operator", "transfer_operator"), "经营主体", tooltip=True), F("parcels", "地块数", "int"),
         F("scope", "范围", "code"), F("reaches_100_mu", "百亩方", "bool"),
         F("reaches_500_mu", "五百亩方", "bool"), F("village_id", "村代码")),
        color="#1b7837", weight=1.5, fill_color="#7fbf7b", fill_opacity=0.5, close_gaps_m=4.0,
        description="landplan.transfer.operation_blocks(...).blocks, drawn as outlines"),
    LayerStyle(
        "roads", "道路", "LineString", ("road_id",),
        (F("name", "名称", tooltip=True), F("road_class", "道路等级", "code", tooltip=True),
         F("bridge", "桥梁", "bool"), F("road_id", "道路编号")),
        color="#bdbdbd", weight=1.5, category=("road_class",),
        palette=(("highway", "#e15759", "公路"), ("county", "#f28e2b", "县道"),
                 ("town", "#9c755f", "乡镇道路"), ("village", "#a0a0a0", "村道"),
                 ("farm", "#d0d0d0", "机耕路"))),
    LayerStyle(
        "hamlets", "自然村", "Polygon", ("hamlet_id",),
        (F("hamlet_id", "自然村编号", tooltip=True), F("name", "自然村名称", tooltip=True),
         F("households", "户数", "int", tooltip=True), F("households_willing", "愿搬迁户数", "int"),
         F("n_homesteads", "宅基地数", "int"), F("homestead_area_m2", "宅基地面积(m²)", "float0"),
         F("retained", "保留", "bool"), F("village_id", "村代码"), F("town_id", "镇代码")),
        color="#d95f02", weight=1.0, fill_color="#fdb863", fill_opacity=0.35),
    LayerStyle(
        "facilities", "公共服务设施", "Point", ("facility_id",),
        (F("name", "名称", tooltip=True), F("kind", "类型", "code", tooltip=True),
         F("facility_id", "设施编号"), F("town_id", "镇代码")),
        color="#084594", radius=6.0, fill_color="#4292c6", fill_opacity=1.0, category=("kind",),
        palette=(("school", "#4292c6", "学校"), ("clinic", "#e31a1c", "卫生院"),
                 ("market", "#ff7f00", "集贸市场"), ("town_hall", "#6a3d9a", "镇政府"),
                 ("bus_stop", "#33a02c", "公交站"))),
    LayerStyle(
        "sites", "候选安置点", "Polygon", ("site_id", "destination"),
        (F("name", "名称", tooltip=True), F(("site_id", "destination"), "安置点编号", tooltip=True),
         F("kind", "类型", "code"), F(("town_id", "town"), "镇"),
         F(("capacity_households", "capacity"), "容纳户数", "int", tooltip=True),
         F("fixed_cost", "固定成本(元)", "float0"), F("excluded", "不予启动原因", tooltip=True)),
        color="#6a51a3", weight=1.5, dash="3 3", fill_color="#bcbddc", fill_opacity=0.4,
        area_mu=True),
    LayerStyle(
        "opened_sites", "启动安置点", "Polygon", ("site_id", "destination"),
        (F("name", "名称", tooltip=True), F(("site_id", "destination"), "安置点编号", tooltip=True),
         F("kind", "类型", "code"), F(("town_id", "town"), "镇"),
         F("households", "安置户数", "int", tooltip=True),
         F(("capacity_households", "capacity"), "容纳户数", "int"), F("fill_rate", "入住率", "pct"),
         F("fixed_cost", "固定成本(元)", "float0"), F("cost", "费用(元)", "float0")),
        color="#3f007d", weight=2.5, fill_color="#807dba", fill_opacity=0.7, area_mu=True,
        category=("kind",),
        palette=(("new_community", "#807dba", "农村新社区"), ("town_apartments", "#c51b8a", "城镇公寓"))),
    LayerStyle(
        "moves", "搬迁去向", "LineString", ("move_id", "origin"),
        (F("origin", "迁出(自然村)", tooltip=True), F("destination", "迁入(安置点)", tooltip=True),
         F("households", "户数", "int", tooltip=True),
         F(("distance_m", "distance"), "距离(米)", "float0", tooltip=True),
         F("cost", "费用(元)", "float0"), F("origin_town", "迁出镇"), F("destination_town", "迁入镇")),
        color="#e7298a", weight=2.0, opacity=0.8),
    LayerStyle(
        "homestead_flags", "宅基地调查标记", "Point", ("homestead_id",),
        (F("homestead_id", "宅基地编号", tooltip=True),
         F("survey_class", "类别", "code", tooltip=True), F("reasons_zh", "原因", tooltip=True),
         F("reclaimable_m2", "可复垦面积(m²)", "float0", tooltip=True),
         F("area_m2", "面积(m²)", "float0"), F("excess_m2", "超标面积(m²)", "float0"),
         F("household_plots", "户有宅基地数", "int"), F("status", "房屋状况", "code"),
         F("vacant_since", "闲置起始年", "year"), F("village_id", "村代码"),
         F("household_id", "户编号"), F("head_name", "户主姓名"), F("id_number", "户主身份证号")),
        color="#333333", weight=1.0, radius=5.0, fill_color="#ef8a62", fill_opacity=0.9,
        category=("survey_class",),
        palette=(("idle", "#d62728", "闲置"), ("surplus", "#ff7f0e", "一户多宅多余"),
                 ("oversize", "#9467bd", "在用超标"), ("in_use", "#bdbdbd", "在用")),
        cluster=True,
        description="landplan.survey.survey_homesteads rows (the flagged ones, or all)"),
]}
del F


def style_for(key: str) -> LayerStyle:
    """The style of layer ``key``, with a clear error for an unknown key.

    Examples
    --------
    >>> style_for("moves").geometry
    'LineString'
    """
    try:
        return LAYER_STYLES[key]
    except KeyError:
        raise KeyError(f"no map style for layer {key!r}; styled layers are: {', '.join(LAYER_STYLES)}."
                       " Pass styles={key: LayerStyle(...)} to plan_map to draw another layer") from None


def label_for(layer: str, column: str) -> str:
    """The Chinese label of a column: the style's, else the schema's, else the name itself.

    Examples
    --------
    >>> label_for("homesteads", "status")
    '房屋状况'
    >>> label_for("villages", "no_such_column")
    'no_such_column'
    """
    style = LAYER_STYLES.get(layer)
    if style is not None:
        for f in style.fields:
            if column in f.columns:
                return f.zh
    for spec in ([LAYERS[layer]] if layer in LAYERS else []) + list(LAYERS.values()):
        for c in spec.columns:
            if c.name == column:
                return c.zh
    return column
