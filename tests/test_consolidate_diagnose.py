"""Bad input and infeasible rules: a diagnosis in a planner's words, never a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landplan.consolidate import ConsolidationModel, GroupRule
from landplan.consolidate.from_project import example_inputs
from landplan.errors import InfeasibleError, ScenarioError, ValidationError
from landplan.scenario import load_scenario


def test_minimum_above_every_capacity():
    model = ConsolidationModel.from_cost_matrix(
        np.ones((3, 2)), demand=[20, 20, 20], capacity=[40, 45], fixed_cost=[1, 1], minimum=50)
    with pytest.raises(InfeasibleError) as err:
        model.solve()
    d = err.value.diagnosis
    assert d["rule"].tolist() == ["minimum_above_every_capacity"]
    assert "above every site's capacity" in d.loc[0, "message"]
    assert "45" in d.loc[0, "fix"]
    assert "minimum" in str(err.value)


def test_minimum_above_every_capacity_is_a_warning_when_all_may_stay():
    model = ConsolidationModel.from_cost_matrix(
        np.ones((2, 1)), demand=[20, 20], capacity=[40], fixed_cost=[1], minimum=50,
        stay_cost=[5, 5])
    plan = model.solve()
    assert plan.diagnosis["severity"].tolist() == ["warning"]
    assert len(plan.moves) == 0


def test_pilot_town_too_small_names_the_town():
    rule = GroupRule.from_labels("凤桥镇", ["a", "b"], ["v1", "v2"], 1, 2)
    model = ConsolidationModel.from_cost_matrix(
        np.ones((2, 1)), demand=[20, 21], capacity=[100], fixed_cost=[0], minimum=50,
        stay_cost=[0, 0], group_rules=[rule], origin_ids=["a", "b"],
        origin_town=["T4", "T4"], town_names={"T4": "凤桥镇"})
    with pytest.raises(InfeasibleError) as err:
        model.solve()
    d = err.value.diagnosis
    assert "town_too_small" in d["rule"].tolist()
    msg = d.set_index("rule").loc["town_too_small", "message"]
    assert msg.startswith("凤桥镇: only 41 households")
    assert "sites.min_households" in d.set_index("rule").loc["town_too_small", "fix"]


def test_full_town_too_small_is_a_warning_and_everyone_stays():
    model = ConsolidationModel.from_cost_matrix(
        np.ones((2, 1)), demand=[20, 21], capacity=[100], fixed_cost=[0], minimum=50,
        stay_cost=[1e5, 1e5], origin_town=["T1", "T1"], town_names={"T1": "新丰镇"})
    plan = model.solve()
    assert plan.diagnosis.loc[0, "rule"] == "town_too_small"
    assert "all its households stay" in plan.diagnosis.loc[0, "message"]
    assert plan.summary.loc["T1", "households_stayed"] == 41


def test_distance_limit_suggestion():
    # two hamlets of 25 and 16 within 3 km; two more at 3.4 and 3.8 km
    dist = np.array([[1000.0], [2000.0], [3400.0], [3800.0]])
    rule = GroupRule.from_labels("凤桥镇", ["h0", "h1", "h2", "h3"], ["v1", "v1", "v1", "v2"], 1, 2)
    model = ConsolidationModel.from_cost_matrix(
        dist / 100, demand=[25, 16, 12, 30], capacity=[120], fixed_cost=[0], minimum=50,
        stay_cost=[0, 0, 0, 0], distance=dist, max_distance=3000,
        group_rules=[rule], origin_ids=["h0", "h1", "h2", "h3"], destination_ids=["S1"],
        origin_town=["T4"] * 4, town_names={"T4": "凤桥镇"})
    d = model.diagnose()
    row = d[d["rule"] == "no_site_can_start"].iloc[0]
    assert row["severity"] == "infeasible"
    assert row["message"] == ("凤桥镇: no candidate site within 3 km can gather 50 households; "
                              "the best (S1) gathers 41; a 3.5 km limit makes 1 site(s) feasible")
    assert "3500" in row["fix"] and "lower the minimum to 41" in row["fix"]
    with pytest.raises(InfeasibleError):
        model.solve()
    # and with a 3.5 km limit it is feasible
    m4 = ConsolidationModel.from_cost_matrix(
        dist / 100, demand=[25, 16, 12, 30], capacity=[120], fixed_cost=[0], minimum=50,
        stay_cost=[0, 0, 0, 0], distance=dist, max_distance=3500, group_rules=[rule],
        origin_ids=["h0", "h1", "h2", "h3"])
    assert m4.solve().sites["opened"].all()


def test_groups_cannot_gather_suggests_more_villages():
    rule = GroupRule.from_labels("七星镇", ["a", "b", "c"], ["v1", "v2", "v3"], 1, 1)
    model = ConsolidationModel.from_cost_matrix(
        np.ones((3, 1)), demand=[20, 20, 20], capacity=[100], fixed_cost=[0], minimum=50,
        stay_cost=[0, 0, 0], group_rules=[rule], origin_ids=["a", "b", "c"])
    d = model.diagnose()
    row = d[d["rule"] == "groups_cannot_gather"].iloc[0]
    assert "from at most 1 groups" in row["message"]
    assert "allow 3 groups" in row["fix"]


def test_hamlets_with_no_reachable_site_are_named():
    cost = np.array([[1.0, np.nan], [np.nan, np.nan], [1.0, 1.0]])
    model = ConsolidationModel.from_cost_matrix(cost, demand=[30, 10, 30], capacity=[100, 100],
                                                fixed_cost=[0, 0], minimum=50)
    with pytest.raises(InfeasibleError) as err:
        model.solve()
    d = err.value.diagnosis.set_index("rule")
    assert d.loc["no_reachable_site", "items"] == "o1"


def test_capacity_short():
    model = ConsolidationModel.from_cost_matrix(np.ones((3, 1)), demand=[40, 40, 40],
                                                capacity=[100], fixed_cost=[0], minimum=50)
    with pytest.raises(InfeasibleError) as err:
        model.solve()
    assert "capacity_short" in err.value.diagnosis["rule"].tolist()


def test_solver_proven_infeasible_names_hamlets():
    # every pre-check passes, but no packing works: each site holds one hamlet of 40 < 50
    model = ConsolidationModel.from_cost_matrix(np.ones((3, 2)), demand=[40, 40, 40],
                                                capacity=[60, 60], fixed_cost=[0, 0], minimum=50)
    assert (model.diagnose()["severity"] != "infeasible").all()
    with pytest.raises(InfeasibleError) as err:
        model.solve()
    d = err.value.diagnosis
    assert d.loc[0, "rule"] == "cannot_place"
    assert "cannot all be placed" in d.loc[0, "message"]


# --------------------------------------------------------------------------- bad input
def test_sites_without_capacity():
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_cost_matrix(np.ones((2, 2)), demand=[30, 30],
                                            capacity=[100, np.nan], fixed_cost=[0, 0], minimum=50)
    p = err.value.problems[0]
    assert p.rule == "missing_capacity" and p.rows == ["d1"]
    assert "every site needs a capacity" in str(err.value)


def test_infinite_cost_is_refused_with_rows():
    cost = np.ones((2, 2))
    cost[1, 0] = np.inf
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_cost_matrix(cost, demand=[30, 30], capacity=[100, 100],
                                            fixed_cost=[0, 0], minimum=50)
    p = err.value.problems[0]
    assert p.rule == "infinite_cost" and p.rows == ["o1->d0"]
    assert "never with an infinite cost" in p.fix


def test_missing_cost_with_mask():
    cost = np.ones((2, 2))
    cost[0, 1] = np.nan
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_cost_matrix(cost, allowed=np.ones((2, 2), dtype=bool),
                                            demand=[30, 30], capacity=[100, 100],
                                            fixed_cost=[0, 0], minimum=50)
    assert err.value.problems[0].rule == "missing_cost"


def test_missing_and_infinite_distances():
    dist = np.array([[100.0, np.nan], [np.inf, 200.0]])
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_cost_matrix(np.ones((2, 2)), demand=[30, 30],
                                            capacity=[100, 100], fixed_cost=[0, 0], minimum=50,
                                            distance=dist)
    p = err.value.problems[0]
    assert p.rule == "missing_distance" and sorted(p.rows) == ["o0->d1", "o1->d0"]


def test_several_problems_reported_at_once():
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_cost_matrix(np.ones((2, 2)), demand=[-1, 30],
                                            capacity=[np.nan, 100], fixed_cost=[0, np.inf],
                                            minimum=50)
    assert {"negative_demand", "missing_capacity", "infinite_fixed_cost"} <= err.value.rules()


def test_shape_mismatch():
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_cost_matrix(np.ones((2, 2)), demand=[30, 30, 30],
                                            capacity=[100, 100], fixed_cost=[0, 0], minimum=50)
    assert "wrong_length" in err.value.rules()


def test_project_missing_distances():
    project, hamlets, distances = example_inputs()
    distances.loc[0, "distance_m"] = np.nan
    distances.loc[1, "distance_m"] = np.inf
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_project(project, load_scenario(), hamlets=hamlets,
                                        distances=distances)
    assert err.value.problems[0].rule == "missing_distance"
    assert len(err.value.problems[0].rows) == 2


def test_project_site_without_capacity():
    project, hamlets, distances = example_inputs()
    project["sites"].loc[0, "capacity_households"] = np.nan
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_project(project, load_scenario(), hamlets=hamlets,
                                        distances=distances)
    assert err.value.problems[0].rows == ["S1"]


def test_scenario_naming_a_town_that_does_not_exist():
    # the layer spells the town differently: the scenario's 七星镇 matches nothing
    project, hamlets, distances = example_inputs()
    project["towns"] = project["towns"].replace({"name": {"七星镇": "七星乡"}})
    with pytest.raises(ScenarioError) as err:
        ConsolidationModel.from_project(project, load_scenario(), hamlets=hamlets,
                                        distances=distances)
    assert "七星镇" in str(err.value)


def test_project_missing_columns():
    project, hamlets, distances = example_inputs()
    with pytest.raises(ValidationError) as err:
        ConsolidationModel.from_project(project, load_scenario(),
                                        hamlets=hamlets.drop(columns=["retained"]),
                                        distances=distances)
    assert err.value.problems[0].rows == ["retained"]


def test_project_pilot_town_below_minimum():
    project, hamlets, distances = example_inputs()
    scen = load_scenario().replace(**{"sites.min_households": 200})
    with pytest.raises(InfeasibleError) as err:
        ConsolidationModel.from_project(project, scen, hamlets=hamlets,
                                        distances=distances).solve()
    msgs = " ".join(err.value.diagnosis["message"])
    assert "凤桥镇" in msgs
    assert isinstance(err.value.diagnosis, pd.DataFrame)


def test_plan_names_why_households_stay_in_a_full_start_town():
    # h0-h2 reach S1 (capacity 70); h3 reaches nothing within 3 km but S1 at 4.2 km;
    # h4 reaches nothing at all. Staying costs 10,000 per household (a full-start town).
    dist = np.array([[1000.0], [1500.0], [2000.0], [4200.0], [np.nan]])
    cost = np.where(np.isnan(dist), np.nan, 1.0)
    model = ConsolidationModel.from_cost_matrix(
        cost, demand=[40, 25, 20, 15, 10], capacity=[70], fixed_cost=[0], minimum=50,
        stay_cost=[4e5, 2.5e5, 2e5, 1.5e5, 1e5], distance=dist, max_distance=3000,
        origin_ids=["h0", "h1", "h2", "h3", "h4"], destination_ids=["S1"],
        origin_town=["T1"] * 5, town_names={"T1": "新丰镇"})
    plan = model.solve(time_limit=10)
    assert plan.proven
    d = plan.diagnosis.set_index("rule")
    # 40 + 25 fill S1 to 65: the 20 of h2 do not fit in the 5 left
    assert d.loc["sites_full", "items"] == "h2"
    assert "S1 65/70" in d.loc["sites_full", "message"]
    assert d.loc["out_of_reach", "items"] == "h3, h4"
    assert d.loc["out_of_reach", "message"] == (
        "新丰镇: 25 households in 2 hamlet(s) stay: no site within 3 km")
    assert d.loc["out_of_reach", "fix"].startswith(
        "a 4.5 km limit reaches 15 of them (sites.max_relocation_distance_m = 4500)")
    # every household left in place is explained once, and the stays say the same
    named = [x for items in plan.diagnosis["items"] for x in items.split(", ")]
    assert sorted(named) == sorted(plan.stays["origin"])
    reason = plan.stays.set_index("origin")["reason"]
    assert reason["h2"] == "the sites within reach are full"
    assert reason["h3"] == reason["h4"] == "no allowed destination"


def test_findings_already_made_are_not_repeated_after_the_solve():
    model = ConsolidationModel.from_cost_matrix(
        np.ones((2, 1)), demand=[20, 21], capacity=[100], fixed_cost=[0], minimum=50,
        stay_cost=[1e5, 1e5], origin_town=["T1", "T1"], town_names={"T1": "新丰镇"})
    assert model.solve().diagnosis["rule"].tolist() == ["town_too_small"]
