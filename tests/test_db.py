"""A whole project in a real PostgreSQL/PostGIS (started by tools/postgis.sh), no mock.

The database comes from LANDPLAN_TEST_DB (``export LANDPLAN_TEST_DB=$(bash tools/postgis.sh)``).
Unset or unreachable, every test here FAILS: a database that cannot start must not pass
as skipped tests. Each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal
from shapely.geometry import MultiPolygon, box

import landplan.db.tables as db_tables
from landplan.db import (DatabaseError, TableExistsError, read_project_postgis,
                         write_project_postgis)
from landplan.db.connection import connect, redact_url
from landplan.errors import ValidationError
from landplan.project import Project

pytestmark = pytest.mark.postgis

HOW = ("run `export LANDPLAN_TEST_DB=$(bash tools/postgis.sh)` first (as root it installs "
       "Debian's postgresql and postgis and starts them on 127.0.0.1)")


# fixtures (test_db_results.py imports them) ---------------------------------------------
@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("LANDPLAN_TEST_DB")
    if not url:
        pytest.fail(f"LANDPLAN_TEST_DB is not set: the PostGIS tests need a database; {HOW}",
                    pytrace=False)
    try:
        with connect(url) as conn:
            conn.execute("SELECT postgis_version()")
    except Exception as exc:  # fail, never skip
        pytest.fail(f"the PostGIS test database {redact_url(url)} is not usable: {exc}\n{HOW}",
                    pytrace=False)
    return url


@pytest.fixture
def schema(pg_url):
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with connect(pg_url) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def query(url: str, sql: str, params=()) -> list[tuple]:
    """Run one statement in its own connection and return its rows."""
    with connect(url) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def tables_in(url: str, schema: str) -> set[str]:
    return {r[0] for r in query(url, "SELECT table_name FROM information_schema.tables "
                                     "WHERE table_schema = %s", (schema,))}


def schema_exists(url: str, schema: str) -> bool:
    return bool(query(url, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)))


def assert_projects_equal(a: Project, b: Project) -> None:
    assert list(a.layers) == list(b.layers)
    for name in a.layers:
        left, right = a[name], b[name]
        if isinstance(left, gpd.GeoDataFrame):
            assert_geodataframe_equal(left, right, check_less_precise=False)
        else:
            assert type(right) is pd.DataFrame
            assert_frame_equal(left, right)


# round trips ------------------------------------------------------------------------------
def test_round_trip_keeps_every_layer_id_text_and_crs(tiny, pg_url, schema):
    project = Project(tiny, name="两镇测试")
    written = write_project_postgis(project, pg_url, schema=schema)
    assert written["features"].to_dict() == {k: len(v) for k, v in project.layers.items()}
    back = read_project_postgis(pg_url, schema=schema)
    assert_projects_equal(project, back)
    assert back.name == "两镇测试"
    assert back.crs.to_epsg() == 4549
    # Chinese text and markup come back byte for byte; ids stay text with their leading letters
    assert back["villages"].set_index("village_id").loc["T1V2", "name"] == "<b>东港村</b>"
    assert back["roads"]["name"].iloc[0] == "南湖大道" and pd.isna(back["roads"]["name"].iloc[1])
    assert back["households"]["registered_homestead_id"].dtype == "str"
    # nullable columns: nulls stay nulls, not 0 or False
    assert back["farmland"]["transfer_start_year"].isna().sum() == \
        project["farmland"]["transfer_start_year"].isna().sum() == 12


def test_tables_are_plain_postgis_for_gis_clients(tiny, pg_url, schema):
    write_project_postgis(Project(tiny), pg_url, schema=schema)
    geoms = dict((r[0], (r[1], r[2])) for r in query(
        pg_url, "SELECT f_table_name, srid, type FROM geometry_columns WHERE f_table_schema = %s",
        (schema,)))
    assert geoms["homesteads"] == (4549, "POLYGON")
    assert geoms["roads"] == (4549, "LINESTRING")
    assert geoms["facilities"] == (4549, "POINT")
    assert "households" not in geoms
    # Chinese headings as column comments, an integer primary key, a unique id, a spatial index
    comment = query(pg_url, "SELECT col_description(%s::regclass, 2)", (f'"{schema}".homesteads',))
    assert comment == [("宅基地编号",)]
    cons = {r[0] for r in query(pg_url, "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                        "WHERE conrelid = %s::regclass",
                                (f'"{schema}".homesteads',))}
    assert cons == {"PRIMARY KEY (fid)", "UNIQUE (homestead_id)"}
    idx = query(pg_url, "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = "
                        "'homesteads'", (schema,))
    assert any("USING gist (geometry)" in r[0] for r in idx)
    # and geopandas reads our table as any PostGIS table
    import sqlalchemy
    engine = sqlalchemy.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        gdf = gpd.read_postgis(f'SELECT homestead_id, geometry FROM "{schema}".homesteads '
                               "ORDER BY fid", engine, geom_col="geometry")
    finally:
        engine.dispose()
    assert gdf.crs.to_epsg() == 4549
    assert gdf.geometry.geom_equals(Project(tiny)["homesteads"].geometry).all()


def test_mixed_polygon_and_multipolygon_one_column_type_and_back(tiny, pg_url, schema):
    two = MultiPolygon([box(500200, 3400500, 500212, 3400512),
                        box(500220, 3400500, 500232, 3400512)])
    one = MultiPolygon([box(500300, 3400500, 500312, 3400512)])
    geoms = tiny["homesteads"].geometry.copy()
    geoms.iloc[0], geoms.iloc[1] = two, one
    tiny["homesteads"] = tiny["homesteads"].set_geometry(geoms)
    project = Project(tiny)
    write_project_postgis(project, pg_url, schema=schema)
    kinds = query(pg_url, "SELECT type FROM geometry_columns WHERE f_table_schema = %s AND "
                          "f_table_name = 'homesteads'", (schema,))
    assert kinds == [("MULTIPOLYGON",)]
    back = read_project_postgis(pg_url, schema=schema)["homesteads"]
    assert back.geom_type.iloc[0] == "MultiPolygon"
    assert back.geometry.iloc[0].equals(two)
    # a one-part multi comes back as the polygon it is; every other row unchanged
    assert back.geometry.iloc[1].equals(one.geoms[0])
    assert (back.geom_type.iloc[2:] == "Polygon").all()
    rest = project["homesteads"].geometry.iloc[2:]
    assert back.geometry.iloc[2:].geom_equals_exact(rest, 0).all()


def test_extra_columns_with_chinese_names_and_timestamps_survive(tiny, pg_url, schema):
    hs = tiny["homesteads"]
    hs["备注"] = ["说明" + str(i) if i % 3 else None for i in range(len(hs))]
    hs["surveyed"] = pd.Timestamp("2008-03-01 09:30:15.250")
    hs["area_check"] = np.linspace(100.0, 200.0, len(hs))
    project = Project(tiny)
    write_project_postgis(project, pg_url, schema=schema)
    back = read_project_postgis(pg_url, schema=schema)["homesteads"]
    assert_geodataframe_equal(back, project["homesteads"])


def test_small_chunks_give_the_same_project(tiny, pg_url, schema):
    project = Project(tiny)
    write_project_postgis(project, pg_url, schema=schema, chunksize=4)
    back = read_project_postgis(pg_url, schema=schema, chunksize=3)
    assert_projects_equal(project, back)


def test_rasters_travel_byte_for_byte(tiny, pg_url, schema, tmp_path, monkeypatch):
    import rasterio
    from affine import Affine

    tif = tmp_path / "elevation.tif"
    data = (np.arange(20 * 30, dtype="float32").reshape(20, 30) / 100.0)
    with rasterio.open(tif, "w", driver="GTiff", width=30, height=20, count=1, dtype="float32",
                       crs="EPSG:4549", transform=Affine(10, 0, 500000, 0, -10, 3402000)) as dst:
        dst.write(data, 1)
    project = Project(tiny, rasters={"elevation": tif})
    write_project_postgis(project, pg_url, schema=schema)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    back = read_project_postgis(pg_url, schema=schema)
    path = back.rasters["elevation"]
    assert path.read_bytes() == tif.read_bytes()
    assert str(path).startswith(str(tmp_path / "cache"))
    chosen = read_project_postgis(pg_url, schema=schema, raster_dir=tmp_path / "mine")
    assert chosen.rasters["elevation"] == tmp_path / "mine" / "elevation.tif"
    with rasterio.open(chosen.rasters["elevation"]) as src:
        assert np.array_equal(src.read(1), data)
    assert read_project_postgis(pg_url, schema=schema, rasters=False).rasters == {}


# never over existing data unless asked -----------------------------------------------------
def test_second_write_refused_and_first_project_intact(tiny, pg_url, schema):
    first = Project(tiny, name="first")
    write_project_postgis(first, pg_url, schema=schema)
    other = dict(tiny)
    other["villages"] = tiny["villages"].assign(name=["甲村", "乙村", "丙村"])
    with pytest.raises(TableExistsError, match="already holds a landplan project 'first'") as err:
        write_project_postgis(Project(other), pg_url, schema=schema)
    assert "if_exists='replace'" in str(err.value)
    assert_projects_equal(first, read_project_postgis(pg_url, schema=schema))


def test_replace_replaces_and_drops_layers_the_new_project_lacks(tiny, pg_url, schema):
    write_project_postgis(Project(tiny), pg_url, schema=schema)
    second = {k: v for k, v in tiny.items() if k not in ("roads", "water")}
    second["villages"] = tiny["villages"].assign(name=["甲村", "乙村", "丙村"])
    new = Project(second, name="second")
    write_project_postgis(new, pg_url, schema=schema, if_exists="replace")
    back = read_project_postgis(pg_url, schema=schema)
    assert_projects_equal(new, back)
    assert "roads" not in back and "roads" not in tables_in(pg_url, schema)


def test_table_with_another_schema_is_refused_and_left_alone(tiny, pg_url, schema):
    query(pg_url, f'CREATE SCHEMA "{schema}"')
    query(pg_url, f'CREATE TABLE "{schema}".homesteads (zjdbh text, mj double precision)')
    query(pg_url, f"INSERT INTO \"{schema}\".homesteads VALUES ('330402001', 150.5)")
    for mode in ("fail", "replace"):
        with pytest.raises(ValidationError) as err:
            write_project_postgis(Project(tiny), pg_url, schema=schema, if_exists=mode)
        text = str(err.value)
        assert f"{schema}.homesteads" in text and "was not written by landplan" in text
        assert "missing column homestead_id (text)" in text
        assert "unexpected column zjdbh (text)" in text
        assert "nothing was written" in text
    # the county's table is untouched and nothing of ours was left behind
    assert query(pg_url, f'SELECT zjdbh, mj FROM "{schema}".homesteads') == [("330402001", 150.5)]
    assert tables_in(pg_url, schema) == {"homesteads"}


def test_foreign_metadata_table_is_refused(tiny, pg_url, schema):
    query(pg_url, f'CREATE SCHEMA "{schema}"')
    query(pg_url, f'CREATE TABLE "{schema}".landplan_metadata (id integer)')
    with pytest.raises(ValidationError, match="not landplan's metadata table"):
        write_project_postgis(Project(tiny), pg_url, schema=schema, if_exists="replace")
    assert tables_in(pg_url, schema) == {"landplan_metadata"}


# names with quotes or SQL ------------------------------------------------------------------
BAD_NAMES = ['landplan"; DROP SCHEMA public CASCADE; --', "x'); DELETE FROM towns; --",
             "Robert Tables", "pg_catalog", "a" * 64, "", "1abc", "新丰镇", "homesteads\x00"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_schema_names_are_refused_before_any_sql(tiny, pg_url, name):
    project = Project(tiny)
    before = query(pg_url, "SELECT nspname FROM pg_namespace ORDER BY 1")
    # an unreachable server: refusing must happen before connecting at all
    for url in ("postgresql://nobody@127.0.0.1:1/nowhere", pg_url):
        with pytest.raises(ValidationError, match="bad_identifier") as err:
            write_project_postgis(project, url, schema=name)
        assert "schema name" in str(err.value) and "fix:" in str(err.value)
        with pytest.raises(ValidationError, match="bad_identifier"):
            read_project_postgis(url, schema=name)
    assert query(pg_url, "SELECT nspname FROM pg_namespace ORDER BY 1") == before


def test_table_names_for_reading_are_checked_too(pg_url, schema):
    with pytest.raises(ValidationError, match="bad_identifier"):
        read_project_postgis(pg_url, schema=schema, tables={"homesteads": 'zjd"; DROP TABLE x; --'})


def test_nul_characters_refused_naming_layer_and_rows(tiny, pg_url, schema):
    tiny["villages"].loc[0, "name"] = "竹\x00林村"
    with pytest.raises(ValidationError) as err:
        write_project_postgis(Project(tiny), pg_url, schema=schema)
    assert "[villages] nul_in_text" in str(err.value) and "rows: T1V1" in str(err.value)
    assert not schema_exists(pg_url, schema)


# passwords ----------------------------------------------------------------------------------
def test_wrong_password_error_names_the_fix_and_never_the_password(pg_url, tmp_path, monkeypatch,
                                                                   caplog):
    secret = "wrong-密码-8c1f3a"
    monkeypatch.setenv("PGPASSWORD", secret)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DatabaseError) as err:
        read_project_postgis(pg_url, schema="landplan")
    text = str(err.value)
    assert secret not in text and secret not in caplog.text
    assert "password" in text and "PGPASSWORD" in text and ".pgpass" in text
    assert redact_url(pg_url) in text


def test_password_from_pgpass_file_is_used(pg_url, tmp_path, monkeypatch, tiny, schema):
    # the suite's own connection goes through the pgpass file tools/postgis.sh wrote: prove
    # that no PGPASSWORD is involved by removing it
    monkeypatch.delenv("PGPASSWORD", raising=False)
    write_project_postgis(Project(tiny), pg_url, schema=schema)
    assert "households" in read_project_postgis(pg_url, schema=schema)


def test_unreachable_server_says_how_to_start_one(tiny):
    with pytest.raises(DatabaseError, match="could not connect") as err:
        write_project_postgis(Project(tiny), "postgresql://landplan@127.0.0.1:1/landplan_test",
                              schema="landplan")
    assert "tools/postgis.sh" in str(err.value)


def test_missing_schema_lists_the_project_schemas(tiny, pg_url, schema):
    write_project_postgis(Project(tiny), pg_url, schema=schema)
    with pytest.raises(DatabaseError, match="there is no schema 'no_such_schema'") as err:
        read_project_postgis(pg_url, schema="no_such_schema")
    assert schema in str(err.value)


def test_rows_added_by_a_gis_client_are_read_back(tiny, pg_url, schema):
    """County staff edit the shared tables in QGIS/ArcGIS: an INSERT without fid just works."""
    write_project_postgis(Project(tiny), pg_url, schema=schema)
    query(pg_url, f'INSERT INTO "{schema}".homesteads (homestead_id, household_id, village_id, '
                  "landuse_code, status, vacant_since, geometry) VALUES ('T1V1Z099', NULL, "
                  "'T1V1', '0702', 'vacant', 2005, ST_GeomFromText('POLYGON((500300 3400600, "
                  "500312 3400600, 500312 3400612, 500300 3400612, 500300 3400600))', 4549))")
    hs = read_project_postgis(pg_url, schema=schema)["homesteads"]
    assert len(hs) == len(tiny["homesteads"]) + 1
    last = hs.iloc[-1]
    assert (last["homestead_id"], last["status"]) == ("T1V1Z099", "vacant")
    assert last["vacant_since"] == 2005
    assert pd.isna(last["household_id"]) and last.geometry.area == 144.0


def test_a_reader_never_sees_half_a_replacement(tiny, pg_url, schema, monkeypatch):
    import threading
    import time

    old = Project(tiny, name="old")
    write_project_postgis(old, pg_url, schema=schema)
    new_layers = dict(tiny)
    new_layers["villages"] = tiny["villages"].assign(name=["甲村", "乙村", "丙村"])
    new = Project(new_layers, name="new")

    halfway, release = threading.Event(), threading.Event()
    original = db_tables._write_chunk

    def pause_in_homesteads(copy, columns):
        original(copy, columns)
        if columns[1][0] == "T1V1Z000":  # homesteads' first chunk: towns, villages already replaced
            halfway.set()
            release.wait(30)

    monkeypatch.setattr(db_tables, "_write_chunk", pause_in_homesteads)
    results = {}
    writer = threading.Thread(target=lambda: results.setdefault("write", write_project_postgis(
        new, pg_url, schema=schema, if_exists="replace")))
    reader = threading.Thread(target=lambda: results.setdefault(
        "read", read_project_postgis(pg_url, schema=schema)))
    writer.start()
    assert halfway.wait(30)
    reader.start()
    time.sleep(1.0)
    assert reader.is_alive(), "the reader must wait for the writer's transaction"
    release.set()
    writer.join(30)
    reader.join(30)
    assert_projects_equal(new, results["read"])
    assert results["read"].name == "new"


# one transaction ---------------------------------------------------------------------------
def _kill_after(n_chunks: int, pg_url: str, monkeypatch) -> list:
    """Make the writer's connection die after ``n_chunks`` chunks have been sent."""
    import psycopg

    sent = []
    original = db_tables._write_chunk

    def write_then_kill(copy, columns):
        original(copy, columns)
        sent.append(len(columns[0]))
        if len(sent) == n_chunks:
            with psycopg.connect(pg_url, autocommit=True, application_name="landplan_killer") as k:
                pids = [r[0] for r in k.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'landplan' "
                    "AND datname = current_database() AND query LIKE 'COPY %FROM STDIN%'"
                ).fetchall()]
                assert len(pids) == 1, pids
                assert k.execute("SELECT pg_terminate_backend(%s, 5000)", (pids[0],)).fetchone()[0]

    monkeypatch.setattr(db_tables, "_write_chunk", write_then_kill)
    return sent


