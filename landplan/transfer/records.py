"""Transfer records: import the service centres' tables onto the farmland layer.

Town and village transfer service centres (土地流转服务中心) keep one row per
transfer: the parcel (地块编号), the mode (流转方式: 出租 lease, 入股 shares,
置换 exchange), the operator taking the land (流入方), the start year (起始年),
the term in years (期限), the rent (租金, yuan per mu per year) and often the
area transferred (流转面积, mu). :func:`apply_transfer_records` checks every
row, applies the good ones to a copy of the farmland layer, and hands back the
rejected rows with a reason each (to a CSV or Excel file when asked), so that
nothing in the import is lost.

A row is rejected when

- its parcel is missing or not in the farmland layer (``unknown_parcel``);
- its mode is not one of the scenario's modes (``unknown_mode``);
- it has no operator (``missing_operator``);
- its start year, term, rent or area is not a number or out of range
  (``bad_start_year``, ``bad_term``, ``bad_rent``, ``bad_area``);
- its area is more than the parcel's surveyed area (plus ``area_tolerance``)
  (``absurd_area``);
- it overlaps in time another row for the same parcel (``overlapping_records``;
  both rows are rejected, as the table cannot say which is right), repeats an
  earlier row exactly (``duplicate_record``; the earlier row is kept), or
  overlaps a different transfer already in the layer (``overlaps_existing``).

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import box
>>> farmland = gpd.GeoDataFrame(
...     {"parcel_id": ["P1", "P2"], "household_id": ["H1", "H2"], "village_id": ["V1", "V1"],
...      "landuse_code": ["0101", "0101"], "basic_farmland": [True, True]},
...     geometry=[box(0, 0, 40, 50), box(42, 0, 82, 50)], crs="EPSG:4549")
>>> table = pd.DataFrame({"地块编号": ["P1", "P9"], "流转方式": ["出租", "出租"],
...                       "流入方": ["凤桥粮食合作社", "凤桥粮食合作社"], "起始年": [2008, 2008],
...                       "期限": [10, 10], "租金": [650, 650]})
>>> result = apply_transfer_records(farmland, table)
>>> result.farmland[["parcel_id", "transfer_mode", "transfer_operator"]]
  parcel_id transfer_mode transfer_operator
0        P1         lease           凤桥粮食合作社
1        P2           NaN               NaN
>>> result.rejected[["地块编号", "rule"]]
  地块编号            rule
1       P9  unknown_parcel
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from typing import NamedTuple
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import Problem, ValidationError
from ..scenario import Scenario
from ..schema import LAYERS
from ..units import m2_to_mu
from ._common import MODE_ZH, TRANSFER_COLUMNS, ensure_transfer_columns, scenario_or_default

__all__ = ["TransferImport", "read_transfer_records", "apply_transfer_records",
           "records_from_farmland", "write_rejected", "MODE_WORDS", "RECORD_HEADINGS"]

log = logging.getLogger(__name__)

#: Words accepted in the mode column, after Unicode normalisation and lower-casing.
MODE_WORDS: dict[str, str] = {
    "lease": "lease", "出租": "lease", "租赁": "lease",
    "shares": "shares", "share": "shares", "入股": "shares",
    "exchange": "exchange", "置换": "exchange",
}

#: Accepted headings of a record table (after dropping any bracketed unit), per column.
RECORD_HEADINGS: dict[str, tuple[str, ...]] = {
    "parcel_id": ("parcel_id", "parcel", "地块编号", "地块代码", "地块号"),
    "transfer_mode": ("transfer_mode", "mode", "流转方式", "流转形式"),
    "transfer_operator": ("transfer_operator", "operator", "流入方", "受让方", "流入方名称"),
    "transfer_start_year": ("transfer_start_year", "start_year", "起始年", "流转起始年", "起始年份"),
    "transfer_term_years": ("transfer_term_years", "term_years", "term", "期限", "流转期限",
                            "流转年限"),
    "rent_per_mu": ("rent_per_mu", "rent", "租金", "流转租金"),
    "area_mu": ("area_mu", "area", "流转面积"),
}
_REQUIRED = ("parcel_id", "transfer_mode", "transfer_operator", "transfer_start_year",
             "transfer_term_years")
_M2_UNITS = ("平方米", "m2", "㎡", "m²")

#: rule -> (English, Chinese) explanation heads used in the rejected rows.
RULES: dict[str, tuple[str, str]] = {
    "missing_parcel_id": ("no parcel id", "缺少地块编号"),
    "unknown_parcel": ("no such parcel in the farmland layer", "地块编号在承包地图层中不存在"),
    "unknown_mode": ("unknown transfer mode", "流转方式无法识别"),
    "missing_operator": ("no operator", "缺少流入方"),
    "bad_start_year": ("start year is not a year in range", "起始年无效"),
    "bad_term": ("term is not a whole number of years in range", "期限无效"),
    "bad_rent": ("rent is not a number in range", "租金无效"),
    "bad_area": ("area is not a positive number", "流转面积无效"),
    "absurd_area": ("area exceeds the parcel's surveyed area", "流转面积超过地块面积"),
    "overlapping_records": ("the parcel is transferred twice in overlapping years",
                            "同一地块流转期限重叠"),
    "duplicate_record": ("repeats an earlier row", "与前面的记录重复"),
    "overlaps_existing": ("overlaps a different transfer already recorded",
                          "与已登记的流转期限重叠"),
}


class TransferImport(NamedTuple):
    """What :func:`apply_transfer_records` returns.

    Attributes
    ----------
    farmland : geopandas.GeoDataFrame
        A copy of the farmland layer (same index and rows) with the accepted
        records applied. A parcel with several transfers in its history holds
        the most recent one (by start year) in its transfer columns.
    rejected : pandas.DataFrame
        The rejected rows as given, under the table's own headings (index: the
        table's row labels, which for a file are the spreadsheet row numbers,
        header = row 1), with ``row``, ``rule`` (rule codes, ``;``-separated),
        ``reason`` and ``reason_zh``.
    records : pandas.DataFrame
        Every transfer known after the import, one row per transfer (the layer's
        own and the accepted rows): parcel_id, the transfer columns, ``end_year``
        (exclusive), ``source`` ("layer" or "import") and ``row``. Use it for
        progress by year (:func:`landplan.transfer.progress_by_year`).
    """

    farmland: gpd.GeoDataFrame
    rejected: pd.DataFrame
    records: pd.DataFrame


# ---------------------------------------------------------------------------- reading
def _norm_text(v: str) -> str:
    return unicodedata.normalize("NFKC", str(v)).strip()


def _heading_key(h) -> tuple[str, str]:
    """A heading without spaces or bracketed units, lower-cased; and the unit text."""
    t = _norm_text(h)
    units = " ".join(re.findall(r"\(([^)]*)\)", t))
    t = re.sub(r"\([^)]*\)", "", t)
    return re.sub(r"\s+", "", t).lower(), units


def _rename_headings(df: pd.DataFrame, mapping: Mapping[str, str] | None, source: str
                     ) -> tuple[pd.DataFrame, float]:
    """Rename a record table's headings onto landplan's names; return the area unit factor."""
    lookup = {alias.lower(): name for name, aliases in RECORD_HEADINGS.items() for alias in aliases}
    renames: dict = {}
    area_factor = 1.0
    if mapping:
        unknown = [c for c in mapping if c not in df.columns]
        if unknown:
            raise ValidationError([Problem(
                source, "mapping_column_missing", [str(c) for c in unknown],
                f"the column mapping names columns the table does not have (it has: "
                f"{', '.join(map(str, df.columns))})", "correct the mapping's source names")])
        renames.update(mapping)
    for c in df.columns:
        if c in renames:
            continue
        key, units = _heading_key(c)
        name = lookup.get(key)
        if name is None or name in renames.values():
            continue
        renames[c] = name
        if name == "area_mu" and any(u in units.lower() for u in _M2_UNITS):
            area_factor = float(m2_to_mu(1.0))
    out = df.rename(columns=renames)
    out.attrs["headings"] = {new: old for old, new in renames.items()}
    missing = [c for c in _REQUIRED if c not in out.columns]
    if missing:
        want = ", ".join(f"{c} ({'/'.join(a for a in RECORD_HEADINGS[c] if not a.isascii())})"
                         for c in missing)
        raise ValidationError([Problem(
            source, "missing_column", missing,
            f"the transfer table lacks the column(s) {want}; it has: "
            f"{', '.join(map(str, df.columns))}",
            "name the columns as above (Chinese or English headings), or pass "
            "mapping={'your heading': 'parcel_id', ...}")])
    return out, area_factor


def read_transfer_records(path: str | Path, *, mapping: Mapping[str, str] | None = None,
                          sheet_name: str | int = 0, encoding: str | None = None) -> pd.DataFrame:
    """Read a service centre's transfer table (CSV or Excel) as text.

    Headings may be Chinese or English (see :data:`RECORD_HEADINGS`); a
    bracketed unit is ignored (``租金(元/亩/年)``), except that an area heading
    in square metres (``流转面积(平方米)``) is converted to mu. Every cell is
    read as text, so parcel ids keep their leading zeros; numbers are checked
    by :func:`apply_transfer_records`.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.xlsx`` or ``.xls``.
    mapping : dict, optional
        Your heading -> landplan's name (``parcel_id``, ``transfer_mode``,
        ``transfer_operator``, ``transfer_start_year``, ``transfer_term_years``,
        ``rent_per_mu``, ``area_mu``), for headings not recognised.
    sheet_name : str or int
        The Excel sheet.
    encoding : str, optional
        CSV encoding. By default UTF-8 (with or without BOM) is tried, then
        GB18030 (what Excel on Chinese Windows writes as "CSV").

    Returns
    -------
    pandas.DataFrame
        Index ``row``: the spreadsheet row numbers (the heading is row 1).
        Columns renamed to landplan's names; other columns kept as they are.

    Raises
    ------
    landplan.errors.ValidationError
        When a required column is missing (with the headings it accepts).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(tmp.name) / "t.csv"          # as Excel on Chinese Windows saves it
    >>> text = "地块编号,流转方式,流入方,起始年,期限,租金(元/亩)\\n007,出租,种粮大户王某,2008,5,600\\n"
    >>> _ = path.write_text(text, encoding="gb18030")
    >>> t = read_transfer_records(path)
    >>> t.loc[2, ["parcel_id", "transfer_mode", "rent_per_mu"]].tolist()
    ['007', '出租', '600']
    >>> tmp.cleanup()
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        kwargs = {"dtype": str, "keep_default_na": False, "na_values": [""]}
        if encoding is not None:
            df = pd.read_csv(path, encoding=encoding, **kwargs)
        else:
            try:
                df = pd.read_csv(path, encoding="utf-8-sig", **kwargs)
            except UnicodeDecodeError:
                log.info("%s is not UTF-8; reading it as GB18030 (Excel's Chinese CSV)", path.name)
                df = pd.read_csv(path, encoding="gb18030", **kwargs)
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        df = pd.read_excel(path, sheet_name=sheet_name, dtype=str)
    else:
        raise ValueError(f"{path.name}: give the transfer table as .csv or .xlsx")
    df.index = pd.RangeIndex(2, len(df) + 2, name="row")
    out, factor = _rename_headings(df, mapping, path.name)
    if factor != 1.0:
        out.attrs["area_factor"] = factor
    return out


