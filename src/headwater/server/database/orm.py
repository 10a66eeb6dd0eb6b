"""ORM tables of the server.

Contract: one class per table; the hand-written Alembic migrations in ``migrations/``
create exactly these tables, for SQLite and PostgreSQL alike. Ids are UUID strings,
timestamps are timezone-aware UTC (:class:`UTCDateTime`), JSON columns are JSONB on
PostgreSQL. Queries live in ``headwater.server.models``, not here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Agent",
    "Base",
    "BigIntId",
    "Flow",
    "FlowConcurrencyLimit",
    "FlowGroup",
    "FlowRun",
    "FlowRunLabel",
    "FlowRunState",
    "JSONType",
    "Log",
    "Project",
    "TaskRun",
    "TaskRunState",
    "TaskRunTag",
    "TaskTagLimit",
    "UTCDateTime",
    "new_id",
    "utcnow",
]


def new_id() -> str:
    """A new UUID string id."""
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always returned timezone-aware in UTC.

    SQLite has no time zones: values are stored as naive UTC and made aware on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


#: JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")
#: 64-bit autoincrement keys; SQLite needs plain INTEGER for its rowid alias.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every server table."""


class Project(Base):
    """A namespace for flows; the name is unique."""

    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlowGroup(Base):
    """Settings shared by every version of a flow (same name in the same project)."""

    __tablename__ = "flow_groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    labels: Mapped[Any] = mapped_column(JSONType, nullable=True)
    default_parameters: Mapped[Any] = mapped_column(JSONType, default=dict)
    run_config: Mapped[Any] = mapped_column(JSONType, nullable=True)
    settings: Mapped[Any] = mapped_column(JSONType, default=dict)
    #: The group's own schedule (set through the API); ``None``: the newest version's.
    schedule: Mapped[Any] = mapped_column(JSONType, nullable=True)
    is_schedule_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: What the scheduler does with runs that became late: ``all``, ``latest``, ``skip``.
    late_runs: Mapped[str] = mapped_column(String(16), default="all", server_default="all")
    #: For ``late_runs="skip"``: runs later than this many seconds are skipped.
    late_runs_max_age: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Flow(Base):
    """One registered version of a flow."""

    __tablename__ = "flows"
    __table_args__ = (UniqueConstraint("flow_group_id", "version", name="uq_flows_group_version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flow_group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_groups.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255), index=True)
    #: Copied from the project (project names never change) to spare joins.
    project_name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    serialized_flow: Mapped[Any] = mapped_column(JSONType, default=dict)
    parameters: Mapped[Any] = mapped_column(JSONType, default=list)
    tasks: Mapped[Any] = mapped_column(JSONType, default=list)
    storage: Mapped[Any] = mapped_column(JSONType, nullable=True)
    run_config: Mapped[Any] = mapped_column(JSONType, nullable=True)
    labels: Mapped[Any] = mapped_column(JSONType, nullable=True)
    #: The version's serialized schedule (``serialized_flow["schedule"]``), or ``None``.
    schedule: Mapped[Any] = mapped_column(JSONType, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    core_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlowRun(Base):
    """One run of a flow version, with its current state on the row."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        UniqueConstraint("flow_group_id", "idempotency_key", name="uq_flow_runs_idempotency"),
        Index("ix_flow_runs_state_type_scheduled", "state_type", "scheduled_start_time"),
        # The UI's runs pages: newest first within a state or a flow group.
        Index("ix_flow_runs_state_type_created", "state_type", "created"),
        Index("ix_flow_runs_group_created", "flow_group_id", "created"),
        Index(
            "ix_flow_runs_auto_scheduled",
            "auto_scheduled",
            "flow_group_id",
            "scheduled_start_time",
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flows.id", ondelete="CASCADE"), index=True
    )
    flow_group_id: Mapped[str] = mapped_column(String(36), index=True)
    #: Copied from the flow and its project: filters and responses need no joins.
    flow_name: Mapped[str] = mapped_column(String(255), index=True)
    project_name: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), index=True)
    parameters: Mapped[Any] = mapped_column(JSONType, default=dict)
    context: Mapped[Any] = mapped_column(JSONType, default=dict)
    labels: Mapped[Any] = mapped_column(JSONType, default=list)
    run_config: Mapped[Any] = mapped_column(JSONType, nullable=True)
    scheduled_start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[Any] = mapped_column(JSONType, nullable=True)
    state_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_timestamp: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The state's own start time (Scheduled family), used to order and pick due runs.
    state_start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    parent_flow_run_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    parent_task_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    agent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    #: Token of the agent process a Submitted run was handed to (lost-claim recovery).
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    times_resurrected: Mapped[int] = mapped_column(Integer, default=0)
    #: Created by the scheduler from the flow group's schedule (not ad hoc).
    auto_scheduled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FlowRunLabel(Base):
    """One label of a flow run (mirrors ``FlowRun.labels`` for portable label filters)."""

    __tablename__ = "flow_run_labels"
    flow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class FlowRunState(Base):
    """One entry of a flow run's state history."""

    __tablename__ = "flow_run_states"
    __table_args__ = (
        UniqueConstraint("flow_run_id", "version", name="uq_flow_run_states_version"),
    )
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    serialized: Mapped[Any] = mapped_column(JSONType)


class TaskRun(Base):
    """One run of a task (or one mapped child) inside a flow run."""

    __tablename__ = "task_runs"
    __table_args__ = (
        UniqueConstraint("flow_run_id", "task_slug", "map_index", name="uq_task_runs_slug"),
        # A run page's task-run counts by state.
        Index("ix_task_runs_run_state", "flow_run_id", "state_type"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    task_slug: Mapped[str] = mapped_column(String(255))
    task_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    state: Mapped[Any] = mapped_column(JSONType, nullable=True)
    state_type: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    state_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_timestamp: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaskRunState(Base):
    """One entry of a task run's state history."""

    __tablename__ = "task_run_states"
    __table_args__ = (
        UniqueConstraint("task_run_id", "version", name="uq_task_run_states_version"),
    )
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    task_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("task_runs.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    serialized: Mapped[Any] = mapped_column(JSONType)


class Log(Base):
    """A log line of a flow run (optionally of one of its task runs).

    The integer id only grows, so streams resume after the last id they sent.
    """

    __tablename__ = "logs"
    __table_args__ = (Index("ix_logs_flow_run_time", "flow_run_id", "timestamp", "id"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("flow_runs.id", ondelete="CASCADE")
    )
    task_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(16), default="INFO")
    name: Mapped[str] = mapped_column(String(255), default="headwater")
    message: Mapped[str] = mapped_column(Text)
    info: Mapped[Any] = mapped_column(JSONType, nullable=True)


class Agent(Base):
    """A registered agent; ``last_seen`` is its health signal."""

    __tablename__ = "agents"
    __table_args__ = (Index("ix_agents_identity", "name", "type", "labels_key"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    labels: Mapped[Any] = mapped_column(JSONType, default=list)
    #: Sorted labels joined by newlines: the identity used to reuse a registration.
    labels_key: Mapped[str] = mapped_column(Text, default="")
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The agent's last report of its process counts (``PUT /agents/{id}/stats``).
    stats: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)


class FlowConcurrencyLimit(Base):
    """At most ``concurrency_limit`` flow runs with ``label`` hold a slot at once.

    A run holds a slot of each of its labels while Submitted, Running or Cancelling
    (``headwater.server.models.concurrency_limits``); agents claim within the limits.
    """

    __tablename__ = "flow_concurrency_limits"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    label: Mapped[str] = mapped_column(String(255), unique=True)
    concurrency_limit: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaskTagLimit(Base):
    """At most ``concurrency_limit`` task runs with ``tag`` run at once (Prefect 1's name)."""

    __tablename__ = "task_tag_limits"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tag: Mapped[str] = mapped_column(String(255), unique=True)
    concurrency_limit: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaskRunTag(Base):
    """One tag of a task run that has started (its task's tags as registered).

    Written on the task run's first Running state so that the running task runs of a tag
    can be counted in portable SQL, as ``flow_run_labels`` does for flow runs.
    """

    __tablename__ = "task_run_tags"
    task_run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("task_runs.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


# The backend-feature tables share ``Base``; importing them here puts them in its metadata.
from headwater.server.database import orm_backend as _orm_backend  # noqa: E402,F401