def test_connection_dropped_mid_write_leaves_nothing(tiny, pg_url, schema, monkeypatch):
    sent = _kill_after(3, pg_url, monkeypatch)
    with pytest.raises(DatabaseError) as err:
        write_project_postgis(Project(tiny), pg_url, schema=schema, chunksize=2)
    assert len(sent) == 3
    assert "nothing was written" in str(err.value) and "rolled back" in str(err.value)
    assert not schema_exists(pg_url, schema)


def test_connection_dropped_while_replacing_keeps_the_old_project(tiny, pg_url, schema,
                                                                  monkeypatch):
    old = Project(tiny, name="old")
    write_project_postgis(old, pg_url, schema=schema)
    new = dict(tiny)
    new["villages"] = tiny["villages"].assign(name=["甲村", "乙村", "丙村"])
    _kill_after(7, pg_url, monkeypatch)  # deep into the layers, after the old tables were dropped
    with pytest.raises(DatabaseError, match="nothing was written"):
        write_project_postgis(Project(new), pg_url, schema=schema, if_exists="replace",
                              chunksize=2)
    monkeypatch.undo()
    back = read_project_postgis(pg_url, schema=schema)
    assert back.name == "old"
    assert_projects_equal(old, back)


def test_failure_inside_the_write_rolls_everything_back(tiny, pg_url, schema, monkeypatch):
    calls = []
    original = db_tables._write_chunk

    def fail_on_fifth(copy, columns):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("disk full (simulated)")
        original(copy, columns)

    monkeypatch.setattr(db_tables, "_write_chunk", fail_on_fifth)
    with pytest.raises(DatabaseError, match="disk full") as err:
        write_project_postgis(Project(tiny), pg_url, schema=schema, chunksize=3)
    assert "nothing was written" in str(err.value)
    assert not schema_exists(pg_url, schema)


