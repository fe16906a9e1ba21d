"""The 增减挂钩 ledger reconciles with the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landplan.consolidate import LEDGER_HEADINGS_ZH, TOTAL, ConsolidationModel, ledger
from landplan.consolidate._instances import synthetic_district
from landplan.consolidate.from_project import example_inputs
from landplan.scenario import load_scenario
from landplan.units import m2_to_mu


def test_ledger_reconciles_with_plan():
    model = synthetic_district(2, 60, 8, seed=3)
    plan = model.solve(time_limit=20, gap=1e-3)
    t = plan.ledger()
    area = pd.Series(model.homestead_area_m2, index=model.origin_ids)
    assert t.loc[TOTAL, "demolished_m2"] == pytest.approx(area[plan.moves["origin"]].sum())
    land = pd.Series(model.site_land_m2_per_household, index=model.destination_ids)
    sites = plan.sites.set_index("destination")
    assert t.loc[TOTAL, "new_build_m2"] == pytest.approx(
        (land * sites["households"]).sum())
    assert t.loc[TOTAL, "saving_quota_m2"] == pytest.approx(
        t.loc[TOTAL, "demolished_m2"] - t.loc[TOTAL, "new_build_m2"])
    towns = t.drop(index=TOTAL)
    for col in ("demolished_m2", "new_build_m2", "saving_quota_m2", "net_new_farmland_m2"):
        assert towns[col].sum() == pytest.approx(t.loc[TOTAL, col])
        assert t[col.replace("_m2", "_mu")].to_numpy() == pytest.approx(
            m2_to_mu(t[col].to_numpy()))
    assert t.loc[TOTAL, "households_moved"] == plan.moves["households"].sum()


def test_ledger_shares_and_chinese_headings():
    moves = pd.DataFrame({"origin": ["a"], "destination": ["S"], "households": [10]})
    t = ledger(moves, pd.Series({"a": 3000.0}), pd.Series({"S": 1000.0}),
               reclaimable_share=0.9, new_build_on_farmland_share=0.5, chinese=True)
    row = t.iloc[0]
    assert row[LEDGER_HEADINGS_ZH["reclaimable_m2"]] == pytest.approx(2700.0)
    assert row[LEDGER_HEADINGS_ZH["net_new_farmland_m2"]] == pytest.approx(2200.0)
    assert row[LEDGER_HEADINGS_ZH["saving_quota_m2"]] == pytest.approx(2000.0)


def test_ledger_towns_without_moves_appear_with_zeros():
    moves = pd.DataFrame({"origin": ["a"], "destination": ["S"], "households": [10]})
    t = ledger(moves, pd.Series({"a": 3000.0, "b": 100.0}), pd.Series({"S": 1000.0}),
               origin_town=pd.Series({"a": "T1", "b": "T2"}), site_town=pd.Series({"S": "T1"}))
    assert t.loc["T2", "demolished_m2"] == 0
    assert list(t.index) == ["T1", "T2", TOTAL]


def test_ledger_missing_area_is_an_error():
    moves = pd.DataFrame({"origin": ["a"], "destination": ["S"], "households": [10]})
    with pytest.raises(ValueError, match="no homestead area"):
        ledger(moves, pd.Series({"b": 1.0}), pd.Series({"S": 1.0}))


def test_project_ledger_counts_only_willing_share():
    project, hamlets, distances = example_inputs()
    model = ConsolidationModel.from_project(project, load_scenario(), hamlets=hamlets,
                                            distances=distances, willing_only=True)
    plan = model.solve(time_limit=10)
    t = plan.ledger()
    h = hamlets.set_index("hamlet_id")
    moved = plan.moves.set_index("origin")
    expect = (h.loc[moved.index, "homestead_area_m2"] * moved["households"]
              / h.loc[moved.index, "households"]).sum()
    assert t.loc[TOTAL, "demolished_m2"] == pytest.approx(expect)
    assert np.isfinite(t.drop(columns="name").to_numpy(dtype=float)).all()


def test_ledger_needs_areas():
    model = ConsolidationModel.from_cost_matrix(np.ones((2, 1)), demand=[30, 30],
                                                capacity=[100], fixed_cost=[0], minimum=50)
    with pytest.raises(ValueError, match="homestead areas"):
        model.solve().ledger()
