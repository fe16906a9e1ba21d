"""Excel summary: sheets, Chinese headings, widths, formats, text kept as text; read back with openpyxl."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from landplan.errors import ValidationError
from landplan.report import display_width, sheet_names, write_summary


def _survey(tiny):
    hs = tiny["homesteads"].merge(tiny["villages"][["village_id", "town_id"]], on="village_id")
    idle = hs["status"] != "occupied"
    by_village = (hs.assign(idle=idle, area_m2=hs.geometry.area)
                  .groupby(["town_id", "village_id"], as_index=False)
                  .agg(homesteads=("homestead_id", "size"), idle_homesteads=("idle", "sum"),
                       reclaimable_m2=("area_m2", lambda a: float(a[idle.loc[a.index]].sum()))))
    by_village["reclaimable_mu"] = by_village["reclaimable_m2"] / (10000 / 15)
    by_town = by_village.groupby("town_id", as_index=False)[
        ["homesteads", "idle_homesteads", "reclaimable_m2", "reclaimable_mu"]].sum()
    return {"town": by_town, "village": by_village}


@pytest.fixture
def workbook(tiny, tmp_path):
    transfer = pd.DataFrame({"town_id": ["T1", "T2"], "name": ["=新丰镇", "凤桥镇<b>"],
                             "transferred_mu": [3120.456, 812.0], "target_mu": [3000.0, 5000.0],
                             "share": [1.04, 0.1624]})
    ledger = pd.DataFrame({"village_id": ["T1V1"], "demolished_m2": [1234.5], "new_build_m2": [800.0],
                           "approved_on": [dt.date(2008, 6, 30)],
                           "parcel_code": [330402100001000123]})
    households = tiny["households"]
    path = write_summary(
        tmp_path / "南湖区汇总.xlsx", survey=_survey(tiny), ledger=ledger, transfer={"town": transfer},
        extra={"农户明细 (含外出户) / 2008年度": households, "history": households.head(1)},
        title="南湖区 2008 土地整治汇总", overview={"闲置宅基地(宗)": 9, "流转面积(亩)": 3932.456},
        headings={"idle_homesteads": "闲置宅基地(宗)"})
    return openpyxl.load_workbook(path), path


def test_sheets_overview_first_and_names_valid(workbook):
    wb, _ = workbook
    assert wb.sheetnames == ["汇总", "宅基地调查-按镇", "宅基地调查-按村", "增减挂钩台账",
                             "土地流转进度-按镇", "农户明细 (含外出户) _ 2008年度", "history_"]
    for name in wb.sheetnames:
        assert len(name) <= 31 and not set(name) & set("[]:*?/\\")
    ov = wb["汇总"]
    assert ov["A1"].value == "南湖区 2008 土地整治汇总"
    cells = [[c.value for c in row] for row in ov.iter_rows()]
    assert ["闲置宅基地(宗)", 9, None] in cells
    listed = [r[0] for r in cells if r[0] in wb.sheetnames]
    assert listed == wb.sheetnames[1:]
    link = next(c for row in ov.iter_rows() for c in row if c.value == "增减挂钩台账")
    assert link.hyperlink is not None and "增减挂钩台账" in link.hyperlink.location


def test_chinese_headings_frozen_header_and_filters(workbook):
    wb, _ = workbook
    ws = wb["宅基地调查-按村"]
    assert [c.value for c in ws[1]] == ["镇代码", "村代码", "宅基地宗数", "闲置宅基地(宗)",
                                        "可复垦面积(平方米)", "可复垦面积(亩)"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F4"
    hh = wb["农户明细 (含外出户) _ 2008年度"]
    headings = [c.value for c in hh[1]]
    assert "户主姓名" not in headings and "户主身份证号" not in headings  # personal: left out
    assert headings[:4] == ["户编号", "村代码", "户籍人口", "居住状况"]
    assert [c.value for c in hh["D"][1:4]] == ["常住", "常住", "全家外出"]  # codes in Chinese
    assert hh["E2"].value == "是"


def test_column_widths_fit_chinese_text(workbook):
    wb, _ = workbook
    ws = wb["土地流转进度-按镇"]
    widths = {c.value: ws.column_dimensions[c.column_letter].width for c in ws[1]}
    # "镇名称" column: values "=新丰镇" / "凤桥镇<b>" are 7 and 9 units wide
    assert widths["镇名称"] >= display_width("凤桥镇<b>") + 1
    hh = wb["农户明细 (含外出户) _ 2008年度"]
    w = {c.value: hh.column_dimensions[c.column_letter].width for c in hh[1]}
    # same number of characters, but CJK text is wider: 户籍地址宅基地 (7 chars) vs T1V1Z000 (8)
    assert w["户籍地址宅基地"] > w["户编号"]
    assert w["户籍地址宅基地"] >= display_width("户籍地址宅基地")


def test_number_formats_and_text_stays_text(workbook):
    wb, _ = workbook
    ws = wb["土地流转进度-按镇"]
    assert ws["B2"].value == "=新丰镇" and ws["B2"].data_type == "s"  # not a formula
    assert ws["B3"].value == "凤桥镇<b>"
    assert ws["C2"].value == pytest.approx(3120.456) and ws["C2"].number_format == "#,##0.00"
    assert ws["E2"].number_format == "0.0%"
    led = wb["增减挂钩台账"]
    assert led["B2"].number_format == "#,##0"
    assert led["D2"].is_date and led["D2"].value.date() == dt.date(2008, 6, 30)
    assert led["E2"].value == "330402100001000123"  # beyond Excel's 15 digits: kept as text
    sv = wb["宅基地调查-按镇"]
    assert sv["B2"].number_format == "#,##0"


def test_sheet_names_cut_and_deduplicated():
    long = "新社区规划" * 8  # 40 characters
    names = sheet_names(["汇总", long, long, "Data", "data", "'quoted'", "", "a?b*c[d]"])
    assert names == ["汇总", long[:31], long[:29] + "~2", "Data", "data~2", "quoted", "Sheet",
                     "a_b_c_d_"]
    assert all(len(n) <= 31 for n in names)


def test_display_width_counts_cjk_twice():
    assert display_width("南湖") == 4
    assert display_width("（亩）") == 6  # full-width brackets
    assert display_width("mu") == 2


def test_refuses_cells_excel_cannot_hold(tmp_path):
    df = pd.DataFrame({"village_id": ["V1", "V2"], "note": ["ok", "x" * 40000]})
    with pytest.raises(ValidationError) as err:
        write_summary(tmp_path / "r.xlsx", extra={"备注": df})
    (problem,) = err.value.problems
    assert problem.rule == "cell_too_long" and problem.rows == ["1"] and "note" in problem.message
    assert not (tmp_path / "r.xlsx").exists()


def test_existing_file_needs_overwrite(tmp_path):
    df = pd.DataFrame({"town_id": ["T1"]})
    write_summary(tmp_path / "r.xlsx", plan=df)
    with pytest.raises(FileExistsError):
        write_summary(tmp_path / "r.xlsx", plan=df)
    write_summary(tmp_path / "r.xlsx", plan=df.assign(households=[60]), overwrite=True)
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["新社区规划"]
    assert [c.value for c in ws[1]] == ["镇代码", "户数"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


def test_input_is_not_modified(tiny, tmp_path):
    hh = tiny["households"]
    before = hh.copy()
    write_summary(tmp_path / "r.xlsx", extra={"农户": hh}, include_personal=True)
    pd.testing.assert_frame_equal(hh, before)
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["农户"]
    assert "户主姓名" in [c.value for c in ws[1]]
