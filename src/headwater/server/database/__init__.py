"""Database access: engines and sessions, ORM tables, migrations.

Contract: ``Database(url)`` is the only way the server reaches its database;
``headwater.server.database.orm`` holds the tables and ``migrate`` the schema upgrades.
"""

from headwater.server.database.engine import Database, normalize_url, queue_event

__all__ = ["Database", "normalize_url", "queue_event"]
