"""The planner's path end to end on the bundled sample: every household accounted for,
every output written and readable."""

from __future__ import annotations

import numpy as np
import openpyxl
import pyogrio
import pytest

from landplan.cli import main
from landplan.datasets import sample_path
from landplan.maps import external_references
from landplan.project import Project
from landplan.workflow import plan_project


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    project = Project.read(sample_path())
    return project, plan_project(project, out=out, time_limit=10), out


def test_every_household_is_moved_or_stays_exactly_once(planned):
    project, r, _ = planned
    moved = int(r.plan.moves["households"].sum())
    stayed = int(r.plan.stays["households"].sum())
    assert moved + stayed == int(r.survey.hamlets["households"].sum())
    # and the hamlets hold every household that has a homestead
    with_plot = set(project["homesteads"]["household_id"].dropna()) & \
        set(project["households"]["household_id"])
    assert int(r.survey.hamlets["households"].sum()) == len(with_plot)


def test_every_started_site_gathers_the_minimum(planned):
    _, r, _ = planned
    opened = r.plan.sites[r.plan.sites["opened"]]
    assert len(opened) > 0
    assert (opened["households"] >= opened["minimum"]).all()
    assert (opened["households"] <= opened["capacity"]).all()
    new = opened[opened["minimum"] > 0]
    assert (new["households"] >= 50).all()


def test_moves_keep_to_the_limit_while_distances_reach_beyond_it(planned):
    # the distances go to twice the limit so a diagnosis can name a longer one;
    # no move may use that reach
    _, r, _ = planned
    limit = r.plan.model._inst.max_distance
    assert limit == pytest.approx(3000.0)
    assert r.distances.long["distance_m"].max() > limit
    assert (r.plan.moves["distance"] <= limit + 1e-6).all()


def test_ledger_reconciles_with_the_survey(planned):
    _, r, _ = planned
    # the 2008 scenario counts a moving hamlet's footprint (plots, lanes, yards) as 拆旧
    moved = set(r.plan.moves["origin"])
    h = r.survey.hamlets.set_index("hamlet_id").loc[sorted(moved)]
    demolished = np.maximum(h.geometry.area, h["homestead_area_m2"]).sum()
    total = r.ledger.loc["(total)"]
    assert total["demolished_m2"] == pytest.approx(demolished, rel=1e-9)
    assert total["demolished_m2"] > h["homestead_area_m2"].sum()
    # on the sample the footprint basis frees more land than the new sites take
    assert total["net_new_farmland_m2"] > 0


def test_outputs_are_written_and_readable(planned):
    _, r, out = planned
    assert set(r.outputs) >= {"meeting map", "Excel summary", "static map (png)",
                              "static map (pdf)", "county export"}
    html = r.outputs["meeting map"].read_text(encoding="utf-8")
    assert external_references(html) == []
    wb = openpyxl.load_workbook(r.outputs["Excel summary"], read_only=True)
    assert wb.sheetnames[0] == "汇总"
    assert any("增减挂钩" in s for s in wb.sheetnames)
    assert all(len(s) <= 31 for s in wb.sheetnames)
    # the sample's site on basic farmland is listed with the reason it is not started,
    # in the Excel summary and in the meeting map's popups
    sheet = next(s for s in wb.sheetnames if "不予启动" in s)
    text = " ".join(str(c) for row in wb[sheet].iter_rows(values_only=True) for c in row)
    assert "T01S001" in text and "永久基本农田" in text
    assert "不予启动原因" in html and "占永久基本农田" in html
    shp = out / "county"
    gpkgs = list(shp.glob("*.gpkg"))
    assert gpkgs and "homesteads" in [n for n, _ in pyogrio.list_layers(gpkgs[0])] or \
        any("宅基地" in n for n, _ in pyogrio.list_layers(gpkgs[0]))
    for p in out.iterdir():
        if p.is_file():
            assert p.stat().st_mode & 0o044, f"{p.name} is not readable by others"


def test_landplan_plan_command_on_a_generated_town(tmp_path, capsys):
    assert main(["generate", "--scale", "town", "--seed", "5", "--out", str(tmp_path / "p"),
                 "--quiet"]) == 0
    assert main(["plan", "--project", str(tmp_path / "p" / "project.gpkg"), "--out",
                 str(tmp_path / "o"), "--time-limit", "5", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "meeting map" in printed and (tmp_path / "o" / "规划图.html").exists()