# ---------------------------------------------------------------------------- parsing
_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*(?:年|元(?:/亩(?:/年)?)?|亩|mu)?$")
_DATE = re.compile(r"^(\d{4})(?:年|[-/.]\d{1,2}).*$")


def _parse_numbers(s: pd.Series, *, year: bool = False) -> pd.Series:
    """Numbers from text cells ("600", "600元/亩", "10年", full-width digits); NaN if unreadable.

    With ``year``, dates ("2008-03-01", "2008年3月") give their year.
    """
    out = np.full(len(s), np.nan)
    for k, v in enumerate(s.to_numpy(dtype=object)):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[k] = float(v)
            continue
        t = _norm_text(v).replace(",", "")
        m = _NUMBER.match(t)
        if m or year and (m := _DATE.match(t)):
            out[k] = float(m.group(1))
    return pd.Series(out, index=s.index)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("str").str.strip() == "")


# ---------------------------------------------------------------------------- applying
def apply_transfer_records(farmland: gpd.GeoDataFrame, records, *,
                           scenario: Scenario | None = None, area_tolerance: float = 0.10,
                           replace_existing: bool = False,
                           rejected_path: str | Path | None = None,
                           mapping: Mapping[str, str] | None = None,
                           encoding: str | None = None, sheet_name: str | int = 0
                           ) -> TransferImport:
    """Check a table of transfer records and apply the good rows to the farmland layer.

    Parameters
    ----------
    farmland : geopandas.GeoDataFrame
        The farmland layer (``project["farmland"]``). It is not modified.
    records : str, Path or pandas.DataFrame
        The service centre's table: a CSV or Excel file (read with
        :func:`read_transfer_records`), or a DataFrame with the same headings
        (its index labels name the rows in the rejected list).
    scenario : Scenario, optional
        Gives the accepted modes (``[transfer] modes``); default the 2008 plan.
    area_tolerance : float
        A row's area (流转面积) may exceed its parcel's surveyed area by this
        fraction (contract areas from the second-round contracting often differ
        from surveyed ones); beyond it the row is ``absurd_area``. Progress and
        blocks use the surveyed (geometry) area, never the recorded one.
    replace_existing : bool
        When True, the accepted rows replace whatever the layer held for their
        parcels (to correct earlier entries); by default a row that overlaps a
        different transfer already in the layer is rejected, and a row equal to
        it is accepted without change (so re-importing a table is harmless).
    rejected_path : str or Path, optional
        Write the rejected rows there: ``.csv`` (UTF-8 with BOM, which Excel
        opens with Chinese intact) or ``.xlsx``. Written even when empty.
    mapping, encoding, sheet_name
        Passed to :func:`read_transfer_records`.

    Returns
    -------
    TransferImport
        ``(farmland, rejected, records)``; every input row is either applied
        (in ``records`` with ``source == "import"``) or in ``rejected``.

    Raises
    ------
    landplan.errors.ValidationError
        When the table lacks a required column (nothing can be imported then).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> farmland = gpd.GeoDataFrame(
    ...     {"parcel_id": ["P1"], "household_id": ["H1"], "village_id": ["V1"],
    ...      "landuse_code": ["0101"], "basic_farmland": [True]},
    ...     geometry=[box(0, 0, 40, 50)], crs="EPSG:4549")   # 2000 m2 = 3 mu
    >>> table = pd.DataFrame({"parcel_id": ["P1", "P1", "P1"],
    ...                       "transfer_mode": ["入股", "lease", "转包"],
    ...                       "transfer_operator": ["股份合作社", "大户", "大户"],
    ...                       "transfer_start_year": [2008, 2010, 2020],
    ...                       "transfer_term_years": [5, 3, 3], "area_mu": [3, 3, 30]},
    ...                      index=[2, 3, 4])
    >>> r = apply_transfer_records(farmland, table)
    >>> for row, reason in r.rejected["reason"].items():
    ...     for part in reason.split("; "):
    ...         print(row, part)
    2 the parcel is transferred twice in overlapping years: row 3
    3 the parcel is transferred twice in overlapping years: row 2
    4 unknown transfer mode: '转包' (use 出租/lease, 入股/shares, 置换/exchange)
    4 area exceeds the parcel's surveyed area: 30 mu > 3.0 mu (+10%)
    >>> bool(r.farmland["transfer_mode"].isna().all())    # every row was rejected
    True
    >>> "transfer_mode" in farmland.columns               # the input is untouched
    False
    """
    scenario = scenario_or_default(scenario)
    if isinstance(records, (str, Path)):
        table = read_transfer_records(records, mapping=mapping, encoding=encoding,
                                      sheet_name=sheet_name)
        source = Path(records).name
    else:
        if not isinstance(records, pd.DataFrame):
            raise TypeError("records must be a path to a CSV/Excel file or a pandas DataFrame")
        table, factor = _rename_headings(records, mapping, "transfer records")
        if factor != 1.0:
            table.attrs["area_factor"] = factor
        source = "transfer records"
    if table.index.has_duplicates:
        raise ValidationError([Problem(source, "duplicate_row_labels",
                                       sorted(set(map(str, table.index[table.index.duplicated()]))),
                                       "the table's row labels are not unique, so rejected rows "
                                       "could not be named", "reset the index (df.reset_index())")])
    farm = ensure_transfer_columns(farmland)
    allowed = tuple(scenario.transfer.get("modes", ("lease", "shares", "exchange")))
    reasons: dict = {lab: [] for lab in table.index}

    def flag(mask, rule, detail=None):
        for lab in table.index[np.asarray(mask, dtype=bool)]:
            text = RULES[rule][0] + (f": {detail(lab)}" if detail else "")
            reasons[lab].append((rule, text, RULES[rule][1]))

    # parcel ----------------------------------------------------------------
    pid = table["parcel_id"].map(lambda v: _norm_text(v) if isinstance(v, str) else v)
    pid = pid.where(~_blank(table["parcel_id"])).astype("str")
    known = pd.Index(farm["parcel_id"].astype("str"))
    flag(pid.isna(), "missing_parcel_id")
    flag(pid.notna() & ~pid.isin(known), "unknown_parcel",
         lambda lab: f"{pid[lab]!r} (leading zeros are lost when Excel stores ids as numbers: "
                     f"format the column as text)")
    # mode ------------------------------------------------------------------
    words = table["transfer_mode"].map(lambda v: _norm_text(v).lower() if isinstance(v, str) else v)
    mode = words.map(MODE_WORDS).astype("str")
    bad_mode = mode.isna() | ~mode.isin(allowed)
    choices = ", ".join(f"{MODE_ZH.get(m, m)}/{m}" for m in allowed)
    flag(bad_mode, "unknown_mode",
         lambda lab: f"{table.at[lab, 'transfer_mode']!r} (use {choices})")
    # operator ----------------------------------------------------------------
    operator = table["transfer_operator"].map(lambda v: _norm_text(v) if isinstance(v, str) else v)
    operator = operator.where(~_blank(table["transfer_operator"])).astype("str")
    flag(operator.isna(), "missing_operator")
    # numbers -----------------------------------------------------------------
    spec = LAYERS["farmland"]
    start = _parse_numbers(table["transfer_start_year"], year=True)
    c = spec.column("transfer_start_year")
    bad_start = start.isna() | (start % 1 != 0) | (start < c.minimum) | (start > c.maximum)
    flag(bad_start, "bad_start_year",
         lambda lab: f"{table.at[lab, 'transfer_start_year']!r} "
                     f"(a year {c.minimum:.0f}-{c.maximum:.0f})")
    term = _parse_numbers(table["transfer_term_years"])
    t = spec.column("transfer_term_years")
    bad_term = term.isna() | (term % 1 != 0) | (term < t.minimum) | (term > t.maximum)
    flag(bad_term, "bad_term",
         lambda lab: f"{table.at[lab, 'transfer_term_years']!r} "
                     f"(whole years {t.minimum:.0f}-{t.maximum:.0f})")
    if "rent_per_mu" in table.columns:
        rent = _parse_numbers(table["rent_per_mu"])
        r = spec.column("rent_per_mu")
        given = ~_blank(table["rent_per_mu"])
        bad_rent = given & (rent.isna() | (rent < r.minimum) | (rent > r.maximum))
        flag(bad_rent, "bad_rent",
             lambda lab: f"{table.at[lab, 'rent_per_mu']!r} (yuan per mu per year, "
                         f"{r.minimum:.0f}-{r.maximum:.0f})")
    else:
        rent = pd.Series(np.nan, index=table.index)
    # area ----------------------------------------------------------------------
    if "area_mu" in table.columns:
        area = _parse_numbers(table["area_mu"]) * table.attrs.get("area_factor", 1.0)
        given = ~_blank(table["area_mu"])
        bad_area = given & (area.isna() | (area <= 0))
        flag(bad_area, "bad_area", lambda lab: repr(table.at[lab, "area_mu"]))
        parcel_mu = pd.Series(m2_to_mu(farm.geometry.area.to_numpy()),
                              index=farm["parcel_id"].astype("str").to_numpy())
        parcel_mu = parcel_mu[~parcel_mu.index.duplicated()]
        pm = pid.map(parcel_mu)
        absurd = given & ~bad_area & pm.notna() & (area > pm * (1 + area_tolerance))
        flag(absurd, "absurd_area",
             lambda lab: f"{area[lab]:g} mu > {pm[lab]:.1f} mu (+{area_tolerance:.0%})")

    # overlaps within the table ------------------------------------------------
    basic_ok = pd.Series({lab: not reasons[lab] for lab in table.index}, dtype=bool)
    cand = pd.DataFrame({"parcel_id": pid, "mode": mode, "operator": operator, "start": start,
                         "term": term, "rent": rent})[basic_ok]
    cand["end"] = cand["start"] + cand["term"]
    multi = cand[cand["parcel_id"].duplicated(keep=False)]
    pos = {lab: k for k, lab in enumerate(table.index)}
    for _, grp in multi.groupby("parcel_id", sort=False):
        labs = sorted(grp.index, key=pos.get)
        for k, a in enumerate(labs):
            for b in labs[:k]:
                ra, rb = grp.loc[a], grp.loc[b]
                if not (ra["start"] < rb["end"] and rb["start"] < ra["end"]):
                    continue
                fields = ("mode", "operator", "start", "term", "rent")
                if all(_same(ra[f], rb[f]) for f in fields):
                    reasons[a].append(("duplicate_record",
                                       f"{RULES['duplicate_record'][0]}: row {b}",
                                       RULES["duplicate_record"][1]))
                else:
                    for x, y in ((a, b), (b, a)):
                        reasons[x].append(("overlapping_records",
                                           f"{RULES['overlapping_records'][0]}: row {y}",
                                           RULES["overlapping_records"][1]))
    # overlaps with the layer -------------------------------------------------------
    ok = pd.Series({lab: not reasons[lab] for lab in table.index}, dtype=bool)
    existing = farm[farm["transfer_mode"].notna()]
    ex = pd.DataFrame({
        "mode": existing["transfer_mode"].astype("str").to_numpy(),
        "operator": existing["transfer_operator"].astype("str").to_numpy(),
        "start": existing["transfer_start_year"].astype("float64").to_numpy(),
        "term": existing["transfer_term_years"].astype("float64").to_numpy(),
        "rent": existing["rent_per_mu"].astype("float64").to_numpy()},
        index=existing["parcel_id"].astype("str").to_numpy())
    same_as_layer = pd.Series(False, index=table.index)
    if not replace_existing and len(ex):
        for lab in table.index[ok & pid.isin(ex.index)]:
            e = ex.loc[pid[lab]]
            e = e.iloc[0] if isinstance(e, pd.DataFrame) else e
            e_start = -np.inf if np.isnan(e["start"]) else e["start"]
            open_end = np.isnan(e["term"]) or np.isnan(e["start"])
            e_end = np.inf if open_end else e["start"] + e["term"]
            s, en = start[lab], start[lab] + term[lab]
            if not (s < e_end and e_start < en):
                continue
            if all(_same(a, b) for a, b in ((mode[lab], e["mode"]), (operator[lab], e["operator"]),
                                            (s, e["start"]), (term[lab], e["term"]))):
                same_as_layer[lab] = True
                continue
            period = (f"{e['start']:.0f}-{e_end - 1:.0f}" if np.isfinite(e_end)
                      else "with no recorded end")
            text = (f"{RULES['overlaps_existing'][0]}: {MODE_ZH.get(e['mode'], e['mode'])} to "
                    f"{e['operator']} {period} (pass replace_existing=True to replace it)")
            reasons[lab].append(("overlaps_existing", text, RULES["overlaps_existing"][1]))

    # results -----------------------------------------------------------------------
    bad = pd.Series({lab: bool(reasons[lab]) for lab in table.index}, dtype=bool)
    rejected = table[bad.to_numpy()].rename(columns=table.attrs.get("headings", {}))
    rejected.insert(0, "row", rejected.index.astype("str"))
    rejected["rule"] = pd.Series({lab: "; ".join(dict.fromkeys(r for r, _, _ in reasons[lab]))
                                  for lab in rejected.index}, dtype="str")
    rejected["reason"] = pd.Series({lab: "; ".join(t for _, t, _ in reasons[lab])
                                    for lab in rejected.index}, dtype="str")
    rejected["reason_zh"] = pd.Series({lab: "；".join(dict.fromkeys(z for _, _, z in reasons[lab]))
                                       for lab in rejected.index}, dtype="str")
    if len(rejected) == 0:
        for col in ("rule", "reason", "reason_zh"):
            rejected[col] = rejected[col].astype("str")

    good = ~bad & ~same_as_layer
    new = pd.DataFrame({
        "parcel_id": pid[good].astype("str"),
        "transfer_mode": mode[good].astype("str"),
        "transfer_operator": operator[good].astype("str"),
        "transfer_start_year": start[good].astype("Int64"),
        "transfer_term_years": term[good].astype("Int64"),
        "rent_per_mu": rent[good].astype("float64"),
        "source": "import",
        "row": pd.Series(table.index[good.to_numpy()].astype("str"),
                         index=table.index[good.to_numpy()], dtype="str"),
    })
    layer_rec = records_from_farmland(farm)
    layer_rec["source"] = "layer"
    layer_rec["row"] = pd.Series(pd.NA, index=layer_rec.index, dtype="str")
    if replace_existing:
        layer_rec = layer_rec[~layer_rec["parcel_id"].isin(new["parcel_id"])]
    all_rec = pd.concat([layer_rec.drop(columns=["end_year"]), new.reset_index(drop=True)],
                        ignore_index=True)
    all_rec["end_year"] = (all_rec["transfer_start_year"]
                           + all_rec["transfer_term_years"]).astype("Int64")
    all_rec = all_rec.sort_values(["parcel_id", "transfer_start_year"], kind="stable",
                                  na_position="first").reset_index(drop=True)
    # the layer holds each parcel's latest transfer
    latest = all_rec.drop_duplicates("parcel_id", keep="last").set_index("parcel_id")
    touched = set(new["parcel_id"])
    if replace_existing:
        cleared = farm["parcel_id"].astype("str").isin(touched)
        for col in TRANSFER_COLUMNS:
            farm.loc[cleared, col] = pd.NA if farm[col].dtype != "float64" else np.nan
    rows = farm["parcel_id"].astype("str").isin(touched).to_numpy()
    keys = farm.loc[rows, "parcel_id"].astype("str")
    for col in TRANSFER_COLUMNS:
        farm.loc[rows, col] = latest.loc[keys, col].to_numpy()
    farm = ensure_transfer_columns(farm)

    n_in = len(table)
    log.info("transfer records from %s: %d rows, %d applied (%d already recorded), %d rejected",
             source, n_in, int(good.sum()), int(same_as_layer.sum()), len(rejected))
    if rejected_path is not None:
        write_rejected(rejected, rejected_path)
    return TransferImport(farm, rejected, all_rec)


