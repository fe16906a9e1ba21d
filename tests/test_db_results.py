"""Survey results and plans in their own tables, each run recorded with scenario and time.

Real PostgreSQL/PostGIS from LANDPLAN_TEST_DB (tools/postgis.sh); fails, never skips, without it.
"""

# ruff: noqa: F811  (test arguments named after the imported fixtures)
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal
from shapely.geometry import box

import landplan.db.tables as db_tables
from landplan.db import (DatabaseError, TableExistsError, list_runs, read_project_postgis,
                         read_results, write_project_postgis, write_results)
from landplan.errors import ValidationError
from landplan.project import Project
from landplan.scenario import load_scenario
# fixtures shared with test_db.py (pytest finds fixtures imported into a test module)
from test_db import (assert_projects_equal, pg_url, query, schema,  # noqa: F401
                     schema_exists, tables_in)

pytestmark = pytest.mark.postgis


def flags_frame() -> gpd.GeoDataFrame:
    """A survey-like result: homesteads keyed by id, with reasons in Chinese."""
    ids = [f"T1V1Z{i:03d}" for i in range(6)]
    return gpd.GeoDataFrame(
        {"homestead_id": ids, "idle": [True, False, True, False, False, True],
         "reason": ["闲置5年", None, "倒塌", None, None, "户在人无"],
         "vacant_years": pd.array([5, None, 7, None, None, 2], dtype="Int64"),
         "area_m2": [144.0, 196.0, 144.0, 144.0, np.nan, 150.5],
         "members": np.array([3, 4, 3, 4, 1, 2], dtype="int64"),
         "status": pd.Categorical(["vacant", "occupied", "collapsed", "occupied", "occupied",
                                   "vacant"]),
         "flagged_at": pd.to_datetime(["2008-01-28 10:00"] * 6).tz_localize("Asia/Shanghai")},
        geometry=[box(500000 + 20 * i, 3400500, 500012 + 20 * i, 3400512) for i in range(6)],
        crs="EPSG:4549", index=pd.Index(ids, name="homestead_id_index"))


def ledger_frame() -> pd.DataFrame:
    """A plan-like table with Chinese column headings and a two-level index."""
    idx = pd.MultiIndex.from_tuples([("T1", "拆旧"), ("T1", "建新"), ("T2", "拆旧")],
                                    names=["town_id", None])
    return pd.DataFrame({"面积(亩)": [12.5, -8.25, 3.0], "户数": [30, 30, 7]}, index=idx)


def test_results_round_trip_exactly_with_scenario_and_time(pg_url, schema):
    flags, ledger = flags_frame(), ledger_frame()
    plain = pd.DataFrame({"site_id": ["S1", "S2"], "opened": [True, False]})
    scenario = load_scenario()
    before = datetime.now(timezone.utc)
    run = write_results(pg_url, {"homestead_flags": flags, "ledger": ledger, "sites_opened": plain},
                        scenario=scenario, label="survey_a", schema=schema, note="第一次调查")
    after = datetime.now(timezone.utc)
    assert run["label"] == "survey_a" and run["scenario"] == scenario.name
    assert run["tables"] == {"homestead_flags": f"{schema}.survey_a__homestead_flags",
                             "ledger": f"{schema}.survey_a__ledger",
                             "sites_opened": f"{schema}.survey_a__sites_opened"}
    assert before - timedelta(seconds=5) <= run["created_at"] <= after + timedelta(seconds=5)
    back = read_results(pg_url, "survey_a", schema=schema)
    assert_geodataframe_equal(back["homestead_flags"], flags)
    assert_frame_equal(back["ledger"], ledger)
    assert_frame_equal(back["sites_opened"], plain)
    assert read_results(pg_url, run["run_id"], schema=schema).keys() == back.keys()

    runs = list_runs(pg_url, schema=schema)
    assert runs[["label", "scenario", "note"]].to_dict("records") == [
        {"label": "survey_a", "scenario": "nanhu_2008", "note": "第一次调查"}]
    assert runs["tables"].iloc[0] == ["homestead_flags", "ledger", "sites_opened"]
    assert runs["created_by"].iloc[0] == query(pg_url, "SELECT current_user")[0][0]
    settings, sha = query(pg_url, f'SELECT scenario_settings, scenario_sha256 FROM "{schema}".'
                                  "landplan_runs")[0]
    assert settings == scenario.to_dict()
    assert len(sha) == 64
    # the tables are plain PostGIS tables in the result's CRS
    assert query(pg_url, "SELECT srid, type FROM geometry_columns WHERE f_table_schema = %s",
                 (schema,)) == [(4549, "POLYGON")]


def test_runs_without_labels_never_overwrite_each_other(pg_url, schema):
    first = pd.DataFrame({"village_id": ["V1", "V2"], "reclaimable_mu": [10.0, 20.0]})
    second = first.assign(reclaimable_mu=[11.0, 21.0])
    r1 = write_results(pg_url, {"reclaimable": first}, scenario="nanhu_2008", schema=schema)
    r2 = write_results(pg_url, {"reclaimable": second}, scenario="nanhu_2008 变体", schema=schema)
    assert (r1["label"], r2["label"]) == (f"run{r1['run_id']}", f"run{r2['run_id']}")
    assert r2["run_id"] > r1["run_id"]
    assert_frame_equal(read_results(pg_url, r1["label"], schema=schema)["reclaimable"], first)
    assert_frame_equal(read_results(pg_url, r2["label"], schema=schema)["reclaimable"], second)
    scenarios = list_runs(pg_url, schema=schema)["scenario"].tolist()
    assert scenarios == ["nanhu_2008", "nanhu_2008 变体"]


