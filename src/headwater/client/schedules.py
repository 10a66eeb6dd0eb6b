"""Client methods for a flow group's schedule: read, set, switch, late runs, backfill.

Contract:
    Schedules are sent in their JSON form (a :class:`~headwater.schedules.Schedule` is
    converted with ``to_ref()``; a dict passes through). Each method returns the group's
    schedule as ``GET /flow-groups/{id}/schedule`` does (``is_schedule_active``,
    ``schedule``, ``source``, ``late_runs``, ``late_runs_max_age``, ``next_times``...),
    except :meth:`SchedulesMixin.backfill_flow_group`. ``set_schedule_active`` /
    ``set_schedule_inactive`` take a flow (version) id, as Prefect 1's calls did, and act
    on its flow group. Switching on a schedule whose required parameters would have no
    value raises ``ClientError`` (HTTP 422) with the server's explanation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from headwater.client._base import route
from headwater.client._resource import Resource

__all__ = ["SchedulesMixin"]

_READ = route("GET", "/flow-groups/{flow_group_id}/schedule")
_SET = route("PUT", "/flow-groups/{flow_group_id}/schedule")
_DELETE = route("DELETE", "/flow-groups/{flow_group_id}/schedule")
_UPDATE = route("PATCH", "/flow-groups/{flow_group_id}/schedule", idempotent=True)
_BACKFILL = route("POST", "/flow-groups/{flow_group_id}/schedule/backfill", idempotent=True)
_ACTIVE = route("POST", "/flows/{flow_id}/set-schedule-active", idempotent=True)
_INACTIVE = route("POST", "/flows/{flow_id}/set-schedule-inactive", idempotent=True)

_SETTINGS = frozenset({"is_schedule_active", "late_runs", "late_runs_max_age"})


def _schedule_ref(schedule: Any) -> dict[str, Any]:
    if isinstance(schedule, dict):
        return schedule
    to_ref = getattr(schedule, "to_ref", None)
    if callable(to_ref):
        ref = to_ref()
        if isinstance(ref, dict):
            return ref
    raise TypeError(
        f"schedule must be a headwater.schedules.Schedule or its JSON form, got "
        f"{type(schedule).__name__}"
    )


def _iso(value: dt.datetime) -> str:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


class SchedulesMixin(Resource):
    """Read and change the schedule a flow group follows on the server."""

    def get_flow_group_schedule(self, flow_group_id: str) -> dict[str, Any]:
        """The schedule in effect for a flow group, its switch and next times.

        Raises:
            ObjectNotFound: no such flow group.
        """
        result: dict[str, Any] = self._transport.json(_READ, {"flow_group_id": flow_group_id})
        return result

    def set_flow_group_schedule(self, flow_group_id: str, schedule: Any) -> dict[str, Any]:
        """Give a flow group its own schedule; it wins over the versions' schedules.

        The group's future scheduled runs follow at once.

        Raises:
            TypeError: ``schedule`` has no JSON form.
            ClientError: the server refused the schedule (422).
        """
        result: dict[str, Any] = self._transport.json(
            _SET,
            {"flow_group_id": flow_group_id},
            json_body={"schedule": _schedule_ref(schedule)},
        )
        return result

    def delete_flow_group_schedule(self, flow_group_id: str) -> dict[str, Any]:
        """Remove a flow group's own schedule; the newest version's applies again."""
        result: dict[str, Any] = self._transport.json(_DELETE, {"flow_group_id": flow_group_id})
        return result

    def update_flow_group_schedule(self, flow_group_id: str, **fields: Any) -> dict[str, Any]:
        """Change ``is_schedule_active``, ``late_runs`` (``"all"``, ``"latest"`` or
        ``"skip"``) and ``late_runs_max_age`` (seconds, for ``"skip"``).

        Raises:
            TypeError: an unknown field.
            ClientError: a bad value, or switching on a schedule that cannot run (422).
        """
        unknown = sorted(set(fields) - _SETTINGS)
        if unknown:
            raise TypeError(
                f"update_flow_group_schedule got unknown field(s): {', '.join(unknown)}"
            )
        result: dict[str, Any] = self._transport.json(
            _UPDATE, {"flow_group_id": flow_group_id}, json_body=fields
        )
        return result

    def set_schedule_active(self, flow_id: str) -> dict[str, Any]:
        """Switch on the schedule of a flow's group (Prefect 1's ``set_schedule_active``).

        Raises:
            ObjectNotFound: no such flow.
            ClientError: a required parameter would have no value (422).
        """
        result: dict[str, Any] = self._transport.json(_ACTIVE, {"flow_id": flow_id})
        return result

    def set_schedule_inactive(self, flow_id: str) -> dict[str, Any]:
        """Switch off the schedule of a flow's group; its future scheduled runs that were
        never submitted are removed (Prefect 1's ``set_schedule_inactive``)."""
        result: dict[str, Any] = self._transport.json(_INACTIVE, {"flow_id": flow_id})
        return result

    def backfill_flow_group(
        self, flow_group_id: str, start: dt.datetime, end: dt.datetime
    ) -> dict[str, Any]:
        """Create the scheduled runs of ``start <= time <= end`` (times that have a run
        keep it).

        Returns:
            ``{"created": [flow runs], "existing": count of times that had a run}``.
        """
        result: dict[str, Any] = self._transport.json(
            _BACKFILL,
            {"flow_group_id": flow_group_id},
            json_body={"start": _iso(start), "end": _iso(end)},
        )
        return result
