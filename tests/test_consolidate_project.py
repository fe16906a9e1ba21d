"""from_project on tiny synthetic layers, and scenario comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landplan.consolidate import TOTAL, ConsolidationModel, compare_scenarios
from landplan.consolidate.from_project import example_inputs
from landplan.scenario import load_scenario

from test_consolidate_model import check_plan


@pytest.fixture
def inputs():
    return example_inputs()


def _model(inputs, scenario=None, **kw):
    project, hamlets, distances = inputs
    return ConsolidationModel.from_project(project, scenario or load_scenario(), hamlets=hamlets,
                                           distances=distances, **kw)


def test_rules_of_the_2008_plan(inputs):
    # a stay penalty above the net cost of moving, so the full-start town moves
    scen = load_scenario().replace(**{"costs.stay_penalty_per_household": 300000.0})
    model = _model(inputs, scen)
    plan = model.solve(time_limit=20)
    check_plan(model, plan)
    stays = plan.stays.set_index("origin")
    assert stays.loc["H3", "reason"] == "retained by the planners"
    # pilot town: 1 or 2 villages take part
    pilot = plan.moves[plan.moves["origin_town"] == "T4"]
    assert 1 <= pilot["village_id"].nunique() <= 2
    # full-start town: its hamlets move (the apartments block has no minimum)
    assert set(plan.moves.loc[plan.moves["origin_town"] == "T1", "origin"]) == {"H0", "H1", "H2"}
    sites = plan.sites.set_index("destination")
    assert sites.loc["A1", "minimum"] == 0
    assert plan.summary.loc["T1", "name"] == "新丰镇"
    assert plan.summary.loc[TOTAL, "households"] == inputs[1]["households"].sum()
    assert "geometry" in plan.sites.columns


def test_default_weights_move_full_towns_and_cheap_stays_are_diagnosed(inputs):
    """The 2008 scenario's stay penalty exceeds a move's net cost, so a full-start town moves;
    a penalty below it leaves the town in place, and the diagnosis says which setting to raise."""
    plan = _model(inputs).solve(time_limit=20)
    assert plan.summary.loc["T1", "households_moved"] > 0
    cheap = load_scenario().replace(**{"costs.stay_penalty_per_household": 60000.0})
    plan = _model(inputs, cheap).solve(time_limit=20)
    assert plan.summary.loc["T1", "households_moved"] == 0
    warn = plan.diagnosis.set_index("rule").loc["staying_is_cheaper"]
    assert warn["scope"] == "新丰镇"
    assert "costs.stay_penalty_per_household" in warn["fix"]


def test_within_town_false_allows_crossing(inputs):
    project, hamlets, distances = inputs
    scen = load_scenario().replace(**{"sites.within_town": False,
                                      "costs.stay_penalty_per_household": 300000.0})
    model = _model(inputs, scen)
    m_within = _model(inputs, load_scenario().replace(
        **{"costs.stay_penalty_per_household": 300000.0}))
    assert model.n_pairs >= m_within.n_pairs


def test_none_mode_town_does_not_move(inputs):
    scen = load_scenario().replace(**{"towns.新丰镇.mode": "none"})
    plan = _model(inputs, scen).solve(time_limit=10)
    t1 = plan.stays[plan.stays["town"] == "T1"]
    assert set(t1["reason"]) <= {"town does not start in this plan", "retained by the planners"}
    assert (plan.moves["origin_town"] != "T1").all()


def test_willing_only(inputs):
    model = _model(inputs, willing_only=True)
    plan = model.solve(time_limit=10)
    check_plan(model, plan)
    h = inputs[1].set_index("hamlet_id")
    for _, mv in plan.moves.iterrows():
        assert mv["households"] == min(h.loc[mv["origin"], "households_willing"],
                                       h.loc[mv["origin"], "households"])


def test_compare_scenarios(inputs):
    base = load_scenario().replace(**{"costs.stay_penalty_per_household": 300000.0},
                                   name="penalty 300k")
    scenarios = [base, base.replace(**{"sites.min_households": 40}, name="min 40"),
                 base.replace(**{"sites.min_households": 500}, name="min 500")]
    t = compare_scenarios(lambda s: _model(inputs, s), scenarios, time_limit=10)
    assert list(t.index) == ["penalty 300k", "min 40", "min 500"]
    assert t.loc["min 500", "status"] == "infeasible" and t.loc["min 500", "note"]
    assert t.loc["penalty 300k", "status"] == "optimal"
    assert t.loc["min 40", "cost"] <= t.loc["penalty 300k", "cost"] + 1e-6
    assert np.isfinite(t.loc["penalty 300k", "saving_quota_mu"])
    assert t.loc["penalty 300k", "households_moved"] > 0
