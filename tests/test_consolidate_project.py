"""from_project on tiny synthetic layers, and scenario comparison."""

from __future__ import annotations

import numpy as np
import pytest
from test_consolidate_model import check_plan

from landplan.consolidate import TOTAL, ConsolidationModel, compare_scenarios
from landplan.consolidate.from_project import example_inputs
from landplan.errors import ValidationError
from landplan.scenario import load_scenario


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


# --------------------------------------------------------------------------- the sample
@pytest.fixture(scope="module")
def sample():
    from landplan.datasets import sample_path
    from landplan.project import Project

    return Project.read(sample_path())


@pytest.fixture(scope="module")
def sample_inputs(sample):
    """The sample's hamlets and road distances, derived once for the module."""
    from landplan.consolidate.from_project import distances_from_project, hamlets_from_project

    scenario = load_scenario()
    hamlets = hamlets_from_project(sample, scenario)
    return hamlets, distances_from_project(sample, hamlets, scenario)


def test_sample_hamlets_and_distances_are_derived(sample, sample_inputs):
    hamlets, dm = sample_inputs
    scenario = load_scenario()
    limit = scenario.max_distance_m
    model = ConsolidationModel.from_project(sample, scenario)
    inst = model._inst
    # every hamlet of the survey is an origin, every site a destination
    assert sorted(model.origin_ids) == sorted(hamlets["hamlet_id"])
    assert sorted(model.destination_ids) == sorted(sample["sites"]["site_id"])
    # the model keeps only pairs within the limit; the diagnosis keeps the longer ones
    assert inst.npairs > 0 and inst.pdist.max() <= limit
    assert len(inst.far_po) > 0
    assert limit < inst.far_dist.min() and inst.far_dist.max() <= 2 * limit
    # ... and none to the site on basic farmland
    excluded = model.destination_attrs.index[model.destination_attrs["excluded"] != ""]
    assert len(excluded) == 1
    within = dm.long[(dm.long["distance_m"] <= limit) & ~dm.long["destination"].isin(excluded)]
    assert inst.npairs == len(within)
    # the same model as with the inputs given explicitly
    given = ConsolidationModel.from_project(sample, scenario, hamlets=hamlets, distances=dm)
    assert given.n_pairs == model.n_pairs
    np.testing.assert_allclose(np.sort(given._inst.pc), np.sort(inst.pc))


def test_sample_plan_accounts_for_every_household(sample, sample_inputs):
    hamlets, dm = sample_inputs
    model = ConsolidationModel.from_project(sample, load_scenario(), hamlets=hamlets,
                                            distances=dm)
    plan = model.solve(time_limit=15, gap=1e-2)
    check_plan(model, plan)
    assert plan.summary.loc[TOTAL, "households"] == hamlets["households"].sum()
    assert plan.summary.loc[TOTAL, "households_moved"] > 0      # a full-start town moves
    assert (plan.moves["distance"] <= load_scenario().max_distance_m).all()
    if plan.proof.status == "optimal":
        assert plan.proof.gap <= 1e-2
    else:
        assert not plan.proven


def test_sample_short_limit_is_diagnosed_with_a_longer_one(sample, sample_inputs):
    """Within 200 m no site of the sample can gather 50 households; the distances derived
    to twice the limit let the diagnosis name a longer limit that helps."""
    hamlets, _ = sample_inputs
    scenario = load_scenario().replace(**{"sites.max_relocation_distance_m": 200.0})
    model = ConsolidationModel.from_project(sample, scenario, hamlets=hamlets)
    assert 200.0 < model._inst.far_dist.min() and model._inst.far_dist.max() <= 400.0
    finding = model.diagnose().set_index("rule").loc["no_site_can_start"]
    assert finding["severity"] == "warning"           # a full-start town may stay
    assert finding["scope"] == "新丰镇"
    assert "sites.max_relocation_distance_m) to 500" in finding["fix"]
    plan = model.solve(time_limit=10)
    assert plan.summary.loc[TOTAL, "households_moved"] == 0


def test_missing_layers_for_derived_inputs_are_named():
    project, hamlets, _ = example_inputs()
    with pytest.raises(ValidationError) as err:       # no homesteads to derive hamlets from
        ConsolidationModel.from_project(project, load_scenario())
    assert err.value.problems[0].layer == "hamlets"
    with pytest.raises(ValidationError) as err:       # no roads for the distances
        ConsolidationModel.from_project(project, load_scenario(), hamlets=hamlets)
    assert err.value.problems[0].layer == "roads"


def test_demolished_basis_footprint_or_plots(sample, sample_inputs):
    hamlets, distances = sample_inputs
    scenario = load_scenario()
    foot = ConsolidationModel.from_project(sample, scenario, hamlets=hamlets, distances=distances)
    plots = ConsolidationModel.from_project(
        sample, scenario.replace(**{"homestead.demolished_basis": "homesteads"}),
        hamlets=hamlets, distances=distances)
    h = hamlets.set_index("hamlet_id").loc[list(foot.origin_ids)]
    assert np.allclose(plots.homestead_area_m2, h["homestead_area_m2"])
    assert np.allclose(foot.homestead_area_m2, np.maximum(h.geometry.area, h["homestead_area_m2"]))
    assert foot.homestead_area_m2.sum() > 1.5 * plots.homestead_area_m2.sum()
    # without footprints the footprint basis is refused, naming the fix
    with pytest.raises(ValidationError, match="demolished_basis"):
        ConsolidationModel.from_project(sample, scenario, distances=distances,
                                        hamlets=hamlets.drop(columns="geometry"))


def test_sites_on_protected_land_are_not_started(sample, sample_inputs):
    # the sample has one site drawn on permanent basic farmland on purpose
    hamlets, distances = sample_inputs
    scenario = load_scenario()
    model = ConsolidationModel.from_project(sample, scenario, hamlets=hamlets,
                                            distances=distances)
    attrs = model.destination_attrs
    flagged = attrs.index[attrs["on_protected"]].tolist()
    assert len(flagged) == 1
    assert "永久基本农田" in attrs.loc[flagged[0], "excluded"]
    ids = list(model.destination_ids)
    inst = model._inst
    pairs_to = np.bincount(inst.pd, minlength=len(ids))
    assert pairs_to[ids.index(flagged[0])] == 0
    assert (pairs_to[[k for k, d in enumerate(ids) if d not in flagged]] > 0).any()
    # "allow" keeps it in the model, flagged only
    kept = ConsolidationModel.from_project(sample, scenario, hamlets=hamlets,
                                           distances=distances, protected_sites="allow")
    assert np.bincount(kept._inst.pd, minlength=len(ids))[ids.index(flagged[0])] > 0
    assert kept.destination_attrs.loc[flagged[0], "on_protected"]
    assert kept.destination_attrs.loc[flagged[0], "excluded"] == ""
    with pytest.raises(ValueError, match="protected_sites"):
        ConsolidationModel.from_project(sample, scenario, hamlets=hamlets, distances=distances,
                                        protected_sites="ignore")
