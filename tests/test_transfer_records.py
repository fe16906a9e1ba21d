"""Importing transfer records: headings, encodings, every rejection rule, nothing lost."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from landplan.errors import ValidationError
from landplan.project import Project
from landplan.transfer import (apply_transfer_records, progress_by_year, read_transfer_records,
                               records_from_farmland, transfer_progress, write_rejected)
from landplan.units import m2_to_mu

ZH = ["地块编号", "流转方式", "流入方", "起始年", "期限", "租金"]


def table(rows, columns=ZH, start_row=2):
    """A record table as a service centre keeps it; index = spreadsheet row numbers."""
    df = pd.DataFrame(rows, columns=columns)
    df.index = pd.RangeIndex(start_row, start_row + len(df))
    return df


def test_chinese_table_applied_to_a_copy(tiny):
    farmland = tiny["farmland"]
    before = farmland.copy()
    t = table([["T1V1F002", "出租", "凤桥粮食合作社", 2008, 10, 650],
               ["T1V1F003", "入股", "竹林土地股份合作社", 2008, 15, 700],
               ["T2V1F004", "置换", "凤桥镇政府", 2008, 30, None]])
    res = apply_transfer_records(farmland, t)
    pd.testing.assert_frame_equal(farmland, before)           # input untouched
    assert res.rejected.empty
    f = res.farmland.set_index("parcel_id")
    assert f.loc["T1V1F002", "transfer_mode"] == "lease"
    assert f.loc["T1V1F003", "transfer_mode"] == "shares"
    assert f.loc["T2V1F004", "transfer_mode"] == "exchange"
    assert f.loc["T1V1F003", "transfer_operator"] == "竹林土地股份合作社"
    assert f.loc["T1V1F002", "transfer_start_year"] == 2008
    assert f.loc["T1V1F003", "transfer_term_years"] == 15
    assert f.loc["T1V1F002", "rent_per_mu"] == 650.0
    assert np.isnan(f.loc["T2V1F004", "rent_per_mu"])
    # the tiny layer's own leases are kept
    assert f.loc["T1V1F000", "transfer_operator"] == "合作社甲"
    # same rows, same index, and the result is still a valid farmland layer
    assert list(res.farmland.index) == list(farmland.index)
    layers = dict(tiny, farmland=res.farmland)
    Project(layers)
    assert set(res.records.loc[res.records["source"] == "import", "parcel_id"]) == \
        {"T1V1F002", "T1V1F003", "T2V1F004"}


def test_every_bad_row_rejected_with_its_row_and_nothing_else_lost(tiny, tmp_path):
    t = table([
        ["T1V1F002", "出租", "大户甲", 2008, 10, 600],      # 2 good
        ["NOPE", "出租", "大户甲", 2008, 10, 600],          # 3 unknown parcel
        ["T1V1F003", "转包", "大户甲", 2008, 10, 600],      # 4 unknown mode
        ["T1V1F004", "出租", "大户乙", 2008, 10, 600],      # 5 overlaps row 6
        ["T1V1F004", "入股", "合作社", 2012, 5, 600],       # 6 overlaps row 5
        ["T1V2F002", "出租", "", 2008, 10, 600],            # 7 no operator
        ["T1V2F003", "出租", "大户甲", "二〇〇八", 10, 600],  # 8 bad start year
        ["T1V2F004", "出租", "大户甲", 2008, 0, 600],       # 9 bad term
        ["T1V2F005", "出租", "大户甲", 2008, 10, -5],       # 10 bad rent
        ["T2V1F002", "lease", "大户丙", 2008, 10, 600],     # 11 good (English mode word)
        ["T2V1F003", "出租", "大户丙", 1850, 10, 600],      # 12 absurd year
    ])
    out = tmp_path / "rejected.csv"
    res = apply_transfer_records(tiny["farmland"], t, rejected_path=out)
    rules = res.rejected["rule"].to_dict()
    assert rules == {3: "unknown_parcel", 4: "unknown_mode", 5: "overlapping_records",
                     6: "overlapping_records", 7: "missing_operator", 8: "bad_start_year",
                     9: "bad_term", 10: "bad_rent", 12: "bad_start_year"}
    assert "row 6" in res.rejected.loc[5, "reason"] and "row 5" in res.rejected.loc[6, "reason"]
    # every input row is either applied or rejected
    applied = res.records[res.records["source"] == "import"]
    assert sorted(applied["row"].astype(int)) == [2, 11]
    assert len(applied) + len(res.rejected) == len(t)
    f = res.farmland.set_index("parcel_id")
    assert pd.isna(f.loc["T1V1F004", "transfer_mode"])
    assert f.loc["T2V1F002", "transfer_operator"] == "大户丙"
    # the file: Excel-friendly UTF-8 with BOM, Chinese intact, the original cells and reasons
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert back["row"].tolist() == ["3", "4", "5", "6", "7", "8", "9", "10", "12"]
    assert back.loc[back["row"] == "4", "流转方式"].item() == "转包"
    assert back.loc[back["row"] == "3", "reason_zh"].item() == "地块编号在承包地图层中不存在"


def test_area_checks(tiny):
    # tiny parcels are 10 x 150 m = 1500 m2 = 2.25 mu
    cols = ZH + ["流转面积(亩)"]
    t = table([["T1V1F002", "出租", "甲", 2008, 10, 600, 2.2],    # fine
               ["T1V1F003", "出租", "甲", 2008, 10, 600, 2.4],    # within 10 %
               ["T1V1F004", "出租", "甲", 2008, 10, 600, 25],     # absurd
               ["T1V1F005", "出租", "甲", 2008, 10, 600, -1],     # negative
               ["T1V2F002", "出租", "甲", 2008, 10, 600, 0],      # zero
               ["T1V2F003", "出租", "甲", 2008, 10, 600, "约两亩"]],  # not a number
              columns=cols)
    res = apply_transfer_records(tiny["farmland"], t)
    assert res.rejected["rule"].to_dict() == {4: "absurd_area", 5: "bad_area", 6: "bad_area",
                                              7: "bad_area"}
    assert "25 mu > 2.2 mu" in res.rejected.loc[4, "reason"]
    strict = apply_transfer_records(tiny["farmland"], t, area_tolerance=0.0)
    assert 3 in strict.rejected.index
    # an area heading in square metres is converted
    m2 = table([["T1V1F002", "出租", "甲", 2008, 10, 600, 1500.0],
                ["T1V1F003", "出租", "甲", 2008, 10, 600, 15000.0]], columns=ZH + ["流转面积(平方米)"])
    res = apply_transfer_records(tiny["farmland"], m2)
    assert res.rejected["rule"].to_dict() == {3: "absurd_area"}


def test_duplicate_row_keeps_the_first(tiny):
    row = ["T1V1F002", "出租", "甲", 2008, 10, 600]
    res = apply_transfer_records(tiny["farmland"], table([row, row]))
    assert res.rejected["rule"].to_dict() == {3: "duplicate_record"}
    assert "row 2" in res.rejected.loc[3, "reason"]
    assert (res.records["parcel_id"] == "T1V1F002").sum() == 1


def test_existing_transfers_overlap_replace_and_reimport(tiny):
    # the tiny layer leases T1V1F000 to 合作社甲 from 2007 for 10 years at 600
    same = table([["T1V1F000", "出租", "合作社甲", 2007, 10, 600]])
    res = apply_transfer_records(tiny["farmland"], same)
    assert res.rejected.empty
    assert (res.records["parcel_id"] == "T1V1F000").sum() == 1      # not counted twice
    other = table([["T1V1F000", "入股", "合作社乙", 2010, 5, 800]])
    res = apply_transfer_records(tiny["farmland"], other)
    assert res.rejected["rule"].tolist() == ["overlaps_existing"]
    assert "合作社甲" in res.rejected["reason"].item()
    assert res.farmland.set_index("parcel_id").loc["T1V1F000", "transfer_operator"] == "合作社甲"
    res = apply_transfer_records(tiny["farmland"], other, replace_existing=True)
    assert res.rejected.empty
    f = res.farmland.set_index("parcel_id")
    assert f.loc["T1V1F000", "transfer_operator"] == "合作社乙"
    assert (res.records["parcel_id"] == "T1V1F000").sum() == 1


def test_history_of_successive_transfers(tiny):
    t = table([["T1V1F002", "出租", "甲", 2001, 5, 300],
               ["T1V1F002", "入股", "合作社", 2006, 20, 700]])
    res = apply_transfer_records(tiny["farmland"], t)
    assert res.rejected.empty
    f = res.farmland.set_index("parcel_id")
    assert f.loc["T1V1F002", "transfer_mode"] == "shares"            # the latest
    hist = res.records[res.records["parcel_id"] == "T1V1F002"]
    assert hist["transfer_start_year"].tolist() == [2001, 2006]
    assert hist["end_year"].tolist() == [2006, 2026]
    layers = dict(tiny, farmland=res.farmland)
    by_year = progress_by_year(layers, years=[2003, 2006], records=res.records)
    t1 = by_year[by_year["town_id"] == "T1"].set_index("year")
    parcel_mu = m2_to_mu(1500.0)
    assert t1.loc[2003, "lease_mu"] == pytest.approx(parcel_mu)
    assert t1.loc[2006, "started_mu"] == pytest.approx(parcel_mu)
    assert t1.loc[2006, "shares_mu"] == pytest.approx(parcel_mu)
    # without the history, 2003 only sees what the layer holds now
    now = transfer_progress(layers, year=2003)
    assert now.loc["T1", "transferred_mu"] == 0.0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-8"])
def test_csv_in_the_encodings_service_centres_use(tiny, tmp_path, encoding):
    p = tmp_path / "流转台账.csv"
    text = ("地块编号,流转方式,流入方,起始年,期限,租金(元/亩/年)\n"
            "T1V1F002,出租,南湖区凤桥镇联丰村种粮大户,2008年3月,10年,650元\n"
            "T1V1F003,入股,竹林村土地股份合作社,2008,１５,700\n")
    p.write_bytes(text.encode(encoding))
    res = apply_transfer_records(tiny["farmland"], p)
    assert res.rejected.empty
    f = res.farmland.set_index("parcel_id")
    assert f.loc["T1V1F002", "transfer_operator"] == "南湖区凤桥镇联丰村种粮大户"
    assert f.loc["T1V1F002", "transfer_start_year"] == 2008
    assert f.loc["T1V1F002", "transfer_term_years"] == 10
    assert f.loc["T1V1F003", "transfer_term_years"] == 15          # full-width digits
    assert f.loc["T1V1F002", "rent_per_mu"] == 650.0


def test_excel_table_and_excel_rejected_file(tiny, tmp_path):
    src = tmp_path / "records.xlsx"
    t = pd.DataFrame({"parcel_id": ["T1V1F002", "T9"], "mode": ["shares", "lease"],
                      "operator": ["合作社", "大户"], "start_year": [2008, 2008],
                      "term_years": [10, 10], "rent": [700, 650]})
    t.to_excel(src, index=False)
    out = tmp_path / "rejected.xlsx"
    res = apply_transfer_records(tiny["farmland"], src, rejected_path=out)
    assert res.rejected["rule"].to_dict() == {3: "unknown_parcel"}
    back = pd.read_excel(out, dtype=str)
    assert back["row"].tolist() == ["3"] and back["parcel_id"].tolist() == ["T9"]
    assert back["reason_zh"].tolist() == ["地块编号在承包地图层中不存在"]


def test_leading_zeros_kept_and_mapping(tmp_path):
    farmland = gpd.GeoDataFrame({"parcel_id": ["0007", "0008"], "household_id": ["H1", "H2"],
                                 "village_id": ["V1", "V1"], "landuse_code": ["0101", "0101"],
                                 "basic_farmland": [True, False]},
                                geometry=[box(0, 0, 20, 100), box(20, 0, 40, 100)], crs="EPSG:4549")
    p = tmp_path / "t.csv"
    p.write_text("DKBH,LZFS,LRF,QSN,QX\n0007,出租,甲,2008,5\n", encoding="utf-8")
    t = read_transfer_records(p, mapping={"DKBH": "parcel_id", "LZFS": "transfer_mode",
                                          "LRF": "transfer_operator", "QSN": "transfer_start_year",
                                          "QX": "transfer_term_years"})
    assert t.loc[2, "parcel_id"] == "0007"
    res = apply_transfer_records(farmland, t)
    assert res.rejected.empty
    assert res.farmland["transfer_mode"].tolist()[0] == "lease"


def test_missing_column_is_refused_with_the_headings_accepted(tiny):
    t = pd.DataFrame({"地块编号": ["T1V1F002"], "流转方式": ["出租"], "起始年": [2008]})
    with pytest.raises(ValidationError) as err:
        apply_transfer_records(tiny["farmland"], t)
    msg = str(err.value)
    assert "transfer_operator" in msg and "流入方" in msg and "期限" in msg


def test_scenario_modes_limit_what_is_accepted(tiny):
    from landplan.scenario import load_scenario
    lease_only = load_scenario().replace(**{"transfer.modes": ["lease"]})
    t = table([["T1V1F002", "出租", "甲", 2008, 10, 600], ["T1V1F003", "入股", "乙", 2008, 10, 600]])
    res = apply_transfer_records(tiny["farmland"], t, scenario=lease_only)
    assert res.rejected["rule"].to_dict() == {3: "unknown_mode"}
    assert "出租/lease" in res.rejected.loc[3, "reason"]


def test_records_from_farmland_and_write_rejected_refuses_other_formats(tiny, tmp_path):
    rec = records_from_farmland(tiny["farmland"])
    assert len(rec) == 6 and set(rec["end_year"]) == {2017}
    with pytest.raises(ValueError):
        write_rejected(pd.DataFrame({"row": ["2"]}), tmp_path / "x.txt")
