"""Field names and headings for county GIS exports.

Three naming problems, solved once here for every format:

- **Shapefile field names** are at most 10 bytes, and GDAL cuts longer ones
  byte-wise (a Chinese name cut mid-character no longer reads back).
  :func:`shapefile_field_names` gives every column a deterministic ASCII
  abbreviation of at most 10 bytes, unique within the layer (case-insensitive,
  as ArcGIS compares them): words are abbreviated from a fixed table
  (``household`` -> ``hh``, ``transfer`` -> ``tr``, ``year`` -> ``yr``, ...),
  underscores are dropped and the rest cut when still too long, and a name
  that lands on one already taken gets a numbered suffix (``_2``, ``_3``).
  Names *you* give are never changed: a given name that is not ASCII, is over
  10 bytes or repeats another is an error naming the column.
- **Chinese headings** (:func:`chinese_headings`): your mapping first, then the
  layer's schema heading (:attr:`landplan.schema.Column.zh`), then the heading
  the same column has in any other layer, then a table of common result
  columns (``area_mu`` -> ``面积(亩)``), and finally the column name itself.
- **File Geodatabase names** (:func:`gdb_field_name`): letters, digits and
  underscores, starting with a letter, at most 64 characters, SQL reserved
  words suffixed with ``_`` (the rules GDAL would otherwise apply with a
  warning).

Examples
--------
>>> shapefile_field_names(["household_id", "registered_homestead_id", "members"])
{'household_id': 'hh_id', 'registered_homestead_id': 'reg_hs_id', 'members': 'members'}
>>> chinese_headings("homesteads", ["homestead_id", "area_mu", "flag"])
{'homestead_id': '宅基地编号', 'area_mu': '面积(亩)', 'flag': 'flag'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..errors import Problem, ValidationError
from ..schema import LAYERS

__all__ = [
    "COMMON_HEADINGS",
    "SHP_NAME_BYTES",
    "chinese_headings",
    "gdb_field_name",
    "per_layer",
    "shapefile_field_names",
]

#: Maximum bytes of a dBASE (shapefile) field name.
SHP_NAME_BYTES = 10
#: Maximum characters of a File Geodatabase field name.
GDB_NAME_CHARS = 64

#: Word abbreviations used to shorten shapefile field names (applied word by word).
WORD_ABBREVIATIONS: dict[str, str] = {
    "household": "hh", "households": "hh", "homestead": "hs", "homesteads": "hs",
    "registered": "reg", "willing": "will", "relocate": "reloc", "relocation": "reloc",
    "landuse": "lu", "vacant": "vac", "farmland": "farm", "quality": "qual",
    "transfer": "tr", "transferred": "tr", "operator": "oper", "year": "yr", "years": "yrs",
    "capacity": "cap", "protected": "prot", "facility": "fac", "facilities": "fac",
    "number": "no", "village": "vil", "villages": "vil", "hamlet": "hml", "hamlets": "hml",
    "distance": "dist", "population": "pop", "members": "mem", "reclaimable": "recl",
    "reclaimed": "recl", "construction": "cons", "community": "comm", "target": "tgt",
    "progress": "prog", "percent": "pct", "share": "shr", "shares": "shr", "status": "stat",
    "reason": "rsn", "reasons": "rsn", "oversize": "ovsz", "standard": "std",
    "residence": "res", "minimum": "min", "maximum": "max", "count": "n", "total": "tot",
    "site": "site", "sites": "site", "apartment": "apt", "apartments": "apt",
    "demolished": "demo", "new": "new", "build": "bld", "built": "bld", "elevation": "elev",
    "flood": "fld", "depth": "dep", "area": "area", "length": "len", "name": "name",
    "identifier": "id", "contracted": "cntr", "block": "blk", "blocks": "blk",
    "per": "p", "mode": "mode", "start": "start", "term": "term", "idle": "idle",
    "multiple": "multi", "started": "strt", "opened": "open", "cost": "cost",
}
#: Words dropped from shapefile field names when shortening.
_STOPWORDS = {"to", "of", "the", "and", "in", "on", "for", "a", "an"}
#: Names ArcGIS reserves in a shapefile's table (its own object id and shape columns).
_SHP_RESERVED = {"FID", "OID", "SHAPE", "OBJECTID"}

#: SQL keywords a File Geodatabase refuses as field names (GDAL appends "_").
GDB_RESERVED = {
    "ADD", "ALTER", "AND", "AS", "ASC", "BETWEEN", "BY", "COLUMN", "CREATE", "DATE", "DELETE",
    "DESC", "DROP", "EXISTS", "FOR", "FROM", "IN", "INSERT", "INTO", "IS", "LIKE", "NOT",
    "NULL", "OR", "ORDER", "SELECT", "SET", "TABLE", "UPDATE", "VALUES", "WHERE",
    "OBJECTID", "SHAPE", "SHAPE_LENGTH", "SHAPE_AREA",
}

#: Chinese headings of result columns common to several landplan steps.
COMMON_HEADINGS: dict[str, str] = {
    # areas and counts
    "area_m2": "面积(平方米)", "area_mu": "面积(亩)", "total_m2": "合计面积(平方米)",
    "households": "户数", "homesteads": "宅基地宗数", "n_homesteads": "宅基地宗数",
    "parcels": "地块数", "members": "户籍人口", "population": "户籍人口",
    # survey (宅基地调查)
    "hamlet_id": "自然村编号", "village_name": "村名称", "town_name": "镇名称",
    "idle": "闲置", "idle_homesteads": "闲置宅基地(宗)", "idle_area_mu": "闲置面积(亩)",
    "multiple_homesteads": "一户多宅(宗)", "oversize_homesteads": "一宅超限(宗)",
    "homestead_area_m2": "宅基地面积(平方米)", "homestead_area_mu": "宅基地面积(亩)",
    "standard_m2": "标准面积(平方米)", "excess_m2": "超标面积(平方米)",
    "oversize_excess_m2": "超标面积(平方米)", "oversize_excess_mu": "超标面积(亩)",
    "reclaimable_m2": "可复垦面积(平方米)", "reclaimable_mu": "可复垦面积(亩)",
    "survey_class": "调查类别", "reason": "原因", "reasons": "原因", "reason_zh": "原因",
    "primary_reason": "主要原因", "flags": "标记", "status_zh": "房屋状况",
    "kept_homestead_id": "保留宅基地编号",
    # plan and ledger (新社区, 增减挂钩)
    "households_moved": "搬迁户数", "households_stayed": "未搬迁户数",
    "households_willing": "愿意搬迁户数", "households_gathered": "集聚户数",
    "hamlets_moved": "搬迁自然村数", "sites_opened": "启动安置点数", "origin": "迁出地",
    "destination": "安置去向", "site_name": "安置点名称", "distance_m": "距离(米)",
    "fill_rate": "入住率", "cost": "成本(元)",
    "on_protected": "占用保护区", "excluded": "不予启动原因",
    "demolished_m2": "拆旧面积(平方米)", "new_build_m2": "建新面积(平方米)",
    "saving_quota_m2": "节余指标(平方米)", "saving_quota_mu": "节余指标(亩)",
    "net_new_farmland_m2": "新增耕地(平方米)", "net_new_farmland_mu": "新增耕地(亩)",
    # transfer (土地流转)
    "farmland_mu": "承包地面积(亩)", "transferred_mu": "已流转面积(亩)", "target_mu": "目标面积(亩)",
    "transferred_share": "流转比例", "share": "份额", "progress": "完成进度",
    "short_by_mu": "距目标差额(亩)", "lease_mu": "出租面积(亩)", "shares_mu": "入股面积(亩)",
    "exchange_mu": "置换面积(亩)", "in_force_mu": "在期流转面积(亩)",
    "cumulative_mu": "累计流转面积(亩)", "proposed_mu": "拟流转面积(亩)",
    "parcels_transferred": "已流转地块数", "block_id": "连片编号", "share_fraction": "股份比例",
    "dividend_yuan": "分红(元)",
    # general
    "date": "日期", "note": "备注",
}


def per_layer(mapping: Mapping | None, layer: str) -> dict:
    """The part of a per-layer or flat mapping that applies to ``layer``.

    A mapping whose values are all mappings is read as layer -> {column: value};
    otherwise it is flat (column -> value) and applies to every layer.

    Examples
    --------
    >>> per_layer({"homesteads": {"status": "ZT"}}, "homesteads")
    {'status': 'ZT'}
    >>> per_layer({"status": "ZT"}, "roads")
    {'status': 'ZT'}
    """
    if not mapping:
        return {}
    if all(isinstance(v, Mapping) for v in mapping.values()):
        return dict(mapping.get(layer, {}))
    return dict(mapping)


def _is_ascii(s: str) -> bool:
    return all(ord(ch) < 128 for ch in s)


def _abbreviate(name: str) -> str:
    """Deterministic ASCII abbreviation of one column name, at most 10 bytes (not yet unique)."""
    if len(name) <= SHP_NAME_BYTES and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return name
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if w]
    words = [WORD_ABBREVIATIONS.get(w.lower(), w.lower()) for w in words
             if w.lower() not in _STOPWORDS] or words
    short = "_".join(words)
    if len(short) > SHP_NAME_BYTES:
        short = "".join(words)
    short = short[:SHP_NAME_BYTES]
    if not short or not short[0].isalpha():
        short = ("f" + short)[:SHP_NAME_BYTES]
    return short


def shapefile_field_names(columns: Iterable[str], *, given: Mapping[str, str] | None = None,
                          layer: str = "layer") -> dict[str, str]:
    """ASCII shapefile field names of at most 10 bytes, unique within the layer.

    Parameters
    ----------
    columns : iterable of str
        The layer's column names, in order (the order decides which of two
        colliding names keeps the plain abbreviation).
    given : mapping, optional
        Column -> the field name you want. Used as given, never altered.
    layer : str
        The layer, for error messages.

    Returns
    -------
    dict
        Column -> field name, in the order of ``columns``.

    Raises
    ------
    ValidationError
        When a given name is not ASCII, is longer than 10 bytes, is reserved by
        ArcGIS (FID, OID, SHAPE, OBJECTID) or repeats another field's name;
        every such name is listed.

    Examples
    --------
    Names that would truncate onto each other get numbered suffixes:

    >>> shapefile_field_names(["transfer_start_year", "transfer_start_yr"])
    {'transfer_start_year': 'trstartyr', 'transfer_start_yr': 'trstarty_2'}

    A column without a Latin name gets a numbered generic name:

    >>> shapefile_field_names(["名称", "village_id"])
    {'名称': 'field_1', 'village_id': 'village_id'}
    >>> shapefile_field_names(["household_id"], given={"household_id": "户编号"})
    Traceback (most recent call last):
    ...
    landplan.errors.ValidationError: 1 problem found:
      [layer] bad_field_name: the field name '户编号' given for column 'household_id' is not ASCII...
    ...
    """
    columns = [str(c) for c in columns]
    given = {str(k): str(v) for k, v in (given or {}).items()}
    problems: list[Problem] = []
    unknown = [c for c in given if c not in columns]
    if unknown:
        problems.append(Problem(layer, "bad_field_name", unknown,
                                f"field names are given for columns the layer does not have: "
                                f"{', '.join(unknown)}",
                                f"name only columns of the layer ({', '.join(columns)})"))
    taken: dict[str, str] = {}
    for col, name in given.items():
        if col not in columns:
            continue
        if not _is_ascii(name):
            problems.append(Problem(layer, "bad_field_name", [col],
                                    f"the field name {name!r} given for column {col!r} is not ASCII; "
                                    f"a shapefile field name must be (a Chinese name is cut "
                                    f"mid-character and the file no longer reads back)",
                                    "give an ASCII name of at most 10 letters; the Chinese heading "
                                    "goes into the field dictionary beside the shapefile"))
            continue
        if len(name.encode("ascii")) > SHP_NAME_BYTES or not name:
            problems.append(Problem(layer, "bad_field_name", [col],
                                    f"the field name {name!r} given for column {col!r} is "
                                    f"{len(name)} bytes; a shapefile allows at most 10 (GDAL would "
                                    f"cut it to {name[:SHP_NAME_BYTES]!r})",
                                    "give a name of at most 10 bytes, or export to GeoPackage "
                                    "(formats=('gpkg',)), which keeps full names"))
            continue
        if name.upper() in _SHP_RESERVED:
            problems.append(Problem(layer, "bad_field_name", [col],
                                    f"the field name {name!r} given for column {col!r} is reserved "
                                    f"by ArcGIS", "choose another name"))
            continue
        if name.upper() in taken:
            problems.append(Problem(layer, "duplicate_field_name", [taken[name.upper()], col],
                                    f"columns {taken[name.upper()]!r} and {col!r} are both given "
                                    f"the field name {name!r} (ArcGIS ignores case)",
                                    "give each column its own name"))
            continue
        taken[name.upper()] = col
    if problems:
        raise ValidationError(problems)
    used = set(taken)
    out: dict[str, str] = {}
    generic = 0
    for col in columns:
        if col in given:
            out[col] = given[col]
            continue
        if _is_ascii(col) and re.search(r"[A-Za-z]", col):
            base = _abbreviate(col)
        else:
            generic += 1
            base = f"field_{generic}"
        if base.upper() in _SHP_RESERVED:
            base = (base + "_")[:SHP_NAME_BYTES]
        name, k = base, 1
        while name.upper() in used:
            k += 1
            suffix = f"_{k}"
            name = base[:SHP_NAME_BYTES - len(suffix)] + suffix
        used.add(name.upper())
        out[col] = name
    return out


def chinese_headings(layer: str, columns: Iterable[str], *,
                     headings: Mapping[str, str] | None = None) -> dict[str, str]:
    """Chinese heading of every column, unique within the layer.

    Parameters
    ----------
    layer : str
        Layer name; a landplan layer uses its schema headings.
    columns : iterable of str
    headings : mapping, optional
        Column -> heading, taking precedence over everything else.

    Returns
    -------
    dict
        Column -> heading. Two columns that would share a heading get the
        column name in brackets after it: ``名称(name)``.

    Examples
    --------
    >>> chinese_headings("roads", ["road_id", "name"], headings={"name": "路名"})
    {'road_id': '道路编号', 'name': '路名'}
    >>> chinese_headings("results", ["village_id", "town_id"])
    {'village_id': '村代码', 'town_id': '镇代码'}
    """
    headings = dict(headings or {})
    own = LAYERS[layer].zh_names if layer in LAYERS else {}
    anywhere: dict[str, str] = {}
    for spec in LAYERS.values():
        for name, zh in spec.zh_names.items():
            anywhere.setdefault(name, zh)
    out: dict[str, str] = {}
    for col in columns:
        col = str(col)
        out[col] = (headings.get(col) or own.get(col) or anywhere.get(col)
                    or COMMON_HEADINGS.get(col) or col)
    seen: dict[str, int] = {}
    for zh in out.values():
        seen[zh] = seen.get(zh, 0) + 1
    return {col: (f"{zh}({col})" if seen[zh] > 1 and zh != col else zh) for col, zh in out.items()}


def gdb_field_name(name: str) -> str:
    """A File Geodatabase field (or table) name for ``name``.

    Characters other than letters, digits and ``_`` become ``_``; a name not
    starting with a letter is prefixed with ``f_``; SQL reserved words get a
    trailing ``_``; the result is cut to 64 characters.

    Examples
    --------
    >>> gdb_field_name("rent_per_mu"), gdb_field_name("流转期限(年)"), gdb_field_name("date")
    ('rent_per_mu', '流转期限_年', 'date_')
    """
    out = re.sub(r"\W", "_", str(name)).strip("_") or "field"
    if not out[0].isalpha():
        out = "f_" + out
    if out.upper() in GDB_RESERVED:
        out += "_"
    return out[:GDB_NAME_CHARS]