# a county's own tables ------------------------------------------------------------------------
def test_read_county_tables_with_names_and_columns_of_their_own(tiny, pg_url, schema):
    """Tables another tool wrote (here geopandas), in geographic CGCS2000, with county names."""
    import sqlalchemy

    project = Project(tiny)
    county = {
        "zhen": project["towns"].to_crs("EPSG:4490").rename(columns={"town_id": "zhen_dm"}),
        "cun": project["villages"].to_crs("EPSG:4490").rename(columns={"village_id": "cun_dm",
                                                                      "town_id": "zhen_dm"}),
        "nonghu": project["households"],
        "zjd": project["homesteads"].to_crs("EPSG:4490").rename(columns={"homestead_id": "ZJDBH"}),
    }
    engine = sqlalchemy.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        for table, df in county.items():
            if isinstance(df, gpd.GeoDataFrame):
                df.to_postgis(table, engine, schema=schema)
            else:
                df.to_sql(table, engine, schema=schema, index=False)
    finally:
        engine.dispose()
    back = read_project_postgis(
        pg_url, schema=schema,
        tables={"towns": "zhen", "villages": "cun", "households": "nonghu", "homesteads": "zjd"},
        mapping={"towns": {"zhen_dm": "town_id"},
                 "villages": {"cun_dm": "village_id", "zhen_dm": "town_id"},
                 "homesteads": {"ZJDBH": "homestead_id"}})
    assert back.reprojected == {"towns": "EPSG:4490", "villages": "EPSG:4490",
                                "homesteads": "EPSG:4490"}
    hs = back["homesteads"]
    assert hs["homestead_id"].tolist() == project["homesteads"]["homestead_id"].tolist()
    assert np.allclose(hs.area, project["homesteads"].area, rtol=1e-6)
    assert back["villages"]["name"].tolist() == ["竹林村", "<b>东港村</b>", "凤桥村"]


