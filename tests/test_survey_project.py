"""The survey end to end: tiny, the sample, and generated districts of several seeds."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from landplan.datasets import generate_district, sample_path
from landplan.errors import ValidationError
from landplan.project import Project
from landplan.survey import CLASSES, HAMLET_COLUMNS, RECLAIM_REASONS, REASONS, survey_project


def check_reconciles(layers: dict, r) -> None:
    """Every homestead in exactly one class, areas add up, every household accounted for."""
    hs, hh = layers["homesteads"], layers["households"]
    flags = r.homesteads
    # one row per input plot, same ids in the same order, one class each
    assert flags["homestead_id"].tolist() == hs["homestead_id"].astype(str).tolist()
    assert flags["survey_class"].isin(list(CLASSES)).all()
    area_in = float(hs.geometry.area.fillna(0).sum())
    t = r.totals()
    assert t.loc["total", "homesteads"] == t.loc["input", "homesteads"] == len(hs)
    assert t.loc["total", "area_m2"] == pytest.approx(area_in, rel=1e-12)
    assert t.loc[list(CLASSES), "homesteads"].sum() == len(hs)
    # the reasons and the classes agree
    any_reason = flags[[f"reason_{k}" for k in REASONS]].any(axis=1)
    assert (any_reason == flags["idle"]).all()
    assert (flags["idle"] == flags["survey_class"].isin(["idle", "surplus"])).all()
    # reclaimable area: per reason, per hamlet, village and town, all the same total
    rec = flags["reclaimable_m2"].sum()
    for table in (r.reclaimable_hamlets, r.reclaimable_villages, r.reclaimable_towns):
        assert table["total_m2"].sum() == pytest.approx(rec)
        assert np.allclose(table[[f"{k}_m2" for k in RECLAIM_REASONS]].sum(axis=1),
                           table["total_m2"])
        assert table["homestead_area_m2"].sum() == pytest.approx(area_in)
        assert table["homesteads"].sum() == len(hs)
    # households: every one in the table once; each with a plot in exactly one hamlet
    table = r.households
    assert table["household_id"].tolist() == hh["household_id"].astype(str).tolist()
    known = flags["household_id"].isin(set(hh["household_id"].astype(str)))
    assert table["n_homesteads"].sum() == int(known.sum())
    housed = table["n_homesteads"] > 0
    assert (table.loc[housed, "kept_homestead_id"].notna()).all()
    with_geometry = housed & table["hamlet_id"].notna()
    assert r.hamlets["households"].sum() == int(with_geometry.sum())
    assert set(table.loc[with_geometry, "hamlet_id"]) <= set(r.hamlets["hamlet_id"])
    # hamlets: every plot with a geometry in one hamlet, areas add up
    has_geom = ~(shapely.is_missing(hs.geometry.to_numpy()) | shapely.is_empty(
        hs.geometry.to_numpy()))
    assert flags["hamlet_id"].notna().to_numpy().tolist() == has_geom.tolist()
    assert r.hamlets["n_homesteads"].sum() == int(has_geom.sum())
    assert r.hamlets["homestead_area_m2"].sum() == pytest.approx(area_in)
    assert r.hamlets["hamlet_id"].is_unique
    counts = flags["hamlet_id"].value_counts()
    assert (r.hamlets.set_index("hamlet_id")["n_homesteads"] == counts.reindex(
        r.hamlets["hamlet_id"]).to_numpy()).all()
    # summary tables: classes add up, totals equal the input
    for s in (r.summary_towns, r.summary_villages):
        total = s.iloc[-1]
        assert total["homesteads"] == len(hs)
        assert total["households"] == len(hh)
        assert (s[["in_use", "oversize", "surplus", "idle"]].sum(axis=1) == s["homesteads"]).all()
        assert total["reclaimable_mu"] == pytest.approx(rec * 15 / 10000)


def test_tiny_end_to_end(tiny):
    r = survey_project(tiny)
    check_reconciles(tiny, r)
    assert r.totals()["homesteads"].to_dict() == {
        "idle": 9, "surplus": 0, "oversize": 6, "in_use": 0, "total": 15, "input": 15}
    assert len(r.idle) == 9 and len(r.oversize) == 6
    assert r.multiple["household_id"].str.endswith("H003").all()
    assert r.hamlet_of["T1V1Z003"] == "T1V1-T1V1Z000"
    assert list(r.hamlets.columns) == list(HAMLET_COLUMNS)
    assert r.settings["standard_m2"] == 140.0 and r.settings["keep_rule"] == "occupied"


def test_project_and_layers_give_the_same_survey(tiny):
    a = survey_project(tiny)
    b = survey_project(Project(tiny))
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.homesteads.drop(columns="geometry")),
        pd.DataFrame(b.homesteads.drop(columns="geometry")), check_dtype=False)
    pd.testing.assert_frame_equal(a.summary_villages, b.summary_villages)


def test_settings_override_the_scenario(tiny):
    r = survey_project(tiny, land="cultivated", keep_rule="largest", vacant_years=10)
    assert r.settings["standard_m2"] == 125.0
    assert not r.homesteads["reason_long_vacant"].any()  # vacant since 2003: 5 years
    assert r.settings["keep_rule"] == "largest"


def test_missing_layer_is_refused(tiny):
    with pytest.raises(ValidationError, match="households"):
        survey_project({k: v for k, v in tiny.items() if k != "households"})
    with pytest.raises(TypeError, match="Project"):
        survey_project([tiny["homesteads"]])


def test_progress_and_logging(tiny, caplog, monkeypatch):
    bars = []

    class FakeBar:  # records what the survey reports, whatever TQDM_DISABLE says
        def __init__(self, total, desc, unit):
            self.total, self.desc, self.n = total, desc, 0
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def set_postfix_str(self, s):
            pass

        def close(self):
            pass

    monkeypatch.setattr("tqdm.auto.tqdm", FakeBar)
    with caplog.at_level(logging.INFO, logger="landplan.survey"):
        survey_project(tiny, progress=True)
    assert any("surveyed 15 homesteads" in m for m in caplog.messages)
    assert [(b.desc, b.n) for b in bars] == [("survey", bars[0].total)]
    survey_project(tiny)
    assert len(bars) == 1  # no bar unless asked


def test_sample_end_to_end():
    p = Project.read(sample_path())
    r = survey_project(p)
    check_reconciles(p.layers, r)
    # the sample is a real-sized town: hamlets of tens of households, all reasons present
    assert 50 < len(r.hamlets) < 1000
    assert r.hamlets["households"].median() >= 10
    for k in REASONS:
        assert r.homesteads[f"reason_{k}"].any(), k
    assert r.multiple["n_homesteads"].min() == 2
    # footprints cover their plots
    fp = r.hamlets.set_index("hamlet_id").geometry
    plots = r.homesteads
    hulls, geoms = fp.loc[plots["hamlet_id"]].to_numpy(), plots.geometry.to_numpy()
    inside = shapely.covers(hulls, geoms)
    # a union's floating-point noise may leave a vertex 1e-9 m outside: no area is uncovered
    uncovered = shapely.area(shapely.difference(geoms[~inside], hulls[~inside]))
    assert (uncovered < 1e-6).all(), uncovered.max()
    # the same input gives the same ids
    again = survey_project(p)
    assert again.hamlets["hamlet_id"].tolist() == r.hamlets["hamlet_id"].tolist()
    assert again.hamlet_of.equals(r.hamlet_of)


def _flaw(layers: dict, seed: int) -> dict:
    """Copy of generated layers with orphans, dangling references, overlaps, slivers."""
    rng = np.random.default_rng(seed)
    hs = layers["homesteads"].copy()
    hh = layers["households"].copy()
    n = len(hs)
    pick = rng.choice(n, size=40, replace=False)
    hs.loc[hs.index[pick[:10]], "household_id"] = None                 # no household
    hs.loc[hs.index[pick[10:20]], "household_id"] = "GONE"             # unknown household
    hh.loc[hh.index[rng.choice(len(hh), 10, replace=False)], "registered_homestead_id"] = "NOPE"
    src = hs.iloc[pick[20:30]].copy()                                  # overlapping copies
    src["homestead_id"] = [f"DUP{i}" for i in range(len(src))]
    src["geometry"] = src.geometry.translate(3.0, 0.0)
    sliver = hs.iloc[pick[30:35]].copy()                               # zero-area slivers
    sliver["homestead_id"] = [f"SLV{i}" for i in range(len(sliver))]
    sliver["geometry"] = [shapely.box(*g.bounds[:2], g.bounds[0], g.bounds[3])
                          for g in sliver.geometry]
    hs.loc[hs.index[pick[35:40]], "geometry"] = None                   # no geometry
    out = dict(layers)
    out["homesteads"] = gpd.GeoDataFrame(pd.concat([hs, src, sliver], ignore_index=True),
                                         crs=hs.crs)
    out["households"] = hh
    return out


@pytest.mark.parametrize("seed", [3, 11, 2008])
def test_generated_towns_reconcile_even_with_flaws(seed):
    layers = generate_district("town", seed=seed, rasters=False).layers
    check_reconciles(layers, survey_project(layers))
    flawed = _flaw(layers, seed)
    r = survey_project(flawed)
    check_reconciles(flawed, r)
    p = r.problems
    for rule, n in [("no_household", 10), ("unknown_household", 10),
                    ("missing_registered_homestead", 10), ("empty_geometry", 5),
                    ("zero_area", 5)]:
        assert (p["rule"] == rule).sum() >= n, rule
    dups = set(p.loc[p["rule"] == "overlap", "other_id"]) | set(p.loc[p["rule"] == "overlap", "id"])
    assert {f"DUP{i}" for i in range(10)} <= dups


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2008, 7])
def test_generated_districts_reconcile(seed):
    layers = generate_district("district", seed=seed, rasters=False).layers
    r = survey_project(layers)
    check_reconciles(layers, r)
    assert len(r.summary_towns) == 6  # five towns and the total
    flawed = _flaw(layers, seed)
    check_reconciles(flawed, survey_project(flawed))
