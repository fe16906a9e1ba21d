"""PostGIS: the county's shared project database.

A GeoPackage is the default home of a project; a county GIS office keeps its
layers in a shared PostgreSQL/PostGIS database instead. This package reads and
writes a whole project there, and keeps survey results and plans in tables of
their own, each run recorded with its scenario and time.

- :func:`write_project_postgis`, :func:`read_project_postgis` -- a whole project,
  one schema (:mod:`landplan.db.projects`)
- :func:`write_results`, :func:`read_results`, :func:`list_runs` -- result tables
  per run (:mod:`landplan.db.results`)
- :mod:`landplan.db.connection` -- URLs without passwords, safe names, errors
- :mod:`landplan.db.tables` -- one frame to one table by streamed binary COPY

Connection URLs look like ``postgresql://user@host:5432/dbname`` and carry no
password: libpq reads it from ``PGPASSWORD`` or a pgpass file (``~/.pgpass``).
Needs the ``db`` extra: ``psycopg[binary]`` (SQLAlchemy and GeoAlchemy2 only for
``geopandas.to_postgis``, which landplan does not use).

Examples
--------
>>> from landplan.db import is_postgres_url
>>> is_postgres_url("postgresql://landplan@127.0.0.1:5432/landplan_test")
True
"""

from .connection import (DatabaseError, TableExistsError, check_identifier, is_postgres_url,
                         redact_url)
from .projects import read_project_postgis, write_project_postgis
from .results import list_runs, read_results, write_results

__all__ = ["write_project_postgis", "read_project_postgis", "write_results", "read_results",
           "list_runs", "DatabaseError", "TableExistsError", "is_postgres_url", "redact_url",
           "check_identifier"]
