"""Connection URLs and names, checked before any database is touched (no server needed)."""

from __future__ import annotations

import pytest

from landplan.db import (DatabaseError, check_identifier, is_postgres_url, read_project_postgis,
                         redact_url, write_results)
from landplan.errors import ValidationError

SECRET = "Tr0ub4dor-密码"


@pytest.mark.parametrize("url", [
    f"postgresql://planner:{SECRET}@db.county.example:5432/landplan",
    f"postgresql+psycopg://planner:{SECRET}@127.0.0.1/landplan",
    f"postgresql://planner@127.0.0.1/landplan?sslmode=require&password={SECRET}",
])
def test_url_with_a_password_is_refused_without_echoing_it(url):
    for call in (lambda: read_project_postgis(url),
                 lambda: write_results(url, {"t": __import__("pandas").DataFrame({"a": [1]})},
                                       scenario="s")):
        with pytest.raises(DatabaseError) as err:
            call()
        text = str(err.value)
        assert SECRET not in text
        assert "***" in text and "contains a password" in text
        assert "PGPASSWORD" in text and ".pgpass" in text


def test_redaction_keeps_everything_but_the_password():
    assert redact_url(f"postgresql://u:{SECRET}@h:5433/d?sslmode=require") == \
        "postgresql://u:***@h:5433/d?sslmode=require"
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_not_a_postgres_url():
    assert not is_postgres_url("project.gpkg")
    assert not is_postgres_url("host=127.0.0.1 user=landplan")
    with pytest.raises(DatabaseError, match="not a PostgreSQL connection URL"):
        read_project_postgis("mysql://u@h/d")
    with pytest.raises(DatabaseError, match="not a PostgreSQL connection URL") as err:
        read_project_postgis(f"host=h user=u password={SECRET}")
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("name,create,ok", [
    ("landplan", True, True), ("nanhu_2008", True, True), ("_x1", True, True),
    ("Zjd", True, False), ("Zjd", False, True),
    ('a"b', False, False), ("a;b", False, False), ("a b", False, False), ("a-b", False, False),
    ("pg_temp", True, False), ("x" * 63, True, True), ("x" * 64, True, False),
    ("宅基地", False, False),
])
def test_identifier_rules(name, create, ok):
    if ok:
        assert check_identifier(name, create=create) == name
    else:
        with pytest.raises(ValidationError, match="bad_identifier"):
            check_identifier(name, create=create)