def _same(a, b) -> bool:
    a_na, b_na = pd.isna(a), pd.isna(b)
    if a_na or b_na:
        return bool(a_na and b_na)
    return a == b


def records_from_farmland(farmland: pd.DataFrame) -> pd.DataFrame:
    """The transfers held in a farmland layer's columns, one row per transferred parcel.

    Parameters
    ----------
    farmland : pandas.DataFrame
        A farmland layer.

    Returns
    -------
    pandas.DataFrame
        parcel_id, transfer_mode, transfer_operator, transfer_start_year,
        transfer_term_years, rent_per_mu, end_year (exclusive).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"parcel_id": ["P1", "P2"], "transfer_mode": ["lease", None],
    ...                   "transfer_operator": ["合作社", None], "transfer_start_year": [2007, None],
    ...                   "transfer_term_years": [10, None], "rent_per_mu": [600.0, None]})
    >>> records_from_farmland(f)[["parcel_id", "end_year"]]
      parcel_id  end_year
    0        P1      2017
    """
    farm = ensure_transfer_columns(farmland)
    rec = farm.loc[farm["transfer_mode"].notna(), ["parcel_id", *TRANSFER_COLUMNS]]
    rec = pd.DataFrame(rec).reset_index(drop=True)
    rec["parcel_id"] = rec["parcel_id"].astype("str")
    rec["end_year"] = (rec["transfer_start_year"] + rec["transfer_term_years"]).astype("Int64")
    return rec


def write_rejected(rejected: pd.DataFrame, path: str | Path) -> Path:
    """Write rejected rows for the service centre: CSV (UTF-8 with BOM) or Excel.

    Parameters
    ----------
    rejected : pandas.DataFrame
        ``TransferImport.rejected``.
    path : str or Path
        ``.csv`` or ``.xlsx``.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "rejected.csv"
    >>> _ = write_rejected(pd.DataFrame({"row": ["3"], "reason_zh": ["地块编号在承包地图层中不存在"]}), p)
    >>> p.read_bytes()[:3] == b"\\xef\\xbb\\xbf"
    True
    >>> tmp.cleanup()
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = rejected.reset_index(drop=True)
    if path.suffix.lower() == ".csv":
        out.to_csv(path, index=False, encoding="utf-8-sig")
    elif path.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(path, engine="xlsxwriter") as xl:
            out.to_excel(xl, sheet_name="rejected", index=False)
    else:
        raise ValueError(f"{path.name}: write rejected rows to a .csv or .xlsx file")
    log.info("wrote %d rejected transfer records to %s", len(out), path)
    return path
