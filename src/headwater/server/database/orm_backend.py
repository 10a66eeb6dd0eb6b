"""ORM tables of the backend features flows call beyond runs: artifacts, the KV store and
state-change hooks.

Contract: the same conventions as :mod:`headwater.server.database.orm` (UUID string ids,
UTC timestamps, JSONB on PostgreSQL), on the same declarative ``Base``, so the metadata
that Alembic and the tests compare holds these tables too (``orm`` imports this module).
Hooks never store secrets: they name environment variables of the server process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from headwater.server.database.orm import Base, JSONType, Log, UTCDateTime, new_id, utcnow

__all__ = ["Artifact", "Hook", "HookDelivery", "KeyValue"]


class Artifact(Base):
    """Something a task run published for people: a link or a Markdown text."""

    __tablename__ = "artifacts"
    __table_args__ = (Index("ix_artifacts_flow_run_created", "flow_run_id", "created"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="CASCADE")
    )
    task_run_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("task_runs.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[Any] = mapped_column(JSONType, default=dict)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class KeyValue(Base):
    """One entry of the key-value store; ``value`` is any JSON value."""

    __tablename__ = "kv_store"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Hook(Base):
    """A webhook or Slack webhook called when matching flow runs change state.

    ``url_env`` / ``token_env`` name environment variables of the server process that
    hold the URL and the optional bearer token; the values never reach the database.
    """

    __tablename__ = "hooks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    flow_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    project_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: State type names that fire the hook; empty means every state.
    states: Mapped[Any] = mapped_column(JSONType, default=list)
    url_env: Mapped[str] = mapped_column(String(255))
    token_env: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HookDelivery(Base):
    """One call of a hook for one state change; the unique key makes it happen once."""

    __tablename__ = "hook_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "hook_id", "flow_run_id", "state_version", name="uq_hook_deliveries_change"
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    hook_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("hooks.id", ondelete="CASCADE"), index=True
    )
    flow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    state_version: Mapped[int] = mapped_column(Integer)
    state_type: Mapped[str] = mapped_column(String(32))
    #: ``pending``, ``sent`` or ``failed``.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


#: Retention deletes old log lines by time: without this index each batch scans the table.
Index("ix_logs_timestamp", Log.timestamp)
