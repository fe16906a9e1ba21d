"""The default scenario states the 2008 plan, and bad scenarios are refused clearly."""

from __future__ import annotations

import pytest

from landplan.errors import ScenarioError
from landplan.scenario import load_scenario

def test_default_scenario_is_the_2008_plan():
    s = load_scenario()
    assert s.min_households == 50
    full = sorted(t for t, r in s.towns.items() if r.mode == "full")
    pilot = sorted(t for t, r in s.towns.items() if r.mode == "pilot")
    assert full == sorted(["新丰镇", "余新镇", "大桥镇"])
    assert pilot == sorted(["凤桥镇", "七星镇"])
    for t in pilot:
        r = s.towns[t]
        assert (r.pilot_villages_min, r.pilot_villages_max) == (1, 2)
        assert r.transfer_target_mu == 5000 and r.transfer_target_rule == "exceed"
        assert not r.target_met(5000) and r.target_met(5000.5)
    for t in full:
        r = s.towns[t]
        assert r.transfer_target_mu == 3000 and r.target_met(3000)
    assert s.homestead["plot_standard_cultivated_m2"] == 125
    assert s.homestead["plot_standard_other_m2"] == 140


def test_every_plan_value_cites_its_source_line():
    """The sentences quoted beside the values are the plan's own words."""
    from importlib import resources
    base = resources.files("landplan") / "scenarios"
    toml = (base / "nanhu_2008.toml").read_text("utf-8")
    plan = (base / "nanhu_2008_source.txt").read_text("utf-8")
    assert "南湖区2008年统筹城乡发展工作实施方案" in plan
    quoted = ["启动建设的点集聚农户要达到50户以上",
              "新丰镇、余新镇、大桥镇全面启动建设，凤桥镇、七星镇要各选择1—2个村先行试点",
              "凤桥镇、七星镇土地流转面积要各争取突破5000亩，新丰镇、余新镇、大桥镇要各完成3000亩以上的工作目标"]
    for q in quoted:
        assert q in toml
        assert q in plan


def test_replace_makes_a_changed_copy():
    s = load_scenario()
    t = s.replace(**{"sites.max_relocation_distance_m": 4000.0, "towns.凤桥镇.mode": "full"})
    assert t.max_distance_m == 4000 and t.towns["凤桥镇"].mode == "full"
    assert s.max_distance_m == 3000 and s.towns["凤桥镇"].mode == "pilot"


def test_bad_scenario_lists_every_problem(tmp_path):
    text = (tmp_path / "s.toml")
    text.write_text("""
[sites]
min_households = "fifty"
road_green_share = 0.3
max_relocation_distance_m = 3000
within_town = true
colour = "red"
[homestead]
plot_standard_cultivated_m2 = 125
plot_standard_other_m2 = 140
idle_vacant_years = 2
keep_rule = "biggest"
[costs]
relocation_per_household = -1
[towns."凤桥镇"]
mode = "half"
""", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(text)
    rules = exc.value.rules()
    assert {"wrong_type", "unknown_key", "bad_choice", "missing_key", "out_of_range"} <= rules
    msg = str(exc.value)
    assert "sites.min_households" in msg and "sites.colour" in msg and "towns.凤桥镇.mode" in msg


def test_demolished_basis_is_optional_and_checked():
    s = load_scenario()
    assert s.homestead["demolished_basis"] == "footprint"
    data = s.to_dict()
    del data["homestead"]["demolished_basis"]
    from landplan.scenario import Scenario

    assert Scenario(data).homestead["demolished_basis"] == "homesteads"
    data["homestead"]["demolished_basis"] = "village"
    with pytest.raises(ScenarioError, match="homestead.demolished_basis"):
        Scenario(data)


def test_toml_syntax_error_names_the_line(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("[sites\nmin_households = 50\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    assert "line 1" in str(exc.value)


def test_town_rules_match_by_name_and_refuse_unknown_towns(tiny):
    s = load_scenario()
    rules = s.town_rules(tiny["towns"])
    assert rules["T1"].mode == "full" and rules["T2"].mode == "pilot"
    # a town of the district that this project does not cover is fine (a one-town project) ...
    assert "余新镇" not in {r.name for r in rules.values()}
    # ... but a misspelt name of one of the project's towns is refused with the likely fix
    towns = tiny["towns"].copy()
    towns.loc[1, "name"] = "凤桥"
    with pytest.raises(ScenarioError) as exc:
        s.town_rules(towns)
    assert exc.value.problems[0].rows == ["凤桥镇"]
    assert "凤桥" in exc.value.problems[0].message
    with pytest.raises(ScenarioError):
        s.town_rules(tiny["towns"], strict=True)
