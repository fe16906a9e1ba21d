"""A whole project in PostGIS: one schema, one table per layer, written in one transaction.

Layout of a project schema (``landplan`` by default)::

    towns, villages, households, homesteads, ...   one table per layer
        fid bigint PRIMARY KEY        row order; an identity, so GIS clients can add rows
        <layer key> text UNIQUE       homestead_id, ...
        <columns>                     Chinese headings as column comments
        geometry geometry(TYPE, 4549) GiST-indexed
    landplan_metadata (key, value)    version, CRS, name, time, layers, rasters
    landplan_rasters (name, filename, sha256, content bytea)   GeoTIFFs, byte for byte

Survey results and plans go to tables of their own (:mod:`landplan.db.results`).
Readers and writers of one schema serialise on an advisory lock, so a reader
never sees half of a project being replaced.

Examples
--------
>>> import os
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import box
>>> from landplan.project import Project
>>> from landplan.db import write_project_postgis, read_project_postgis
>>> crs, b = "EPSG:4549", box(500000, 3400000, 501000, 3401000)
>>> project = Project({
...     "towns": gpd.GeoDataFrame({"town_id": ["T1"], "name": ["新丰镇"], "seat_x": [500500.0],
...                                "seat_y": [3400500.0]}, geometry=[b], crs=crs),
...     "villages": gpd.GeoDataFrame({"village_id": ["V1"], "town_id": ["T1"], "name": ["竹林村"]},
...                                  geometry=[b], crs=crs),
...     "households": pd.DataFrame({"household_id": ["H1"], "village_id": ["V1"], "members": [3],
...                                 "residence": ["resident"]}),
...     "homesteads": gpd.GeoDataFrame({"homestead_id": ["Z1"], "household_id": ["H1"],
...                                     "village_id": ["V1"], "landuse_code": ["0702"],
...                                     "status": ["occupied"]},
...                                    geometry=[box(500100, 3400100, 500112, 3400112)], crs=crs)})
>>> url = os.environ["LANDPLAN_TEST_DB"]  # e.g. postgresql://landplan@127.0.0.1:5432/landplan_test
>>> written = write_project_postgis(project, url, schema="doc_project", if_exists="replace")
>>> written["features"].to_dict()
{'towns': 1, 'villages': 1, 'households': 1, 'homesteads': 1}
>>> back = read_project_postgis(url, schema="doc_project")
>>> back["villages"]["name"].tolist(), back.crs.to_epsg()
(['竹林村'], 4549)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import pandas as pd
from tqdm.auto import tqdm

from ..errors import Problem, ValidationError
from ..project import Project
from ..schema import LAYERS
from ..units import WORKING_CRS
from .connection import (DatabaseError, TableExistsError, check_identifier, connect,
                         describe_error, existing_tables, lock_schema, redact_url)
from .tables import FID, column_defs, compare_columns, copy_frame, create_table_sql, read_table, \
    table_columns

__all__ = ["write_project_postgis", "read_project_postgis", "META_TABLE", "RASTER_TABLE"]

log = logging.getLogger(__name__)

META_TABLE = "landplan_metadata"
RASTER_TABLE = "landplan_rasters"
_META_COLUMNS = {"key": "text", "value": "text"}
_RASTER_COLUMNS = {"name": "text", "filename": "text", "sha256": "text", "content": "bytea"}
_IF_EXISTS = ("fail", "replace")


def write_project_postgis(project: Project, url: str, *, schema: str = "landplan",
                          if_exists: str = "fail", chunksize: int = 50_000, rasters: bool = True,
                          progress: bool = False) -> pd.DataFrame:
    """Write a whole project (every layer, its rasters) to a PostGIS schema, in one transaction.

    Parameters
    ----------
    project : Project
        The project to write.
    url : str
        ``postgresql://user@host:port/dbname``. No password in it: libpq takes it
        from ``PGPASSWORD`` or ``~/.pgpass``.
    schema : str
        The schema that holds the project (created when missing). Lower-case
        letters, digits and ``_``.
    if_exists : {"fail", "replace"}
        When the schema already holds a landplan project: refuse (default) or
        replace it (its layer tables, metadata and rasters; result tables stay).
        Tables landplan did not write are never replaced.
    chunksize : int
        Rows sent per chunk; memory holds one chunk of Python values at a time.
    rasters : bool
        Store the project's GeoTIFFs in the ``landplan_rasters`` table.
    progress : bool
        Show a progress bar (features written).

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``table`` (schema-qualified) and ``features`` written.

    Raises
    ------
    landplan.errors.ValidationError
        Bad schema name, columns that cannot be stored, or tables in the schema
        with landplan's names that landplan did not write (naming the differences).
        Raised before anything is written.
    TableExistsError
        The schema holds a landplan project and ``if_exists="fail"``.
    DatabaseError
        Connection refused or lost, permission denied, ...: nothing was written.

    Notes
    -----
    All of it (schema, tables, rows, indexes, metadata) is one transaction: a
    failure or a dropped connection at any point leaves the database as it was.
    A layer mixing Polygon and MultiPolygon is stored as MultiPolygon (one type for
    GIS clients); reading turns the single-part ones back into Polygons.

    Examples
    --------
    See :mod:`landplan.db.projects`.
    """
    if if_exists not in _IF_EXISTS:
        raise ValueError(f"if_exists must be one of {_IF_EXISTS}, not {if_exists!r}")
    if not isinstance(project, Project):
        raise TypeError(f"write_project_postgis takes a landplan Project, not "
                        f"{type(project).__name__}; build one with Project(layers)")
    if int(chunksize) < 1:
        raise ValueError("chunksize must be at least 1")
    check_identifier(schema, what="schema")
    plans, problems = {}, []
    for name, df in project.layers.items():
        defs, p = column_defs(df, layer=name, family=LAYERS[name].geometry)
        problems += p
        plans[name] = defs
    raster_files = dict(project.rasters) if rasters else {}
    for rname, path in raster_files.items():
        if not Path(path).is_file():
            problems.append(Problem("rasters", "missing_file", [rname],
                                    f"raster {rname!r} is not at {path}",
                                    "restore the file, or write with rasters=False"))
    if problems:
        raise ValidationError(problems)

    shown = redact_url(url)
    total = sum(len(df) for df in project.layers.values())
    summary = []
    with connect(url) as conn:
        done = False
        try:
            with conn.transaction():
                lock_schema(conn, schema)
                conn.execute(_sql("CREATE SCHEMA IF NOT EXISTS {}", schema))
                existing = existing_tables(conn, schema)
                owned, meta = _owned_tables(conn, schema, existing)
                targets = set(project.layers) | {META_TABLE, RASTER_TABLE}
                foreign = sorted((targets & existing) - owned)
                if foreign:
                    raise _foreign_tables_error(conn, schema, foreign, plans, shown)
                present = sorted(owned & existing)
                if present and if_exists == "fail":
                    raise TableExistsError(
                        f"schema {schema!r} in {shown} already holds a landplan project "
                        f"{meta.get('name', '?')!r} (written {meta.get('written_at', '?')} by "
                        f"{meta.get('written_by', '?')}; tables {', '.join(present)})\n"
                        "  fix: pass if_exists='replace' to replace it, or write to another "
                        "schema (schema='...')")
                for table in present:
                    conn.execute(_sql("DROP TABLE {}.{}", schema, table))
                with tqdm(total=total, unit="feature", desc="write to PostGIS",
                          disable=not progress) as bar:
                    layers_meta = {}
                    for name, df in project.layers.items():
                        n = _write_layer(conn, schema, name, df, plans[name], chunksize, bar)
                        layers_meta[name] = {"rows": n, "promoted_to_multi": any(
                            d.promote for d in plans[name])}
                        summary.append({"layer": name, "table": f"{schema}.{name}", "features": n})
                t0 = time.perf_counter()
                raster_meta = _write_rasters(conn, schema, raster_files)
                _write_meta(conn, schema, project, layers_meta, raster_meta)
                log.debug("rasters and metadata %.2f s", time.perf_counter() - t0)
                done = True
        except (ValidationError, DatabaseError):
            raise
        except Exception as exc:  # psycopg errors, and anything else: all rolled back
            raise _write_failed(exc, done, shown, schema) from exc
    log.info("wrote project %r (%s features) to schema %r of %s", project.name, f"{total:,}",
             schema, shown)
    return pd.DataFrame(summary).set_index("layer")


def _sql(template: str, *names: str):
    from psycopg import sql
    return sql.SQL(template).format(*(sql.Identifier(n) for n in names))


def _write_failed(exc: BaseException, committing: bool, shown: str, schema: str) -> DatabaseError:
    import psycopg

    what = describe_error(exc)
    if committing:
        return DatabaseError(
            f"the connection to {shown} failed while committing the project to schema {schema!r}: "
            f"{what}\n  the write may or may not have been committed\n"
            "  fix: read the project back (read_project_postgis) to check, and write again "
            "with if_exists='replace' if it is not there")
    lost = isinstance(exc, psycopg.OperationalError)
    head = ("the connection was lost while writing the project" if lost
            else "writing the project failed")
    return DatabaseError(
        f"{head} to schema {schema!r} of {shown}: {what}\n"
        "  nothing was written: the write is one transaction and was rolled back\n"
        "  fix: " + ("check the server and the network, and write again" if lost else
                     "correct the cause above and write again"))


def _owned_tables(conn, schema: str, existing: set[str]) -> tuple[set[str], dict]:
    """Tables of ``schema`` that a landplan project write made (from its metadata)."""
    if META_TABLE not in existing:
        return set(), {}
    cols = table_columns(conn, schema, META_TABLE)
    diffs = compare_columns(cols, _META_COLUMNS)
    if diffs:
        raise ValidationError([Problem(
            f"{schema}.{META_TABLE}", "table_mismatch", [],
            f"table {schema}.{META_TABLE} exists but is not landplan's metadata table: "
            + "; ".join(diffs),
            "write the project to another schema, or rename that table")])
    meta = _read_meta(conn, schema)
    owned = {META_TABLE} | set(meta.get("layers", {}))
    if RASTER_TABLE in existing and not compare_columns(
            table_columns(conn, schema, RASTER_TABLE), _RASTER_COLUMNS):
        owned.add(RASTER_TABLE)
    return owned, meta


def _read_meta(conn, schema: str) -> dict:
    from psycopg import sql

    rows = conn.execute(sql.SQL("SELECT key, value FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(META_TABLE))).fetchall()
    meta = {}
    for key, value in rows:
        if key in ("layers", "rasters"):
            try:
                value = json.loads(value)
            except (TypeError, ValueError):
                value = {}
        meta[key] = value
    return meta


def _foreign_tables_error(conn, schema, tables, plans, shown) -> ValidationError:
    problems = []
    for table in tables:
        actual = table_columns(conn, schema, table)
        if table in plans:
            expected = {FID: "bigint", **{d.name: d.sql_type for d in plans[table]}}
            what = f"landplan's {table} layer"
        elif table == META_TABLE:
            expected, what = _META_COLUMNS, "landplan's metadata table"
        else:
            expected, what = _RASTER_COLUMNS, "landplan's raster table"
        diffs = compare_columns(actual, expected)
        detail = "; ".join(diffs[:12])
        if len(diffs) > 12:
            detail += f"; and {len(diffs) - 12} more"
        if not diffs:
            detail = "its columns match, but no landplan metadata lists it"
        problems.append(Problem(
            f"{schema}.{table}", "table_exists_with_other_schema", [],
            f"table {schema}.{table} in {shown} exists and was not written by landplan; its "
            f"columns differ from {what}: {detail}",
            "write the project to another schema (schema='...'), or rename or drop that table "
            "yourself if it is no longer needed; landplan never replaces a table it did not write"))
    return ValidationError(problems,
                           header=f"{len(problems)} table(s) in the way; nothing was written:")


def _write_layer(conn, schema, name, df, defs, chunksize, bar) -> int:
    from psycopg import sql

    spec = LAYERS[name]
    t0 = time.perf_counter()
    conn.execute(create_table_sql(schema, name, defs))
    stored = copy_frame(conn, schema, name, df, defs, chunksize=chunksize, bar=bar)
    t1 = time.perf_counter()
    if stored != len(df):
        raise DatabaseError(f"layer {name}: the server stored {stored} of {len(df)} rows")
    table = sql.Identifier(schema, name)
    if spec.key in df.columns:
        conn.execute(sql.SQL("ALTER TABLE {} ADD UNIQUE ({})").format(
            table, sql.Identifier(spec.key)))
    for d in defs:
        if d.kind == "geometry":
            conn.execute(sql.SQL("CREATE INDEX ON {} USING gist ({})").format(
                table, sql.Identifier(d.name)))
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        table, sql.Literal(f"{spec.zh} {name}: {spec.description} (landplan)")))
    zh = spec.zh_names
    for d in defs:
        if d.name in zh:
            conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                table, sql.Identifier(d.name), sql.Literal(zh[d.name])))
    conn.execute(sql.SQL("ANALYZE {}").format(table))
    log.debug("wrote %s: %d rows, copy %.2f s, indexes and statistics %.2f s", name, stored,
              t1 - t0, time.perf_counter() - t1)
    return stored


def _write_rasters(conn, schema: str, files: Mapping[str, Path]) -> dict:
    from psycopg import sql

    table = sql.Identifier(schema, RASTER_TABLE)
    conn.execute(sql.SQL("CREATE TABLE {} (name text PRIMARY KEY, filename text NOT NULL, "
                         "sha256 text NOT NULL, content bytea NOT NULL)").format(table))
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        table, sql.Literal("栅格 rasters: the project's GeoTIFFs, byte for byte (landplan)")))
    out = {}
    for rname, path in files.items():
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        conn.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(table),
                     (rname, Path(path).name, digest, data))
        out[rname] = {"filename": Path(path).name, "sha256": digest, "bytes": len(data)}
    return out


def _write_meta(conn, schema: str, project: Project, layers_meta: dict, raster_meta: dict) -> None:
    from psycopg import sql

    from .. import __version__

    table = sql.Identifier(schema, META_TABLE)
    conn.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text)").format(table))
    user = conn.execute("SELECT current_user").fetchone()[0]
    rows = [("landplan_version", __version__), ("crs", WORKING_CRS), ("name", project.name),
            ("written_at", datetime.now(timezone.utc).isoformat(timespec="seconds")),
            ("written_by", user),
            ("layers", json.dumps(layers_meta, ensure_ascii=False)),
            ("rasters", json.dumps(raster_meta, ensure_ascii=False))]
    with conn.cursor() as cur:
        cur.executemany(sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(table), rows)
    conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        table, sql.Literal("landplan project metadata 项目元数据")))


def read_project_postgis(url: str, *, schema: str = "landplan",
                         tables: Mapping[str, str] | None = None,
                         mapping: Mapping[str, Mapping[str, str]] | None = None,
                         rasters: bool = True, raster_dir: str | Path | None = None,
                         validate: bool = True, repair: bool = False, chunksize: int = 50_000,
                         name: str | None = None, progress: bool = False) -> Project:
    """Read a project from a PostGIS schema: one written by :func:`write_project_postgis`,
    or a county's own tables.

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/dbname``, without a password
        (``PGPASSWORD`` or ``~/.pgpass``).
    schema : str
        The schema to read.
    tables : dict, optional
        Layer -> table name, for tables not named after the layers (a county's own
        ``{"homesteads": "zjd"}``). Without a landplan metadata table and without
        ``tables``, every table named after a layer is read.
    mapping : dict, optional
        Per layer, your column name -> landplan's (``{"homesteads": {"zjdbh": "homestead_id"}}``).
    rasters : bool
        Materialise the stored GeoTIFFs as files (see ``raster_dir``).
    raster_dir : str or Path, optional
        Where to put them; default a cache folder per file content
        (``$XDG_CACHE_HOME/landplan/rasters/<sha256>/``, else ``~/.cache/...``).
    validate, repair : bool
        As for :class:`~landplan.project.Project`: the layers are validated and
        their dtypes restored from the schema (ids as text).
    chunksize : int
        Rows per streamed chunk.
    name : str, optional
        Project name; default the stored one, or the schema name.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Project

    Raises
    ------
    landplan.errors.ValidationError
        Bad names, or layers that break the data contract (from :class:`Project`).
    DatabaseError
        No such schema or table, connection problems.

    Examples
    --------
    See :mod:`landplan.db.projects`.
    """
    check_identifier(schema, what="schema", create=False)
    for layer, table in (tables or {}).items():
        if layer not in LAYERS:
            raise ValidationError([Problem(layer, "unknown_layer", [table],
                                           f"{layer!r} is not a landplan layer",
                                           f"name it one of: {', '.join(LAYERS)}")])
        check_identifier(table, what="table", create=False)
    shown = redact_url(url)
    layers: dict[str, pd.DataFrame] = {}
    raster_paths: dict[str, Path] = {}
    with connect(url) as conn:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                lock_schema(conn, schema, shared=True)
                existing = existing_tables(conn, schema)
                if not existing and not _schema_exists(conn, schema):
                    raise DatabaseError(
                        f"there is no schema {schema!r} in {shown}\n  fix: check the name; "
                        f"schemas there holding a landplan project: "
                        f"{', '.join(_project_schemas(conn)) or 'none'}")
                owned, meta = _owned_tables(conn, schema, existing)
                if tables:
                    wanted = dict(tables)
                elif meta:
                    wanted = {layer: layer for layer in meta.get("layers", {})}
                else:
                    wanted = {layer: layer for layer in LAYERS if layer in existing}
                missing = sorted(t for t in wanted.values() if t not in existing)
                if missing:
                    raise DatabaseError(
                        f"schema {schema!r} of {shown} has no table(s) {', '.join(missing)}"
                        f"{' (listed in its landplan metadata)' if meta and not tables else ''}\n"
                        f"  fix: check the table names; the schema has: "
                        f"{', '.join(sorted(existing)) or 'no tables'}")
                if not wanted:
                    raise DatabaseError(
                        f"schema {schema!r} of {shown} holds no landplan layers (tables named "
                        f"{', '.join(LAYERS)}) and no landplan metadata\n  fix: pass "
                        "tables={'homesteads': 'your_table', ...} to name your tables")
                layer_meta = meta.get("layers", {}) if meta else {}
                total = sum(int(v.get("rows", 0)) for v in layer_meta.values()) or None
                with tqdm(total=total, unit="feature", desc="read from PostGIS",
                          disable=not progress) as bar:
                    for layer, table in wanted.items():
                        ours = table in owned
                        key = LAYERS[layer].key
                        df = read_table(conn, schema, table, order_by=FID if ours else key,
                                        drop=(FID,) if ours else (), chunksize=chunksize,
                                        demote=bool(layer_meta.get(layer, {}).get(
                                            "promoted_to_multi")) if ours else False, bar=bar)
                        if mapping and mapping.get(layer):
                            unknown = [c for c in mapping[layer] if c not in df.columns]
                            if unknown:
                                raise ValidationError([Problem(
                                    layer, "mapping_column_missing", unknown,
                                    f"the column mapping names columns that {schema}.{table} "
                                    f"does not have (it has: {', '.join(map(str, df.columns))})",
                                    "correct the mapping's source names")])
                            df = df.rename(columns=dict(mapping[layer]))
                        layers[layer] = df
                if rasters and RASTER_TABLE in owned:
                    raster_paths = _read_rasters(conn, schema, raster_dir)
        except (ValidationError, DatabaseError):
            raise
        except Exception as exc:
            raise DatabaseError(f"reading schema {schema!r} of {shown} failed: "
                                f"{describe_error(exc)}\n  fix: check the server and read again"
                                ) from exc
    log.info("read %s from schema %r of %s",
             ", ".join(f"{len(v):,} {k}" for k, v in layers.items()), schema, shown)
    return Project(layers, rasters=raster_paths, name=name or meta.get("name") or schema,
                   validate=validate, repair=repair)


def _schema_exists(conn, schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() \
        is not None


def _project_schemas(conn) -> list[str]:
    rows = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s ORDER BY 1", (META_TABLE,)).fetchall()
    return [r[0] for r in rows]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "landplan" / "rasters"


def _read_rasters(conn, schema: str, raster_dir) -> dict[str, Path]:
    from psycopg import sql

    table = sql.Identifier(schema, RASTER_TABLE)
    out = {}
    names = conn.execute(sql.SQL("SELECT name, filename, sha256 FROM {} ORDER BY name").format(
        table)).fetchall()
    for rname, filename, digest in names:
        folder = Path(raster_dir) if raster_dir is not None else _cache_root() / digest
        folder.mkdir(parents=True, exist_ok=True)
        safe = Path(str(filename)).name or f"{rname}.tif"
        target = folder / (safe if raster_dir is None else f"{Path(str(rname)).name}.tif")
        if not (target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest):
            data = conn.execute(sql.SQL("SELECT content FROM {} WHERE name = %s").format(table),
                                (rname,)).fetchone()[0]
            tmp = target.with_name(f".{target.name}.part")
            tmp.write_bytes(bytes(data))
            os.replace(tmp, target)
        out[rname] = target
    return out
