"""Request and response bodies of the REST API (pydantic v2).

Contract: these models are the API's shapes as docs/internals/contracts.md section 3
describes them. Response models are built from ORM rows with ``model_validate`` (they
read attributes); request models validate input so that bad input is a 422 naming the
field. Unknown extra request fields are ignored, so older servers accept newer clients.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Agent",
    "AgentCreate",
    "AgentStats",
    "BackfillRequest",
    "BackfillResult",
    "CancelRequest",
    "CancelResult",
    "Flow",
    "FlowCreate",
    "FlowGroup",
    "FlowGroupUpdate",
    "FlowRun",
    "FlowRunCreate",
    "FlowRunsCreate",
    "Health",
    "LabelsUpdate",
    "Log",
    "LogCreate",
    "LogsCreate",
    "LogsInserted",
    "NameUpdate",
    "Project",
    "ProjectCreate",
    "ResultLocation",
    "ScheduleInfo",
    "ScheduleSet",
    "ScheduleSettingsUpdate",
    "StateHistoryEntry",
    "StateResult",
    "StateSet",
    "TaskRun",
    "TaskRunCreate",
    "TaskRunKey",
    "TaskRunStateItem",
    "TaskRunStateOutcome",
    "TaskRunStates",
    "TaskRunStatesResult",
    "TaskRunsCreate",
    "UTCDateTime",
]

Name = Field(min_length=1, max_length=255)


def _to_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


#: A timestamp taken as UTC when naive and converted to UTC (422 when out of range).
UTCDateTime = Annotated[dt.datetime, AfterValidator(_to_utc)]
Label = str


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- requests ------------------------------------------------------------------------


class ProjectCreate(_In):
    """``POST /projects``."""

    name: str = Name
    description: str | None = None


class FlowCreate(_In):
    """``POST /flows``: register a new version of a flow."""

    name: str = Name
    project_name: str = Name
    serialized_flow: dict[str, Any] = Field(default_factory=dict)
    storage: dict[str, Any] | None = None
    run_config: dict[str, Any] | None = None
    labels: list[Label] | None = None
    description: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=255)
    core_version: str | None = Field(default=None, max_length=64)
    set_schedule_active: bool = True


class FlowGroupUpdate(_In):
    """``PATCH /flow-groups/{id}``: fields present in the body are changed.

    ``labels: null`` means "not set" (runs fall back to run-config labels); ``[]`` means
    "explicitly no labels".
    """

    labels: list[Label] | None = None
    default_parameters: dict[str, Any] | None = None
    run_config: dict[str, Any] | None = None


class ScheduleSet(_In):
    """``PUT /flow-groups/{id}/schedule``: the group's own schedule (a schedule's JSON
    form, ``Schedule.to_ref()``), which then wins over the versions' schedules."""

    schedule: dict[str, Any]


class ScheduleSettingsUpdate(_In):
    """``PATCH /flow-groups/{id}/schedule``: fields present in the body are changed.

    ``late_runs``: ``all`` (run every late run), ``latest`` (only the newest due one) or
    ``skip`` (skip runs more than ``late_runs_max_age`` seconds late).
    """

    is_schedule_active: bool | None = None
    late_runs: Literal["all", "latest", "skip"] | None = None
    late_runs_max_age: float | None = Field(default=None, gt=0, le=10**9)


class BackfillRequest(_In):
    """``POST /flow-groups/{id}/schedule/backfill``: runs for ``start <= time <= end``."""

    start: UTCDateTime
    end: UTCDateTime


class FlowRunCreate(_In):
    """``POST /flow-runs``: one of ``flow_id``, ``flow_group_id`` or ``flow_name``."""

    flow_id: str | None = None
    flow_group_id: str | None = None
    flow_name: str | None = None
    project_name: str | None = None
    parameters: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    labels: list[Label] | None = None
    run_config: dict[str, Any] | None = None
    name: str | None = Field(default=None, max_length=255)
    scheduled_start_time: UTCDateTime | None = None
    idempotency_key: str | None = Field(default=None, max_length=255)
    parent_flow_run_id: str | None = None
    parent_task_run_id: str | None = None


class FlowRunsCreate(_In):
    """``POST /flow-runs/bulk``: several runs created in one transaction, in order."""

    flow_runs: list[FlowRunCreate] = Field(min_length=1, max_length=5_000)


