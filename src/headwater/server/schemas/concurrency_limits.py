"""Request and response bodies of the concurrency-limit routes.

Contract: limits are ``{id, label|tag, limit, running, created, updated}``; ``running`` is
how many flow runs (task runs) hold a slot of that label (tag) when the limit was read.
Requests take the label or tag in the body, so any characters (``/`` included) work.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FlowConcurrencyLimit",
    "FlowConcurrencyLimitSet",
    "SlotWait",
    "TaskTagLimit",
    "TaskTagLimitSet",
]

_Limit = Field(ge=0, le=2**31 - 1, description="Most runs holding a slot at once (0: none).")


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FlowConcurrencyLimitSet(_In):
    """``POST /flow-concurrency-limits``: create or update the limit of a label."""

    label: str = Field(min_length=1, max_length=255)
    limit: int = _Limit


class TaskTagLimitSet(_In):
    """``POST /task-tag-limits``: create or update the limit of a task tag."""

    tag: str = Field(min_length=1, max_length=255)
    limit: int = _Limit


class FlowConcurrencyLimit(BaseModel):
    """A flow-run concurrency limit on a label."""

    id: str
    label: str
    limit: int
    running: int
    created: dt.datetime
    updated: dt.datetime


class TaskTagLimit(BaseModel):
    """A task-run concurrency limit on a tag."""

    id: str
    tag: str
    limit: int
    running: int
    created: dt.datetime
    updated: dt.datetime


class SlotWait(BaseModel):
    """``GET /task-runs/{id}/wait-for-slot``: whether the task run may start now.

    ``available`` is true when none of the task's limited tags is at its limit, or when
    there is nothing to wait for (the task run is not Queued, or its flow run is not
    Running, so a Running proposal would be refused); ``full_tags`` names the tags still
    at their limit.
    """

    available: bool
    state_type: str | None
    full_tags: list[str]
