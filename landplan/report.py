"""Excel summaries for the township meeting: survey, plan, ledger, transfer progress.

:func:`write_summary` writes one workbook: an overview sheet (汇总) first,
with the title, the key figures you give and a linked list of the sheets,
then one sheet per table, grouped in the plan's sections:

============  ==============  ==================================================
argument      sheet           typically
============  ==============  ==================================================
``survey``    宅基地调查       idle homesteads, 一户多宅, 一宅超限, reclaimable mu
``plan``      新社区规划       sites opened, households moved per village
``ledger``    增减挂钩台账     construction land freed (拆旧) against taken (建新)
``transfer``  土地流转进度     transferred mu against each town's target
``extra``     (its own name)  anything else
============  ==============  ==================================================

A section takes one DataFrame, or several by name (``{"town": by_town,
"village": by_village}`` gives sheets ``宅基地调查-按镇`` and
``宅基地调查-按村``). Every sheet has Chinese headings (your ``headings``
first, then :func:`landplan.export.fields.chinese_headings`: the schema's and
common result columns'), coded values in Chinese (``vacant`` -> 空置), a
frozen header row with filters, number formats (mu ``#,##0.00``, m2
``#,##0``, counts ``#,##0``, years ``0``, shares ``0.0%``, dates
``yyyy-mm-dd``) and column widths computed from the display width of the
text (a CJK character counts two, as Excel draws it; xlsxwriter's own
autofit counts it one).

Sheet names are made valid for Excel (:func:`sheet_names`): at most 31
characters, none of ``[]:*?/\\``, unique ignoring case, not ``History``.
Text is written as text: a value starting with ``=`` is not a formula, a URL
is not a link, markup is stored as typed. Personal columns (户主姓名,
户主身份证号) are left out unless ``include_personal=True``.

Examples
--------
>>> import tempfile
>>> import pandas as pd
>>> by_village = pd.DataFrame({"town_id": ["T1", "T1"], "village_id": ["T1V1", "T1V2"],
...                            "idle_homesteads": [12, 7], "reclaimable_mu": [3.25, 1.5]})
>>> path = write_summary(f"{tempfile.mkdtemp()}/汇总.xlsx", survey={"village": by_village},
...                      headings={"idle_homesteads": "闲置宅基地(宗)"})
>>> import openpyxl
>>> wb = openpyxl.load_workbook(path)
>>> wb.sheetnames
['汇总', '宅基地调查-按村']
>>> [c.value for c in wb["宅基地调查-按村"][1]]
['镇代码', '村代码', '闲置宅基地(宗)', '可复垦面积(亩)']
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from ._io import atomic_path
from .errors import Problem, ValidationError
from .export.fields import chinese_headings
from .schema import LAYERS, PERSONAL_COLUMNS, VALUE_ZH

__all__ = ["OVERVIEW_SHEET", "SECTIONS", "display_width", "sheet_names", "write_summary"]

log = logging.getLogger(__name__)

#: Section argument -> Chinese sheet name.
SECTIONS = {"survey": "宅基地调查", "plan": "新社区规划", "ledger": "增减挂钩台账",
            "transfer": "土地流转进度"}
#: Name of the first sheet.
OVERVIEW_SHEET = "汇总"
#: Chinese names of common table keys in a section mapping.
LEVELS = {"town": "按镇", "towns": "按镇", "village": "按村", "villages": "按村",
          "hamlet": "按自然村", "hamlets": "按自然村", "site": "按安置点", "sites": "按安置点",
          "household": "按户", "households": "按户", "total": "合计"}

_MAX_SHEET_CHARS = 31
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_MAX_CELL_CHARS = 32767
_MAX_ROWS = 1_048_576
_MAX_WIDTH = 60
_PERSONAL = PERSONAL_COLUMNS
#: Column name -> allowed values; values of these columns are written in Chinese.
_CODED = {c.name: c.choices for spec in LAYERS.values() for c in spec.columns if c.choices}

_VALUE_ZH = VALUE_ZH


def display_width(text: str) -> int:
    """Width of ``text`` in Excel column units: CJK (wide) characters count two.

    Examples
    --------
    >>> display_width("村代码"), display_width("T1V1"), display_width("面积(亩)")
    (6, 4, 8)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def sheet_names(names: Iterable[str]) -> list[str]:
    """Valid, unique Excel sheet names for ``names``, in order.

    Forbidden characters ``[]:*?/\\`` become ``_``; leading and trailing
    apostrophes go; names are cut to 31 characters (Excel counts characters,
    a Chinese character is one); repeats (ignoring case, as Excel does) get
    ``~2``, ``~3`` within the 31 characters; ``History`` (reserved by Excel)
    becomes ``History_``; an empty name becomes ``Sheet``.

    Examples
    --------
    >>> sheet_names(["汇总", "土地流转进度-按村", "a/b:c", "history"])
    ['汇总', '土地流转进度-按村', 'a_b_c', 'history_']
    >>> [len(n) for n in sheet_names(["新社区规划" * 8, "新社区规划" * 8])]
    [31, 31]
    >>> sheet_names(["新社区规划" * 8, "新社区规划" * 8])[1][-2:]
    '~2'
    """
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        base = _FORBIDDEN.sub("_", str(name)).strip("'") or "Sheet"
        if base.lower() == "history":
            base = base + "_"
        base = base[:_MAX_SHEET_CHARS]
        candidate, k = base, 1
        while candidate.lower() in used:
            k += 1
            suffix = f"~{k}"
            candidate = base[:_MAX_SHEET_CHARS - len(suffix)] + suffix
        used.add(candidate.lower())
        out.append(candidate)
    return out