class NameUpdate(_In):
    """``POST /flow-runs/{id}/name``."""

    name: str = Name


class LabelsUpdate(_In):
    """``POST /flow-runs/{id}/labels``."""

    labels: list[Label]


class CancelRequest(_In):
    """``POST /flow-runs/{id}/cancel``; ``cascade`` also cancels unfinished children."""

    cascade: bool = True


class StateSet(_In):
    """``POST /flow-runs/{id}/state`` and ``POST /task-runs/{id}/state``."""

    state: dict[str, Any]
    expected_version: int | None = Field(default=None, ge=0, lt=2**31)
    agent_id: str | None = None

    @field_validator("state")
    @classmethod
    def _has_type(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("type"), str) or not value["type"]:
            raise ValueError('a state needs a "type" naming its class, e.g. "Running"')
        return value


class TaskRunCreate(_In):
    """``POST /task-runs``: get or create by (flow run, slug, map index)."""

    flow_run_id: str
    task_slug: str = Name
    map_index: int = Field(default=-1, ge=-1, lt=2**31)
    task_name: str | None = Field(default=None, max_length=255)


class TaskRunKey(_In):
    """One task run of ``POST /task-runs/bulk``: (slug, map index) within the flow run."""

    task_slug: str = Name
    map_index: int = Field(default=-1, ge=-1, lt=2**31)
    task_name: str | None = Field(default=None, max_length=255)


class TaskRunsCreate(_In):
    """``POST /task-runs/bulk``: get or create many task runs of one flow run."""

    flow_run_id: str
    task_runs: list[TaskRunKey] = Field(max_length=100_000)


