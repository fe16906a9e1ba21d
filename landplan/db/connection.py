"""Connections to PostgreSQL/PostGIS: URLs without passwords, safe names, clear errors.

The password never travels in a URL: libpq reads it from ``PGPASSWORD`` or from a
pgpass file (``~/.pgpass``, or the file ``PGPASSFILE`` names; one line
``host:port:database:user:password``, mode 600). A URL that carries one is refused
(its password replaced by ``***`` in the message), so that it lands in no shell
history, notebook, log or error message.

Every schema and table name is checked against a strict pattern before any SQL
runs, and every name that reaches SQL is quoted by :mod:`psycopg.sql`.

Examples
--------
>>> from landplan.db.connection import redact_url, check_identifier
>>> redact_url("postgresql://planner:s3cret@10.0.0.5:5432/county")
'postgresql://planner:***@10.0.0.5:5432/county'
>>> check_identifier("nanhu_2008", what="schema")
'nanhu_2008'
>>> check_identifier('x"; DROP TABLE homesteads; --', what="schema")
Traceback (most recent call last):
...
landplan.errors.ValidationError: 1 problem found:
  [schema] bad_identifier: schema name 'x"; DROP TABLE homesteads; --' is not allowed: ...
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

from ..errors import LandplanError, Problem, ValidationError

__all__ = ["DatabaseError", "TableExistsError", "redact_url", "is_postgres_url", "check_identifier",
           "connect", "PASSWORD_FIX"]

log = logging.getLogger(__name__)

_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
#: Names landplan creates: lower-case ASCII letters, digits and underscores.
_CREATE_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
#: Names landplan reads (a county's existing tables may have capitals).
_READ_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: PostgreSQL cuts identifiers at 63 bytes without an error; landplan refuses longer names.
MAX_IDENTIFIER_BYTES = 63

PASSWORD_FIX = ("put the password in the PGPASSWORD environment variable, or in a pgpass file "
                "(~/.pgpass, or the file PGPASSFILE names; one line "
                "host:port:database:user:password, mode 600)")
#: Advisory-lock namespace: readers and writers of one schema serialise on it.
_LOCK_PREFIX = "landplan:"


class DatabaseError(LandplanError):
    """The database could not be reached, or refused or lost a read or write.

    The message names the database by its URL without any password, says what
    was (not) written and what to do.
    """


class TableExistsError(DatabaseError, FileExistsError):
    """A table (or a run) landplan would write already exists and ``if_exists="fail"``."""


def is_postgres_url(text) -> bool:
    """Whether ``text`` is a PostgreSQL connection URL (``postgresql://...``).

    Examples
    --------
    >>> is_postgres_url("postgresql://landplan@127.0.0.1:5432/landplan_test")
    True
    >>> is_postgres_url("data/sample/project.gpkg")
    False
    """
    if not isinstance(text, str):
        return False
    return text.split("://", 1)[0].lower() in _SCHEMES and "://" in text


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs).

    Examples
    --------
    >>> redact_url("postgresql://landplan@127.0.0.1/landplan_test?password=x&sslmode=require")
    'postgresql://landplan@127.0.0.1/landplan_test?password=***&sslmode=require'
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unreadable connection URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = "&".join(
        ("password=***" if item.split("=", 1)[0].strip().lower() == "password" else item)
        for item in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _checked_dsn(url: str) -> str:
    """The libpq URL for ``url``; refuses anything but a password-free PostgreSQL URL."""
    if not isinstance(url, str):
        raise TypeError(f"a connection URL must be a str such as "
                        f"'postgresql://user@host:5432/dbname', not {type(url).__name__}")
    if not is_postgres_url(url):
        shown = redact_url(url) if "://" in url else "<not a URL>"
        raise DatabaseError(
            f"not a PostgreSQL connection URL: {shown}\n"
            "  fix: give a URL such as postgresql://user@host:5432/dbname (no password in it; "
            + PASSWORD_FIX + ")")
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        raise DatabaseError(f"cannot read the connection URL {redact_url(url)}\n  fix: give a URL "
                            "such as postgresql://user@host:5432/dbname") from None
    has_password = has_password or any(
        item.split("=", 1)[0].strip().lower() == "password" for item in parts.query.split("&"))
    if has_password:
        raise DatabaseError(
            f"the connection URL {redact_url(url)} contains a password; landplan does not take "
            "passwords in URLs, which end up in shell history, notebooks and logs\n"
            "  fix: remove the password from the URL and " + PASSWORD_FIX)
    if parts.fragment:
        raise DatabaseError(f"the connection URL {redact_url(url)} has a '#' part, which "
                            "PostgreSQL does not understand\n  fix: remove it; pass schema=... "
                            "to choose a schema")
    return urlunsplit(("postgresql",) + tuple(parts)[1:])


def check_identifier(name, *, what: str = "table", create: bool = True) -> str:
    """Check a schema or table name before it goes anywhere near SQL.

    Parameters
    ----------
    name : str
        The name.
    what : str
        What it names, for the message (``"schema"``, ``"table"``, ``"run label"``).
    create : bool
        A name landplan will create: lower-case letters, digits and ``_`` only.
        Otherwise (a county's existing table) capitals are allowed too.

    Returns
    -------
    str
        The name, unchanged.

    Raises
    ------
    landplan.errors.ValidationError
        For quotes, spaces, SQL, an empty name, a name over 63 bytes (PostgreSQL
        would cut it silently) or a ``pg_`` name (reserved by PostgreSQL).

    Examples
    --------
    >>> check_identifier("homesteads")
    'homesteads'
    >>> check_identifier("Homesteads", create=False)
    'Homesteads'
    """
    pattern = _CREATE_NAME if create else _READ_NAME
    allowed = ("lower-case ASCII letters, digits and underscores, not starting with a digit"
               if create else "ASCII letters, digits and underscores, not starting with a digit")
    reason = None
    if not isinstance(name, str):
        reason = f"it is a {type(name).__name__}, not text"
    elif not name:
        reason = "it is empty"
    elif not pattern.match(name):
        reason = f"only {allowed} are allowed"
    elif len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        reason = f"it is longer than {MAX_IDENTIFIER_BYTES} bytes, where PostgreSQL would cut it"
    elif name.lower().startswith("pg_"):
        reason = "names starting with pg_ are reserved by PostgreSQL"
    if reason:
        raise ValidationError([Problem(
            what, "bad_identifier", [],
            f"{what} name {name!r} is not allowed: {reason}",
            f"choose a {what} name of {allowed}, at most {MAX_IDENTIFIER_BYTES} characters "
            "(e.g. 'landplan' or 'nanhu_2008')")])
    return name


def _scrub(text: str) -> str:
    """Remove the PGPASSWORD value from a message, should a server ever echo it."""
    secret = os.environ.get("PGPASSWORD")
    if secret and len(secret) >= 3:
        text = text.replace(secret, "***")
    return text


def describe_error(exc: BaseException) -> str:
    """A one-paragraph description of a driver error, without secrets."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return _scrub(text)


@contextmanager
def connect(url: str, *, require_postgis: bool = True) -> Iterator:
    """Open a psycopg connection to ``url`` (autocommit; use ``conn.transaction()``).

    The session runs in UTC with UTF-8 client encoding; the database must be
    UTF8 (Chinese text) and have the postgis extension.

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/dbname``, without a password.
    require_postgis : bool
        Refuse a database without the postgis extension.

    Yields
    ------
    psycopg.Connection

    Raises
    ------
    DatabaseError
        Naming the database by its URL and saying what to do.

    Examples
    --------
    >>> import os
    >>> with connect(os.environ["LANDPLAN_TEST_DB"]) as conn:
    ...     conn.execute("SELECT 1").fetchone()[0]
    1
    """
    import psycopg

    dsn = _checked_dsn(url)
    shown = redact_url(url)
    kwargs = {}
    if "application_name" not in dsn:
        kwargs["application_name"] = "landplan"
    if "connect_timeout" not in dsn and not os.environ.get("PGCONNECT_TIMEOUT"):
        kwargs["connect_timeout"] = 10
    try:
        conn = psycopg.connect(dsn, autocommit=True, **kwargs)
    except psycopg.Error as exc:
        msg = describe_error(exc)
        fix = ("is the server running and reachable (for the tests: bash tools/postgis.sh)? "
               "Are the host, port, user and database right? The password: " + PASSWORD_FIX)
        if "password" in msg.lower():
            fix = PASSWORD_FIX
        raise DatabaseError(f"could not connect to {shown}: {msg}\n  fix: {fix}") from None
    try:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET client_encoding TO 'UTF8'")
        encoding = conn.info.parameter_status("server_encoding")
        if encoding != "UTF8":
            raise DatabaseError(
                f"the database {shown} stores text as {encoding}, not UTF8: Chinese names would "
                "be refused or garbled\n  fix: create the database with ENCODING 'UTF8' "
                "TEMPLATE template0 (bash tools/postgis.sh does) and write the project there")
        if require_postgis:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
            if row is None:
                raise DatabaseError(
                    f"the database {shown} has no postgis extension\n  fix: as its owner or a "
                    "superuser run CREATE EXTENSION postgis; in it (bash tools/postgis.sh does "
                    "this for the test database)")
        log.debug("connected to %s (server %s)", shown, conn.info.server_version)
        yield conn
    finally:
        conn.close()


def lock_schema(conn, schema: str, *, shared: bool = False) -> None:
    """Take the transaction-level advisory lock of a schema (readers shared, writers exclusive)."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.execute(f"SELECT {fn}(hashtext(%s))", (_LOCK_PREFIX + schema,))


def existing_tables(conn, schema: str) -> set[str]:
    """Names of the tables (and views) in ``schema``."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", (schema,)).fetchall()
    return {r[0] for r in rows}


def schema_exists(conn, schema: str) -> bool:
    """Whether the schema exists."""
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                        (schema,)).fetchone() is not None
