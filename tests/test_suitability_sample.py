"""Suitability on the bundled one-town sample: exclusions agree with the layers, candidates are clean."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from landplan.datasets import sample_path
from landplan.project import Project
from landplan.suitability import EXCLUSION_BITS, candidate_sites, score_sites, suitability_raster


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    p = Project.read(sample_path())
    out = suitability_raster(p, tmp_path_factory.mktemp("suit") / "score.tif")
    return p, out


def test_raster_is_on_the_elevation_grid_and_exclusions_match_the_layers(sample):
    p, out = sample
    with rasterio.open(p.rasters["elevation"]) as e, rasterio.open(out.score) as s, \
            rasterio.open(out.exclusions) as x:
        assert s.transform == e.transform and s.shape == e.shape and s.crs == e.crs
        assert s.count == 7 and s.overviews(1)
        ex = x.read(1)
    # the cell under a point inside each water body carries the water bit when its centre is wet
    water = p["water"].geometry.union_all()
    pts = p["water"].geometry.representative_point()
    with rasterio.open(out.exclusions) as x:
        t = x.transform
    cols = np.floor((pts.x.to_numpy() - t.c) / t.a).astype(int)
    rows = np.floor((pts.y.to_numpy() - t.f) / t.e).astype(int)
    centres = gpd.GeoSeries(gpd.points_from_xy(t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e))
    inside = np.asarray(centres.within(water))
    assert inside.sum() > 10
    assert (ex[rows[inside], cols[inside]] & EXCLUSION_BITS["water"]).all()
    assert out.summary().loc["basic_farmland", "share"] > 0


def test_candidates_are_off_protected_land_and_planned_sites_are_scored(sample):
    p, out = sample
    c = candidate_sites(p, out)
    assert len(c) > 0 and (c["capacity_households"] >= 50).all()
    assert not c["on_protected"].any() and not c["in_water"].any()
    assert (c["buildings_m2"] <= 1.0).all()
    plan = score_sites(p["sites"], p, out)
    assert plan.index.equals(p["sites"].index)
    assert (plan["site_id"] == p["sites"]["site_id"]).all()
    # the flags agree with an independent overlay of the protected layer
    prot = p["protected"]
    overlap = gpd.overlay(p["sites"][["site_id", "geometry"]], prot[["kind", "geometry"]],
                          how="intersection", keep_geom_type=True)
    hit = set(overlap.loc[overlap.area > 1.0, "site_id"])
    flagged = set(plan.loc[plan["on_protected"], "site_id"])
    assert hit <= flagged
    assert plan.loc[plan["on_protected"], "reasons"].str.len().gt(0).all()