class TaskRunStateItem(_In):
    """One item of ``POST /task-runs/states``: a state, a result (base64), or both.

    A result is stored before the state of the same item.
    """

    task_run_id: str
    state: dict[str, Any] | None = None
    expected_version: int | None = Field(default=None, ge=0, lt=2**31)
    result: str | None = None

    @field_validator("state")
    @classmethod
    def _has_type(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and (not isinstance(value.get("type"), str) or not value["type"]):
            raise ValueError('a state needs a "type" naming its class, e.g. "Running"')
        return value


class TaskRunStates(_In):
    """``POST /task-runs/states``: state changes of many task runs, applied in order."""

    states: list[TaskRunStateItem] = Field(max_length=20_000)


class LogCreate(_In):
    """One log line in ``POST /logs``."""

    flow_run_id: str
    task_run_id: str | None = None
    timestamp: UTCDateTime | None = None
    level: str | int = "INFO"
    name: str = Field(default="headwater", max_length=255)
    message: str
    info: dict[str, Any] | None = None


class LogsCreate(_In):
    """``POST /logs``."""

    logs: list[LogCreate]


class AgentCreate(_In):
    """``POST /agents``."""

    name: str | None = Field(default=None, max_length=255)
    type: str = Field(default="agent", min_length=1, max_length=64)
    labels: list[Label] = Field(default_factory=list)


class AgentStats(_In):
    """``PUT /agents/{id}/stats``: an agent's flow-run process counts."""

    live_processes: int = Field(ge=0, le=10**9)
    spawned: int = Field(ge=0, le=10**15)
    spawned_last_minute: int = Field(ge=0, le=10**9)
    refused_load_failures: int = Field(default=0, ge=0, le=10**15)
    supervised: int = Field(default=0, ge=0, le=10**9)
    max_concurrent: int | None = Field(default=None, ge=1, le=10**9)


# -- responses -----------------------------------------------------------------------


class Health(BaseModel):
    """``GET /health``."""

    status: Literal["ok"]
    version: str
    database: Literal["sqlite", "postgresql"]


class Project(_Out):
    """A project."""

    id: str
    name: str
    description: str | None
    created: dt.datetime


class Flow(_Out):
    """One registered flow version."""

    id: str
    flow_group_id: str
    name: str
    project_id: str
    project_name: str
    version: int
    archived: bool
    serialized_flow: dict[str, Any]
    parameters: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    storage: dict[str, Any] | None
    run_config: dict[str, Any] | None
    labels: list[str] | None
    schedule: dict[str, Any] | None = None
    description: str | None
    core_version: str | None
    created: dt.datetime


class FlowGroup(_Out):
    """Settings shared by all versions of a flow."""

    id: str
    name: str
    project_id: str
    labels: list[str] | None
    default_parameters: dict[str, Any]
    run_config: dict[str, Any] | None
    settings: dict[str, Any]
    schedule: dict[str, Any] | None = None
    is_schedule_active: bool = True
    late_runs: str = "all"
    late_runs_max_age: float | None = None
    created: dt.datetime


class FlowRun(_Out):
    """A flow run with its current state."""

    id: str
    flow_id: str
    flow_group_id: str
    flow_name: str
    project_name: str
    name: str
    parameters: dict[str, Any]
    context: dict[str, Any]
    labels: list[str]
    run_config: dict[str, Any] | None
    scheduled_start_time: dt.datetime
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    heartbeat: dt.datetime | None
    state: dict[str, Any] | None
    state_type: str | None
    state_message: str | None
    state_timestamp: dt.datetime | None
    version: int
    idempotency_key: str | None
    parent_flow_run_id: str | None
    parent_task_run_id: str | None
    agent_id: str | None
    times_resurrected: int
    auto_scheduled: bool = False
    created: dt.datetime
    updated: dt.datetime


class TaskRun(_Out):
    """A task run with its current state."""

    id: str
    flow_run_id: str
    task_slug: str
    task_name: str | None
    map_index: int
    state: dict[str, Any] | None
    state_type: str | None
    state_message: str | None
    state_timestamp: dt.datetime | None
    version: int
    run_count: int
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    heartbeat: dt.datetime | None
    created: dt.datetime
    updated: dt.datetime


class Log(_Out):
    """A stored log line."""

    id: int
    flow_run_id: str
    task_run_id: str | None
    timestamp: dt.datetime
    level: str
    name: str
    message: str
    info: dict[str, Any] | None


class LogsInserted(BaseModel):
    """``POST /logs`` response."""

    inserted: int


class Agent(_Out):
    """A registered agent."""

    id: str
    name: str
    type: str
    labels: list[str]
    last_seen: dt.datetime | None
    created: dt.datetime
    #: the agent's last report: ``{live_processes, spawned, spawned_last_minute,
    #: refused_load_failures, supervised, max_concurrent, reported_at}`` (None: never)
    stats: dict[str, Any] | None = None


class StateResult(BaseModel):
    """Outcome of a state change request."""

    status: Literal["accepted", "rejected", "queued"]
    state: dict[str, Any] | None
    version: int
    detail: str | None = None


class TaskRunStateOutcome(BaseModel):
    """The outcome of one item of ``POST /task-runs/states``.

    ``status`` is ``accepted``/``rejected`` as for a single state change, or ``error``
    when the item could not be applied at all (``status_code`` 404, 409, 413 or 422 says
    why, as the single-item route would have answered).
    """

    task_run_id: str
    status: Literal["accepted", "rejected", "queued", "error"]
    state: dict[str, Any] | None = None
    version: int | None = None
    detail: str | None = None
    status_code: int | None = None


class TaskRunStatesResult(BaseModel):
    """Per-item outcomes of ``POST /task-runs/states``, in the order of the request."""

    results: list[TaskRunStateOutcome]


class StateHistoryEntry(_Out):
    """One entry of a run's state history."""

    version: int
    timestamp: dt.datetime
    state: dict[str, Any]


class CancelResult(BaseModel):
    """``POST /flow-runs/{id}/cancel`` response."""

    state: str | None
    flow_run: FlowRun
    cancelled: list[str]


class ScheduleInfo(BaseModel):
    """``GET /flow-groups/{id}/schedule``: the schedule a flow group follows.

    ``schedule`` is the one in effect (``source`` says whose: ``flow_group`` when set
    through the API, ``flow`` for the newest unarchived version's, ``None`` when there is
    none); ``flow_group_schedule`` is the group's own, if any; ``next_times`` are the next
    (up to 10) times in UTC, whether or not the schedule is switched on.
    """

    flow_group_id: str
    flow_id: str | None
    is_schedule_active: bool
    schedule: dict[str, Any] | None
    source: Literal["flow_group", "flow"] | None
    flow_group_schedule: dict[str, Any] | None
    late_runs: Literal["all", "latest", "skip"]
    late_runs_max_age: float | None
    next_times: list[dt.datetime]


class BackfillResult(BaseModel):
    """``POST /flow-groups/{id}/schedule/backfill`` response."""

    created: list[FlowRun]
    existing: int


class ResultLocation(BaseModel):
    """``PUT /task-runs/{id}/result`` response."""

    location: str
