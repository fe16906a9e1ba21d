"""Layer specifications: the data model every landplan step reads.

Each layer of a project has a :class:`LayerSpec`: its key column, its
geometry type (or none, for tables such as households), its columns with
dtypes, allowed values and whether they may be empty, and the references
it makes to other layers' keys. Validation (:mod:`landplan._validate`)
and storage (:mod:`landplan.project`) are driven entirely by these specs.

Ids are strings (a county's ids keep their leading zeros). Areas are in
m2 and derived from geometry, never stored as columns a user must keep
in step. Years are nullable integers.

Examples
--------
>>> from landplan.schema import LAYERS
>>> LAYERS["homesteads"].key
'homestead_id'
>>> [c.name for c in LAYERS["villages"].columns]
['village_id', 'town_id', 'name']
>>> LAYERS["households"].geometry is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Column",
    "Reference",
    "LayerSpec",
    "LAYERS",
    "REQUIRED_LAYERS",
    "HOMESTEAD_STATUS",
    "RESIDENCE_STATUS",
    "FARMLAND_CODES",
    "TRANSFER_MODES",
    "ROAD_CLASSES",
    "layer_spec",
    "VALUE_ZH",
    "PERSONAL_COLUMNS",
]

#: Building status of a homestead (宅基地房屋状况).
HOMESTEAD_STATUS = ("occupied", "vacant", "dilapidated", "collapsed")
#: Residence status of a household (户籍人口居住状况): everyone lives there,
#: everyone has migrated out (全家外出), or nobody (户在人无).
RESIDENCE_STATUS = ("resident", "migrant", "none")
#: GB/T 21010-2017 codes for cultivated land: 0101 paddy 水田, 0102 irrigated
#: 水浇地, 0103 dry 旱地.
FARMLAND_CODES = ("0101", "0102", "0103")
#: GB/T 21010-2017 code for rural homesteads (农村宅基地).
HOMESTEAD_CODE = "0702"
#: Farmland transfer modes: 出租 lease, 入股 shares, 置换 exchange.
TRANSFER_MODES = ("lease", "shares", "exchange")
#: Road classes, fastest first.
ROAD_CLASSES = ("highway", "county", "town", "village", "farm")
WATER_KINDS = ("river", "canal", "pond")
PROTECTED_KINDS = ("basic_farmland", "ecological_redline", "flood_zone")
SITE_KINDS = ("new_community", "town_apartments")
FACILITY_KINDS = ("school", "clinic", "market", "town_hall", "bus_stop")

# Geometry families: a layer of "Polygon" accepts Polygon and MultiPolygon.
GEOMETRY_FAMILIES = {
    "Polygon": ("Polygon", "MultiPolygon"),
    "LineString": ("LineString", "MultiLineString"),
    "Point": ("Point", "MultiPoint"),
}


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer.

    Parameters
    ----------
    name : str
        Column name in landplan's data model (ASCII).
    dtype : {"str", "int", "float", "bool", "year"}
        Logical type. ``"year"`` is a nullable integer year.
    zh : str
        Chinese heading used in reports and exports.
    required : bool
        Whether the column must be present in the input.
    nullable : bool
        Whether a value may be missing.
    choices : tuple of str, optional
        Allowed values for a ``"str"`` column.
    minimum, maximum : float, optional
        Allowed numeric range (inclusive).
    personal : bool
        Personal data (names, ID numbers): never exported unless asked for.
    """

    name: str
    dtype: str
    zh: str
    required: bool = True
    nullable: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    personal: bool = False
    description: str = ""

    @property
    def pandas_dtype(self) -> str:
        """The pandas dtype a column of this spec is stored as."""
        return {
            "str": "str",
            "int": "Int64",
            "year": "Int64",
            "float": "float64",
            "bool": "boolean",
        }[self.dtype]


@dataclass(frozen=True)
class Reference:
    """A column that points at another layer's key (a foreign key)."""

    column: str
    layer: str
    nullable: bool = False
    #: A dangling value is a data-quality finding (warning), not an error: the
    #: survey reports it (a homestead whose household is not registered).
    warn_only: bool = False


