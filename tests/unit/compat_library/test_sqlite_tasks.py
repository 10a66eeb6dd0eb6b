"""SQLiteQuery and SQLiteScript: run-time defaults, results, commits and clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from headwater import Flow
from headwater.tasks.database import SQLiteQuery, SQLiteScript
from headwater.tasks.database import sqlite as sqlite_module


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "test.db")
    SQLiteScript(db=path, script="CREATE TABLE t (x INT, y TEXT);").run()
    return path


def test_public_paths_are_the_same_objects() -> None:
    assert sqlite_module.SQLiteQuery is SQLiteQuery
    assert sqlite_module.SQLiteScript is SQLiteScript


def test_script_runs_every_statement_and_returns_none(db: str) -> None:
    result = SQLiteScript(
        db=db, script="INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b');"
    ).run()
    assert result is None
    assert SQLiteQuery(db=db, query="SELECT x, y FROM t ORDER BY x").run() == [
        (1, "a"),
        (2, "b"),
    ]


def test_query_commits_and_binds_positional_and_named_data(db: str) -> None:
    insert = SQLiteQuery(db=db, query="INSERT INTO t VALUES (?, ?)", data=(5, "five"))
    assert insert.run() == []
    SQLiteQuery().run(db=db, query="INSERT INTO t VALUES (:x, :y)", data={"x": 6, "y": "six"})
    # A separate connection sees both rows: each run committed.
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT x, y FROM t ORDER BY x").fetchall()
    conn.close()
    assert rows == [(5, "five"), (6, "six")]


def test_run_arguments_override_the_constructor(db: str, tmp_path: Path) -> None:
    other = str(tmp_path / "other.db")
    SQLiteScript(script="CREATE TABLE u (z INT); INSERT INTO u VALUES (9);").run(db=other)
    query = SQLiteQuery(db=db, query="SELECT COUNT(*) FROM t")
    assert query.run() == [(0,)]
    assert query.run(db=other, query="SELECT z FROM u") == [(9,)]
    assert query.run(query="SELECT ? + ?", data=(2, 3)) == [(5,)]
    assert query.run(query="SELECT 1", data=None) == [(1,)]


def test_missing_db_or_sql_is_a_value_error_naming_it(db: str) -> None:
    with pytest.raises(ValueError, match="SQLiteQuery: a `db` file path"):
        SQLiteQuery(query="SELECT 1").run()
    with pytest.raises(ValueError, match="SQLiteQuery: a `query` string"):
        SQLiteQuery(db=db).run()
    with pytest.raises(ValueError, match="SQLiteScript: a `db` file path"):
        SQLiteScript(script="SELECT 1").run()
    with pytest.raises(ValueError, match="SQLiteScript: a `script` string"):
        SQLiteScript(db=db).run()
    # An explicit None at run time wins over the constructor's value, as in Prefect 1.
    with pytest.raises(ValueError, match="`query`"):
        SQLiteQuery(db=db, query="SELECT 1").run(query=None)


def test_wrong_types_are_type_errors(db: str) -> None:
    with pytest.raises(TypeError, match="`db` must be a file path string, got int"):
        SQLiteQuery(db=3, query="SELECT 1").run()  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`query` must be a string, got list"):
        SQLiteQuery(db=db, query=["SELECT 1"]).run()  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`data` must be a tuple, list or mapping"):
        SQLiteQuery(db=db, query="SELECT ?", data="a").run()
    with pytest.raises(TypeError, match="`script` must be a string"):
        SQLiteScript(db=db, script=b"SELECT 1").run()  # type: ignore[arg-type]


def test_sqlite_errors_propagate_and_are_not_committed(db: str) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        SQLiteQuery(db=db, query="SELECT * FROM missing").run()
    with pytest.raises(sqlite3.OperationalError):
        SQLiteScript(db=db, script="INSERT INTO t VALUES (1, 'a'); NOT SQL;").run()
    with pytest.raises(sqlite3.ProgrammingError):
        SQLiteQuery(db=db, query="SELECT 1; SELECT 2").run()


def test_in_a_flow_the_query_sees_the_scripts_rows(tmp_path: Path) -> None:
    path = tmp_path / "flow.db"
    create = SQLiteScript(
        db=str(path),
        script="CREATE TABLE pets (name TEXT, legs INT);"
        "INSERT INTO pets VALUES ('cat', 4), ('bird', 2);",
    )
    count = SQLiteQuery(db=str(path), query="SELECT SUM(legs) FROM pets")
    broken = SQLiteQuery(query="SELECT 1")
    with Flow("sqlite") as flow:
        created = create()
        legs = count(upstream_tasks=[created])
        selected = broken(db=str(path))
        missing = SQLiteQuery(db=str(path))()
    state = flow.run()
    assert state.result[legs].result == [(6,)]
    assert state.result[selected].result == [(1,)]
    assert state.result[missing].is_failed()
    assert "`query` string must be provided" in str(state.result[missing].message)
