"""Request and response bodies of the artifact, key-value and hook routes (pydantic v2).

Contract: the same conventions as :mod:`headwater.server.schemas.api` (requests ignore
unknown fields, responses read ORM attributes); shapes as docs/internals/contracts.md
section 3.2 describes them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from headwater.server.schemas.states import ALL_TYPES

__all__ = [
    "HOOK_ENV_PREFIX",
    "Artifact",
    "ArtifactCreate",
    "ArtifactUpdate",
    "Hook",
    "HookCreate",
    "HookDelivery",
    "KeyValue",
    "KeyValueSet",
]

#: Hooks may only read environment variables with this prefix: a hook must not be able
#: to send any other secret of the server process to a URL of the caller's choosing.
HOOK_ENV_PREFIX = "HEADWATER_HOOK_"
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ArtifactCreate(_In):
    """``POST /artifacts``: attach an artifact to a task run (or to a flow run alone)."""

    task_run_id: str | None = None
    flow_run_id: str | None = None
    kind: Literal["link", "markdown"]
    data: dict[str, Any]


class ArtifactUpdate(_In):
    """``PATCH /artifacts/{id}``: replace the artifact's data (its kind stays)."""

    data: dict[str, Any]


class Artifact(_Out):
    """A stored artifact."""

    id: str
    flow_run_id: str
    task_run_id: str | None
    kind: str
    data: dict[str, Any]
    created: dt.datetime
    updated: dt.datetime


class KeyValueSet(_In):
    """``PUT /kv/{key}``."""

    value: Any = None


class KeyValue(_Out):
    """A key-value pair."""

    id: str
    key: str
    value: Any
    created: dt.datetime
    updated: dt.datetime


def _env_name(value: str | None) -> str | None:
    if value is None:
        return None
    if not _ENV_NAME.match(value) or not value.startswith(HOOK_ENV_PREFIX):
        raise ValueError(
            f"must name an environment variable of the server that starts with "
            f"{HOOK_ENV_PREFIX} (upper-case letters, digits and '_'), e.g. "
            f"{HOOK_ENV_PREFIX}SLACK_URL; got {value!r}"
        )
    return value


class HookCreate(_In):
    """``POST /hooks``."""

    name: str = Field(min_length=1, max_length=255)
    kind: Literal["webhook", "slack"]
    url_env: str = Field(min_length=1, max_length=255)
    token_env: str | None = Field(default=None, max_length=255)
    flow_name: str | None = Field(default=None, min_length=1, max_length=255)
    project_name: str | None = Field(default=None, min_length=1, max_length=255)
    states: list[str] = Field(default_factory=list, max_length=64)
    active: bool = True

    @field_validator("url_env", "token_env")
    @classmethod
    def _check_env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("states")
    @classmethod
    def _check_states(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - ALL_TYPES)
        if unknown:
            raise ValueError(
                f"unknown state type(s) {', '.join(map(repr, unknown))}; use names such as "
                "'Running', 'Success', 'Failed', 'Cancelled'"
            )
        return sorted(set(value))


class Hook(_Out):
    """A stored hook; ``configured`` says whether this server has its variables set."""

    id: str
    name: str
    kind: str
    url_env: str
    token_env: str | None
    flow_name: str | None
    project_name: str | None
    states: list[str]
    active: bool
    created: dt.datetime
    configured: bool = False


class HookDelivery(_Out):
    """One call of a hook for one flow-run state change."""

    id: str
    hook_id: str
    flow_run_id: str
    state_version: int
    state_type: str
    status: str
    attempts: int
    response_status: int | None
    error: str | None
    created: dt.datetime
    finished: dt.datetime | None