def _tables(section: str, value) -> list[tuple[str, str, pd.DataFrame]]:
    """(sheet name, section, frame) of one section argument."""
    if value is None:
        return []
    zh = SECTIONS.get(section, section)
    if isinstance(value, pd.DataFrame):
        return [(zh, section, value)]
    if isinstance(value, Mapping):
        return [(f"{zh}-{LEVELS.get(str(k), str(k))}", section, df) for k, df in value.items()
                if df is not None]
    raise TypeError(f"{section} must be a DataFrame or a mapping of name -> DataFrame, "
                    f"not {type(value).__name__}")


def _number_format(col: str, zh: str, s: pd.Series) -> str | None:
    name = col.lower()
    if pd.api.types.is_bool_dtype(s):
        return None
    if pd.api.types.is_datetime64_any_dtype(s) or (
            s.dtype == object and s.dropna().map(lambda v: isinstance(v, dt.date)).all()
            and s.notna().any()):
        return "yyyy-mm-dd"
    if not pd.api.types.is_numeric_dtype(s):
        return None
    if "year" in name or name.endswith("_since") or zh.endswith("年份"):
        return "0"
    if name.endswith(("share", "_pct", "progress", "ratio", "rate")) or "比例" in zh or "进度" in zh:
        return "0.0%"
    if name.endswith("_mu") or "(亩)" in zh:
        return "#,##0.00"
    if name.endswith("_m2") or "平方米" in zh:
        return "#,##0"
    if pd.api.types.is_integer_dtype(s):
        return "#,##0"
    return "#,##0.00"