def test_same_label_refused_unless_replace(pg_url, schema):
    old = {"moves": pd.DataFrame({"household_id": ["H1"], "site_id": ["S1"]}),
           "extra": pd.DataFrame({"x": [1]})}
    write_results(pg_url, old, scenario="a", label="plan", schema=schema)
    new = {"moves": pd.DataFrame({"household_id": ["H1", "H2"], "site_id": ["S2", "S2"]})}
    with pytest.raises(TableExistsError, match="run 'plan' exists") as err:
        write_results(pg_url, new, scenario="b", label="plan", schema=schema)
    assert "if_exists='replace'" in str(err.value)
    assert_frame_equal(read_results(pg_url, "plan", schema=schema)["moves"], old["moves"])

    write_results(pg_url, new, scenario="b", label="plan", schema=schema, if_exists="replace")
    back = read_results(pg_url, "plan", schema=schema)
    assert list(back) == ["moves"]
    assert_frame_equal(back["moves"], new["moves"])
    runs = list_runs(pg_url, schema=schema)
    assert runs[["label", "scenario"]].values.tolist() == [["plan", "b"]]
    # the replaced run's table that the new run lacks is gone, not orphaned
    assert tables_in(pg_url, schema) == {"landplan_runs", "plan__moves"}


def test_results_leave_the_project_alone(tiny, pg_url, schema):
    project = Project(tiny)
    write_project_postgis(project, pg_url, schema=schema)
    write_results(pg_url, {"homesteads": flags_frame()}, scenario=load_scenario(), label="s1",
                  schema=schema)
    assert_projects_equal(project, read_project_postgis(pg_url, schema=schema))
    # and replacing the project keeps the runs
    write_project_postgis(project, pg_url, schema=schema, if_exists="replace")
    assert list_runs(pg_url, schema=schema)["label"].tolist() == ["s1"]
    assert "s1__homesteads" in tables_in(pg_url, schema)


@pytest.mark.parametrize("label", ['x"; DROP TABLE landplan_runs; --', "Plan", "a b", "a__b",
                                   "x" * 60])
def test_bad_labels_refused_before_any_sql(pg_url, schema, label):
    with pytest.raises(ValidationError, match="bad_identifier"):
        write_results(pg_url, {"moves": pd.DataFrame({"a": [1]})}, scenario="s", label=label,
                      schema=schema)
    assert not schema_exists(pg_url, schema)


@pytest.mark.parametrize("name", ["moves; DROP TABLE x", "Moves", "两户", "a__b"])
def test_bad_result_names_refused(pg_url, schema, name):
    with pytest.raises(ValidationError, match="bad_identifier"):
        write_results(pg_url, {name: pd.DataFrame({"a": [1]})}, scenario="s", schema=schema)
    assert not schema_exists(pg_url, schema)


def test_columns_that_cannot_be_stored_are_named(pg_url, schema):
    bad = pd.DataFrame({"ok": [1, 2], "mixed": [1, "a"], "fid": [1, 2]})
    with pytest.raises(ValidationError) as err:
        write_results(pg_url, {"bad": bad}, scenario="s", schema=schema)
    text = str(err.value)
    assert "unsupported_dtype" in text and "'mixed'" in text
    assert "reserved_column" in text and "'fid'" in text
    assert not schema_exists(pg_url, schema)


def test_table_in_the_way_with_another_schema(pg_url, schema):
    query(pg_url, f'CREATE SCHEMA "{schema}"')
    query(pg_url, f'CREATE TABLE "{schema}".p1__moves (hh text, site integer)')
    with pytest.raises(ValidationError, match="no landplan run lists it") as err:
        write_results(pg_url, {"moves": pd.DataFrame({"household_id": ["H1"]})}, scenario="s",
                      label="p1", schema=schema, if_exists="replace")
    assert "missing column household_id (text)" in str(err.value)
    assert "unexpected column site (integer)" in str(err.value)
    assert tables_in(pg_url, schema) == {"p1__moves"}


def test_foreign_runs_table_refused(pg_url, schema):
    query(pg_url, f'CREATE SCHEMA "{schema}"')
    query(pg_url, f'CREATE TABLE "{schema}".landplan_runs (id serial, what text)')
    with pytest.raises(ValidationError, match="is not landplan's runs table"):
        write_results(pg_url, {"moves": pd.DataFrame({"a": [1]})}, scenario="s", schema=schema)


def test_failed_results_write_leaves_no_run_and_no_table(pg_url, schema, monkeypatch):
    write_results(pg_url, {"moves": pd.DataFrame({"a": [1]})}, scenario="s", label="kept",
                  schema=schema)
    calls = []
    original = db_tables._write_chunk

    def fail_on_second(copy, columns):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated failure")
        original(copy, columns)

    monkeypatch.setattr(db_tables, "_write_chunk", fail_on_second)
    big = pd.DataFrame({"a": np.arange(10)})
    with pytest.raises(DatabaseError, match="nothing was written"):
        write_results(pg_url, {"moves": big}, scenario="s", label="lost", schema=schema,
                      chunksize=3)
    assert list_runs(pg_url, schema=schema)["label"].tolist() == ["kept"]
    assert tables_in(pg_url, schema) == {"landplan_runs", "kept__moves"}


def test_unknown_run_lists_the_runs_there_are(pg_url, schema):
    write_results(pg_url, {"moves": pd.DataFrame({"a": [1]})}, scenario="s", label="only",
                  schema=schema)
    with pytest.raises(DatabaseError, match="no run 'other'") as err:
        read_results(pg_url, "other", schema=schema)
    assert "only" in str(err.value)
    assert list_runs(pg_url, schema="no_runs_here").empty