def test_county_tables_that_break_the_contract_get_the_projects_errors(tiny, pg_url, schema):
    project = Project(tiny)
    write_project_postgis(project, pg_url, schema=schema)
    query(pg_url, f'ALTER TABLE "{schema}".homesteads RENAME COLUMN status TO zt')
    with pytest.raises(ValidationError) as err:
        read_project_postgis(pg_url, schema=schema)
    assert "[homesteads] missing_column" in str(err.value)
    assert "status" in str(err.value)


def test_write_sample_project_and_read_it_back(pg_url, schema):
    from landplan.datasets import sample_path

    project = Project.read(sample_path())
    write_project_postgis(project, pg_url, schema=schema)
    back = read_project_postgis(pg_url, schema=schema)
    assert_projects_equal(project, back)
    for name, path in project.rasters.items():
        assert hashlib.sha256(back.rasters[name].read_bytes()).digest() == \
            hashlib.sha256(path.read_bytes()).digest()


def test_project_read_and_cli_accept_a_url(pg_url, schema, tiny, capsys):
    from landplan.cli import main
    project = Project(tiny)
    project.to_postgis(pg_url, schema=schema)
    back = Project.read(pg_url, schema=schema)
    assert back["homesteads"]["homestead_id"].tolist() == project["homesteads"]["homestead_id"].tolist()
    assert main(["validate", pg_url, "--schema", schema, "--quiet"]) == 0
    assert "valid" in capsys.readouterr().out


def test_cli_refuses_a_password_in_the_url(capsys):
    from landplan.cli import main
    code = main(["validate", "postgresql://landplan:s3cret@127.0.0.1:5432/x", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "s3cret" not in err and "PGPASSWORD" in err
