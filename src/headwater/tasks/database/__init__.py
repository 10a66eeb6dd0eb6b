"""Database tasks of the core Task Library (Prefect 1's ``prefect.tasks.database``).

Contract:
    Only the SQLite tasks ship here, because they need nothing beyond the standard
    library: :class:`SQLiteQuery` runs one statement and returns its rows,
    :class:`SQLiteScript` runs a script of several statements. Importing this package
    loads only :mod:`sqlite3`.
"""

from __future__ import annotations

from headwater.tasks.database.sqlite import SQLiteQuery, SQLiteScript

__all__ = ["SQLiteQuery", "SQLiteScript"]
