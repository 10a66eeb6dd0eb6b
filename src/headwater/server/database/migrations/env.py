"""Alembic environment: runs migrations on the connection handed over by the server.

The server calls :func:`headwater.server.database.migrate.upgrade`, which opens an async
connection, and passes its synchronous facade in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from headwater.server.database.orm import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations through `headwater server database upgrade`, not the alembic CLI."
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