@dataclass(frozen=True)
class LayerSpec:
    """The specification of one layer.

    Parameters
    ----------
    name : str
        Layer name in a project.
    zh : str
        Chinese name.
    key : str
        Unique id column.
    geometry : str or None
        ``"Polygon"``, ``"LineString"``, ``"Point"``, or None for a table.
    columns : tuple of Column
        Columns, the key first.
    references : tuple of Reference
        Columns that refer to other layers.
    """

    name: str
    zh: str
    key: str
    geometry: str | None
    columns: tuple[Column, ...]
    references: tuple[Reference, ...] = field(default=())
    description: str = ""

    def column(self, name: str) -> Column:
        """Return the column spec called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"layer {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        """Names of all columns, the key first."""
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """Names of the columns an input must have."""
        return [c.name for c in self.columns if c.required]

    @property
    def zh_names(self) -> dict[str, str]:
        """Column name -> Chinese heading."""
        return {c.name: c.zh for c in self.columns}


def _id(name: str, zh: str) -> Column:
    return Column(name, "str", zh)


LAYERS: dict[str, LayerSpec] = {
    "towns": LayerSpec(
        "towns", "镇", "town_id", "Polygon",
        (
            _id("town_id", "镇代码"),
            Column("name", "str", "镇名称"),
            Column("seat_x", "float", "镇政府驻地X", description="town seat, working CRS"),
            Column("seat_y", "float", "镇政府驻地Y", description="town seat, working CRS"),
        ),
        description="Towns (镇) with the coordinates of the town seat (镇政府驻地).",
    ),
    "villages": LayerSpec(
        "villages", "行政村", "village_id", "Polygon",
        (
            _id("village_id", "村代码"),
            _id("town_id", "镇代码"),
            Column("name", "str", "村名称"),
        ),
        (Reference("town_id", "towns"),),
        description="Administrative villages (行政村).",
    ),
    "households": LayerSpec(
        "households", "农户", "household_id", None,
        (
            _id("household_id", "户编号"),
            _id("village_id", "村代码"),
            Column("members", "int", "户籍人口", minimum=1, maximum=30),
            Column("residence", "str", "居住状况", choices=RESIDENCE_STATUS),
            Column("willing_to_relocate", "bool", "搬迁意愿", required=False, nullable=True),
            Column("registered_homestead_id", "str", "户籍地址宅基地", required=False, nullable=True,
                   description="the homestead at the household's registered address"),
            Column("head_name", "str", "户主姓名", required=False, nullable=True, personal=True),
            Column("id_number", "str", "户主身份证号", required=False, nullable=True, personal=True),
        ),
        (
            Reference("village_id", "villages"),
            Reference("registered_homestead_id", "homesteads", nullable=True, warn_only=True),
        ),
        description="Registered rural households (农户). No geometry: they live on homesteads.",
    ),
    "homesteads": LayerSpec(
        "homesteads", "宅基地", "homestead_id", "Polygon",
        (
            _id("homestead_id", "宅基地编号"),
            Column("household_id", "str", "户编号", nullable=True),
            _id("village_id", "村代码"),
            Column("landuse_code", "str", "地类编码", choices=("0702",)),
            Column("status", "str", "房屋状况", choices=HOMESTEAD_STATUS),
            Column("vacant_since", "year", "闲置起始年", required=False, nullable=True,
                   minimum=1949, maximum=2100),
            Column("built_year", "year", "建造年份", required=False, nullable=True,
                   minimum=1900, maximum=2100),
        ),
        (
            Reference("household_id", "households", nullable=True, warn_only=True),
            Reference("village_id", "villages"),
        ),
        description="Homestead plots (宅基地), GB/T 21010 code 0702.",
    ),
    "farmland": LayerSpec(
        "farmland", "承包地", "parcel_id", "Polygon",
        (
            _id("parcel_id", "地块编号"),
            Column("household_id", "str", "承包户编号", nullable=True),
            _id("village_id", "村代码"),
            Column("landuse_code", "str", "地类编码", choices=FARMLAND_CODES),
            Column("basic_farmland", "bool", "永久基本农田"),
            Column("quality_grade", "int", "耕地质量等别", required=False, nullable=True,
                   minimum=1, maximum=15),
            Column("transfer_mode", "str", "流转方式", required=False, nullable=True,
                   choices=TRANSFER_MODES),
            Column("transfer_operator", "str", "流入方", required=False, nullable=True),
            Column("transfer_start_year", "year", "流转起始年", required=False, nullable=True,
                   minimum=1980, maximum=2100),
            Column("transfer_term_years", "int", "流转期限(年)", required=False, nullable=True,
                   minimum=1, maximum=70),
            Column("rent_per_mu", "float", "租金(元/亩/年)", required=False, nullable=True,
                   minimum=0, maximum=10000),
        ),
        (
            Reference("household_id", "households", nullable=True),
            Reference("village_id", "villages"),
        ),
        description="Contracted farmland parcels (承包地) with their transfer (土地流转) state.",
    ),
    "roads": LayerSpec(
        "roads", "道路", "road_id", "LineString",
        (
            _id("road_id", "道路编号"),
            Column("road_class", "str", "道路等级", choices=ROAD_CLASSES),
            Column("bridge", "bool", "桥梁", required=False, nullable=True),
            Column("name", "str", "名称", required=False, nullable=True),
        ),
        description="Roads; a segment over water is a bridge.",
    ),
    "water": LayerSpec(
        "water", "水域", "water_id", "Polygon",
        (
            _id("water_id", "水域编号"),
            Column("kind", "str", "类型", choices=WATER_KINDS),
            Column("name", "str", "名称", required=False, nullable=True),
        ),
        description="Rivers, canals and ponds.",
    ),
    "protected": LayerSpec(
        "protected", "保护区", "protected_id", "Polygon",
        (
            _id("protected_id", "编号"),
            Column("kind", "str", "类型", choices=PROTECTED_KINDS),
        ),
        description="Land that may not be built on: 永久基本农田, ecological red line, flood zone.",
    ),
    "sites": LayerSpec(
        "sites", "安置点", "site_id", "Polygon",
        (
            _id("site_id", "安置点编号"),
            _id("town_id", "镇代码"),
            Column("kind", "str", "类型", choices=SITE_KINDS),
            Column("capacity_households", "int", "容纳户数", minimum=0),
            Column("fixed_cost", "float", "固定成本(元)", minimum=0),
            Column("name", "str", "名称", required=False, nullable=True),
        ),
        (Reference("town_id", "towns"),),
        description="Candidate new-community sites (农村新社区) and town-apartment blocks.",
    ),
    "facilities": LayerSpec(
        "facilities", "公共服务设施", "facility_id", "Point",
        (
            _id("facility_id", "设施编号"),
            Column("kind", "str", "类型", choices=FACILITY_KINDS),
            Column("town_id", "str", "镇代码", required=False, nullable=True),
            Column("name", "str", "名称", required=False, nullable=True),
        ),
        (Reference("town_id", "towns", nullable=True),),
        description="Schools, clinics, markets and other services.",
    ),
}

#: Layers every project must have; the others are optional.
REQUIRED_LAYERS: tuple[str, ...] = ("towns", "villages", "households", "homesteads")


#: Columns holding personal data (``Column.personal``): no output carries them unless asked.
PERSONAL_COLUMNS: frozenset[str] = frozenset(
    c.name for spec in LAYERS.values() for c in spec.columns if c.personal)

#: Chinese labels of coded values (choices of :mod:`landplan.schema` and results).
VALUE_ZH: dict[str, str] = {
    # building status, residence
    "occupied": "在用", "vacant": "空置", "dilapidated": "危旧", "collapsed": "倒塌",
    "resident": "常住", "migrant": "全家外出", "none": "户在人无",
    # land-use codes (GB/T 21010-2017)
    "0101": "水田", "0102": "水浇地", "0103": "旱地", "0702": "农村宅基地",
    # transfer modes
    "lease": "出租", "shares": "入股", "exchange": "置换",
    # roads, water, protected land, sites, facilities
    "highway": "公路", "county": "县道", "town": "乡镇道路", "village": "村道", "farm": "机耕路",
    "river": "河流", "canal": "河道", "pond": "坑塘",
    "basic_farmland": "永久基本农田", "ecological_redline": "生态保护红线", "flood_zone": "蓄滞洪区",
    "new_community": "农村新社区", "town_apartments": "城镇公寓",
    "school": "学校", "clinic": "卫生院", "market": "集贸市场", "town_hall": "镇政府",
    "bus_stop": "公交站",
    # homestead survey classes, block scopes
    "idle": "闲置", "surplus": "一户多宅多余", "oversize": "在用超标", "in_use": "在用",
    "all": "全部",
}


def layer_spec(name: str) -> LayerSpec:
    """Return the spec of layer ``name``, with a clear error for an unknown name.

    Examples
    --------
    >>> layer_spec("roads").geometry
    'LineString'
    """
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(
            f"unknown layer {name!r}; landplan layers are: {', '.join(LAYERS)}"
        ) from None