def _shown(v, fmt: str | None) -> str:
    """The text Excel shows for a value in a number format (for widths)."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "是" if v else "否"
    if fmt == "0.0%":
        return f"{float(v):.1%}"
    if fmt == "#,##0.00":
        return f"{float(v):,.2f}"
    if fmt == "#,##0":
        return f"{float(v):,.0f}"
    if fmt == "0":
        return f"{float(v):.0f}"
    if fmt == "yyyy-mm-dd":
        return "0000-00-00"
    return str(v)


def _prepare(df: pd.DataFrame, *, include_personal: bool, sheet: str) -> pd.DataFrame:
    if not isinstance(df.index, pd.RangeIndex) and all(n is not None for n in df.index.names) \
            and not any(n in df.columns for n in df.index.names):
        df = df.reset_index()
    geom = getattr(df, "_geometry_column_name", None)
    if geom is not None and geom in df.columns:
        log.info("sheet %s: the geometry column is not written to Excel", sheet)
        df = pd.DataFrame(df.drop(columns=geom))
    if not include_personal:
        personal = [c for c in df.columns if c in _PERSONAL]
        if personal:
            log.info("sheet %s: personal columns left out (include_personal=True writes them): %s",
                     sheet, ", ".join(personal))
            df = df.drop(columns=personal)
    df.columns = [str(c) for c in df.columns]
    return df


def _check(df: pd.DataFrame, sheet: str) -> list[Problem]:
    problems = []
    if len(df) + 1 > _MAX_ROWS:
        problems.append(Problem(sheet, "too_many_rows", [],
                                f"{len(df):,} rows do not fit an Excel sheet (1,048,575 at most)",
                                "summarise per town or village first, or export the table to "
                                "GeoPackage or CSV (landplan.export.export_county)"))
    for col in df.columns:
        s = df[col]
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
            continue
        long = s.map(lambda v: isinstance(v, str) and len(v) > _MAX_CELL_CHARS)
        if long.any():
            rows = [str(i) for i in s.index[long.to_numpy()]]
            problems.append(Problem(sheet, "cell_too_long", rows,
                                    f"column {col!r} has text longer than Excel's 32,767 characters "
                                    f"per cell (row {rows[0]})",
                                    "shorten the text, or export the table to CSV or GeoPackage"))
    return problems


def write_summary(path: str | Path, *, survey=None, plan=None, ledger=None, transfer=None,
                  extra: Mapping[str, pd.DataFrame] | None = None, title: str = "土地整治规划汇总",
                  overview: Mapping[str, object] | None = None,
                  descriptions: Mapping[str, str] | None = None,
                  headings: Mapping[str, str] | None = None,
                  number_formats: Mapping[str, str] | None = None, translate_codes: bool = True,
                  include_personal: bool = False, overwrite: bool = False) -> Path:
    """Write the meeting's Excel summary: an overview sheet, then one sheet per table.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` to write. Written to a temporary file and moved into
        place, so a failure leaves no half-written workbook.
    survey, plan, ledger, transfer : DataFrame or mapping of str to DataFrame, optional
        The tables of each section, per town and village as the steps give
        them. A mapping's keys name the sheets: ``town``/``village`` become
        按镇/按村, other keys are used as given.
    extra : mapping of str to DataFrame, optional
        More sheets, by name.
    title : str
        Title on the overview sheet.
    overview : mapping, optional
        Key figures for the overview sheet, label -> value
        (``{"闲置宅基地(宗)": 1234, "可复垦面积(亩)": 567.8}``).
    descriptions : mapping, optional
        Sheet name -> a sentence shown beside it on the overview sheet.
    headings : mapping, optional
        Column -> Chinese heading, for every sheet; first in precedence.
    number_formats : mapping, optional
        Column -> Excel number format, overriding the automatic one.
    translate_codes : bool
        Write coded values of the schema's coded columns in Chinese
        (``status`` ``vacant`` -> 空置). On by default.
    include_personal : bool
        Also write personal columns. Off by default.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path

    Raises
    ------
    ValidationError
        When a table cannot be written to Excel (over 1,048,575 rows, a cell
        over 32,767 characters), naming the sheet, column and rows.
    FileExistsError
        When the file exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> towns = pd.DataFrame({"town_id": ["T1"], "name": ["=新丰镇"], "transferred_mu": [3120.5],
    ...                       "target_mu": [3000.0]})
    >>> p = write_summary(f"{tempfile.mkdtemp()}/r.xlsx", transfer={"town": towns},
    ...                   overview={"流转面积(亩)": 3120.5})
    >>> import openpyxl
    >>> ws = openpyxl.load_workbook(p)["土地流转进度-按镇"]
    >>> ws["B2"].value, ws["B2"].data_type, ws["C2"].number_format, ws.freeze_panes
    ('=新丰镇', 's', '#,##0.00', 'A2')
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    tables = []
    for section in SECTIONS:
        tables += _tables(section, {"survey": survey, "plan": plan, "ledger": ledger,
                                    "transfer": transfer}[section])
    for name, df in (extra or {}).items():
        if df is not None:
            tables.append((str(name), "extra", df))
    names = sheet_names([OVERVIEW_SHEET] + [t[0] for t in tables])
    prepared, problems = [], []
    for sheet, (_, section, df) in zip(names[1:], tables):
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"sheet {sheet}: expected a DataFrame, got {type(df).__name__}")
        frame = _prepare(df, include_personal=include_personal, sheet=sheet)
        problems += _check(frame, sheet)
        prepared.append((sheet, section, frame))
    if problems:
        raise ValidationError(problems)

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(tmp, {"strings_to_formulas": False, "strings_to_urls": False,
                                       "strings_to_numbers": False, "nan_inf_to_errors": False})
        wb.set_properties({"title": title, "comments": "written by landplan",
                           "created": dt.datetime(2008, 1, 28)})
        fmt = _Formats(wb)
        _overview(wb.add_worksheet(names[0]), fmt, title, overview, prepared, descriptions or {})
        for sheet, section, frame in prepared:
            _table_sheet(wb.add_worksheet(sheet), fmt, frame, headings=headings or {},
                         number_formats=number_formats or {}, translate=translate_codes)
        wb.close()
    log.info("wrote %s: %s", path, ", ".join(names))
    return path


