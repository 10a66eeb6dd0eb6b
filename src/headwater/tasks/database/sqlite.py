"""``SQLiteQuery`` and ``SQLiteScript``: run SQL against a SQLite database file.

Contract:
    ``SQLiteQuery(db=None, query=None, data=(), **kwargs)``: ``run(db=None, query=None,
    data=())`` executes one statement with ``data`` as its parameters, commits, and
    returns ``cursor.fetchall()`` (a list of row tuples; empty for statements that
    return no rows).

    ``SQLiteScript(db=None, script=None, **kwargs)``: ``run(db=None, script=None)`` runs
    ``script`` (any number of ``;``-separated statements) with ``executescript``,
    commits, and returns ``None``.

    Each ``run()`` argument not passed at run time comes from the constructor (an explicit
    ``None`` wins, as in Prefect 1). A missing (empty) ``db``, ``query`` or ``script`` is
    a ``ValueError`` naming it; a value of the wrong type is a ``TypeError``. Errors from
    SQLite itself (:class:`sqlite3.Error`) propagate unchanged, so the task fails with
    SQLite's own message. Every connection is closed before ``run()`` returns, whether or
    not the statement succeeded; a failed statement is not committed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from typing import Any

from headwater.core.task import Task
from headwater.utilities.tasks import defaults_from_attrs

__all__ = ["SQLiteQuery", "SQLiteScript"]

#: What ``db`` may be: a path (``":memory:"`` works too, though it is empty every run).
DatabasePath = str | os.PathLike[str]


def _require_db(owner: str, db: object) -> DatabasePath:
    """Return ``db`` as a path, or raise naming the problem."""
    if db is None or db == "":
        raise ValueError(f"{owner}: a `db` file path must be provided")
    if not isinstance(db, (str, os.PathLike)):
        raise TypeError(f"{owner}: `db` must be a file path string, got {type(db).__name__}")
    return db


def _require_sql(owner: str, name: str, sql: object) -> str:
    """Return ``sql`` (the argument called ``name``) as a string, or raise naming it."""
    if sql is None or sql == "":
        raise ValueError(f"{owner}: a `{name}` string must be provided")
    if not isinstance(sql, str):
        raise TypeError(f"{owner}: `{name}` must be a string, got {type(sql).__name__}")
    return sql


class SQLiteQuery(Task):
    """A task that runs one SQL statement on a SQLite database and returns its rows.

    Args:
        db: path of the database file (created when it does not exist).
        query: the statement to run; ``?`` or ``:name`` placeholders take ``data``.
        data: the statement's parameters: a sequence for ``?`` placeholders or a mapping
            for named ones.
        **kwargs: further :class:`~headwater.core.task.Task` options.
    """

    def __init__(
        self,
        db: DatabasePath | None = None,
        query: str | None = None,
        data: Sequence[Any] | Mapping[str, Any] = (),
        **kwargs: Any,
    ) -> None:
        self.db = db
        self.query = query
        self.data = data
        super().__init__(**kwargs)

    @defaults_from_attrs("db", "query", "data")
    def run(
        self,
        db: DatabasePath | None = None,
        query: str | None = None,
        data: Sequence[Any] | Mapping[str, Any] | None = (),
    ) -> list[Any]:
        """Execute ``query`` with ``data``, commit, and return every row it produced.

        Args:
            db: path of the database file.
            query: the single statement to execute.
            data: parameters for the statement's placeholders (``None`` means none).

        Returns:
            The rows as tuples (``cursor.fetchall()``).

        Raises:
            ValueError: ``db`` or ``query`` is missing.
            TypeError: ``db``, ``query`` or ``data`` has the wrong type.
            sqlite3.Error: SQLite rejected the statement.
        """
        path = _require_db("SQLiteQuery", db)
        sql = _require_sql("SQLiteQuery", "query", query)
        params: Sequence[Any] | Mapping[str, Any] = () if data is None else data
        if isinstance(params, (str, bytes)) or not isinstance(params, (Sequence, Mapping)):
            raise TypeError(
                "SQLiteQuery: `data` must be a tuple, list or mapping of parameters, "
                f"got {type(params).__name__}"
            )
        with closing(sqlite3.connect(path)) as conn, closing(conn.cursor()) as cursor:
            cursor.execute(sql, params)
            conn.commit()
            return cursor.fetchall()


class SQLiteScript(Task):
    """A task that runs a SQL script (several statements) on a SQLite database.

    Args:
        db: path of the database file (created when it does not exist).
        script: the statements to run, separated by ``;``.
        **kwargs: further :class:`~headwater.core.task.Task` options.
    """

    def __init__(
        self, db: DatabasePath | None = None, script: str | None = None, **kwargs: Any
    ) -> None:
        self.db = db
        self.script = script
        super().__init__(**kwargs)

    @defaults_from_attrs("db", "script")
    def run(self, db: DatabasePath | None = None, script: str | None = None) -> None:
        """Run every statement of ``script`` and commit.

        Args:
            db: path of the database file.
            script: the statements to run.

        Raises:
            ValueError: ``db`` or ``script`` is missing.
            TypeError: ``db`` or ``script`` has the wrong type.
            sqlite3.Error: SQLite rejected a statement.
        """
        path = _require_db("SQLiteScript", db)
        sql = _require_sql("SQLiteScript", "script", script)
        with closing(sqlite3.connect(path)) as conn, closing(conn.cursor()) as cursor:
            cursor.executescript(sql)
            conn.commit()