class _Formats:
    """Cell formats of one workbook, created once each."""

    def __init__(self, wb):
        self.wb = wb
        self.cache: dict[str, object] = {}
        self.header = wb.add_format({"bold": True, "text_wrap": True, "valign": "vcenter",
                                     "align": "center", "bg_color": "#DDEBF7", "border": 1})
        self.title = wb.add_format({"bold": True, "font_size": 16})
        self.bold = wb.add_format({"bold": True})
        self.link = wb.add_format({"font_color": "blue", "underline": 1})
        self.text = wb.add_format({"num_format": "@"})

    def number(self, num_format: str | None):
        if num_format is None:
            return None
        if num_format not in self.cache:
            self.cache[num_format] = self.wb.add_format({"num_format": num_format})
        return self.cache[num_format]


def _overview(ws, fmt: _Formats, title, overview, prepared, descriptions) -> None:
    ws.write_string(0, 0, str(title), fmt.title)
    row = 2
    widths = [display_width("工作表"), display_width("内容"), display_width("行数")]
    if overview:
        ws.write_string(row, 0, "主要指标", fmt.bold)
        row += 1
        for label, value in overview.items():
            ws.write_string(row, 0, str(label))
            _write_value(ws, row, 1, value, fmt.number(_number_format(
                "", str(label), pd.Series([value]))) if isinstance(value, (int, float, np.number))
                and not isinstance(value, bool) else None)
            widths[0] = max(widths[0], display_width(label))
            widths[1] = max(widths[1], display_width(_shown(value, None)))
            row += 1
        row += 1
    ws.write_row(row, 0, ["工作表", "内容", "行数"], fmt.header)
    row += 1
    for sheet, section, frame in prepared:
        ws.write_url(row, 0, f"internal:'{sheet}'!A1", fmt.link, string=sheet)
        desc = descriptions.get(sheet) or SECTIONS.get(section, "")
        ws.write_string(row, 1, desc)
        ws.write_number(row, 2, len(frame))
        widths[0] = max(widths[0], display_width(sheet))
        widths[1] = max(widths[1], display_width(desc))
        row += 1
    for i, w in enumerate(widths):
        ws.set_column(i, i, min(w + 2, _MAX_WIDTH))


def _write_value(ws, r, c, v, cell_format=None) -> None:
    if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
        ws.write_blank(r, c, None, cell_format)
    elif isinstance(v, (bool, np.bool_)):
        ws.write_string(r, c, "是" if v else "否")
    elif isinstance(v, (int, np.integer)) and abs(int(v)) >= 10**15:
        ws.write_string(r, c, str(int(v)))  # Excel keeps 15 digits: long codes stay exact as text
    elif isinstance(v, (int, float, np.integer, np.floating)):
        ws.write_number(r, c, float(v), cell_format)
    elif isinstance(v, (dt.datetime, dt.date, pd.Timestamp)):
        ws.write_datetime(r, c, pd.Timestamp(v).to_pydatetime().replace(tzinfo=None), cell_format)
    else:
        ws.write_string(r, c, str(v))


def _table_sheet(ws, fmt: _Formats, df: pd.DataFrame, *, headings, number_formats, translate) -> None:
    zh = chinese_headings("", df.columns, headings=headings)
    ws.write_row(0, 0, [zh[c] for c in df.columns], fmt.header)
    for j, col in enumerate(df.columns):
        s = df[col]
        if translate and col in _CODED:
            s = s.map(lambda v: _VALUE_ZH.get(v, v) if isinstance(v, str) else v)
        num_format = number_formats.get(col) or _number_format(col, zh[col], df[col])
        cell_format = fmt.number(num_format)
        width = display_width(zh[col]) + 1  # room for the filter button
        for i, v in enumerate(s.tolist()):
            _write_value(ws, i + 1, j, v, cell_format)
            width = max(width, display_width(_shown(v, num_format)))
        ws.set_column(j, j, min(width + 2, _MAX_WIDTH), None)
    ws.freeze_panes(1, 0)
    if len(df.columns):
        ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
