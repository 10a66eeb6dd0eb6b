"""Server-side scheduling: which schedule a flow group follows, and its runs ahead.

Contract:

- A flow group follows its own schedule when one was set through the API
  (``flow_groups.schedule``), else the serialized schedule of its newest unarchived
  version (``flows.schedule``). ``flow_groups.is_schedule_active`` switches it on or off.
- Times are computed by :mod:`headwater.schedules` in each clock's time zone and stored
  in UTC. :func:`upcoming_events` gives the runs to keep ahead: at least
  :data:`MIN_RUNS_AHEAD` runs or :data:`MIN_TIME_AHEAD`, whichever is more, and at most
  :data:`MAX_RUNS_AHEAD`; only times strictly after now (nothing past is back-filled).
- A scheduled run's identity is its flow group plus :func:`run_key` (its UTC time and,
  when the clock sets them, a digest of the clock's parameter defaults and labels), kept
  as the run's ``idempotency_key`` under the ``(flow_group_id, idempotency_key)`` unique
  constraint. Versions and schedule ids are not part of it, so re-registering, restarts
  and several server processes cannot make a second run for one time.
- :func:`reconcile` brings one group's runs in line with its schedule inside the
  caller's transaction: future auto-scheduled runs that were never submitted (still the
  first ``Scheduled`` state, no agent) and no longer fit (other time, other version,
  schedule off) are deleted, and the missing ones are created. Ad-hoc runs, runs that
  were submitted, and finished or cancelled runs are never touched; a cancelled run keeps
  its key, so its slot is not filled again. With the schedule off, or no version left,
  every future never-submitted auto-scheduled run of the group is deleted. Runs already
  due (late, or created by a backfill) are left to the late-run policy.
- :func:`late_runs` finds the runs that became late (never submitted, due in the past)
  in groups whose late-run policy is not ``all``; cancelling them by the policy is a
  state change, done in :mod:`headwater.server.orchestration.late_runs`.
- :func:`backfill` creates the runs of a past interval with the same keys, so a slot
  that already has a run is not duplicated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.database.engine import insert_unique
from headwater.server.models.errors import InvalidInput, NotFound
from headwater.server.models.flow_runs import create_flow_run, new_flow_run_rows, queue_created
from headwater.server.settings import ServerSettings

__all__ = [
    "AUTO_KEY_PREFIX",
    "LATE_RUN_POLICIES",
    "MAX_BACKFILL_RUNS",
    "MAX_RUNS_AHEAD",
    "MIN_RUNS_AHEAD",
    "MIN_TIME_AHEAD",
    "Reconciled",
    "backfill",
    "check_schedule_parameters",
    "effective_schedule",
    "events_between",
    "groups_needing_runs",
    "late_runs",
    "lock_group",
    "never_submitted",
    "parse_schedule",
    "reconcile",
    "run_key",
    "schedule_info",
    "scheduling_on",
    "set_group_schedule",
    "upcoming_events",
    "update_schedule_settings",
]

#: Every scheduled run's idempotency key starts with this (as in Prefect 1 Server).
AUTO_KEY_PREFIX = "auto-scheduled:"
#: Runs kept ahead: at least this many ...
MIN_RUNS_AHEAD = 10
#: ... or at least this far ahead, whichever gives more runs ...
MIN_TIME_AHEAD = dt.timedelta(hours=1)
#: ... and never more than this many.
MAX_RUNS_AHEAD = 100
#: One backfill creates at most this many runs.
MAX_BACKFILL_RUNS = 1000
#: Late-run policies of a flow group.
LATE_RUN_POLICIES = ("all", "latest", "skip")


# -- pure computation -------------------------------------------------------------------


def parse_schedule(ref: Any) -> Any:
    """The :class:`~headwater.schedules.Schedule` of a JSON schedule reference.

    Raises:
        InvalidInput: ``ref`` is not a valid schedule reference.
    """
    # deferred: headwater.schedules loads dateutil; only groups with schedules need it
    from headwater.schedules import schedule_from_ref

    try:
        schedule = schedule_from_ref(ref)
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
        raise InvalidInput(f"Invalid schedule: {exc}") from None
    if schedule is None:
        raise InvalidInput("Invalid schedule: it is empty.")
    for number, clock in enumerate(schedule.clocks, start=1):
        labels = getattr(clock, "labels", None)
        if labels is not None and not all(isinstance(x, str) and x for x in labels):
            raise InvalidInput(
                f"Invalid schedule: the labels of clock {number} must be non-empty strings."
            )
    return schedule


def _events(schedule: Any, after: dt.datetime) -> Any:
    """The schedule's events after ``after``, ending quietly at the calendar's end."""
    iterator = iter(schedule.emit_events(after=after))
    while True:
        try:
            yield next(iterator)
        except (StopIteration, OverflowError):
            return


def _utc_event(event: Any) -> Any:
    # deferred: headwater.schedules loads dateutil; only groups with schedules need it
    from headwater.schedules.clocks import ClockEvent

    return ClockEvent(event.start_time.astimezone(dt.UTC), event.parameter_defaults, event.labels)


def run_key(event: Any) -> str:
    """The idempotency key of the scheduled run for ``event`` (a ``ClockEvent``).

    The UTC start time, plus a digest of the clock's parameter defaults and labels when
    the clock sets them: two clocks firing at one time with different values make two
    runs, the same values one.
    """
    start = event.start_time.astimezone(dt.UTC).isoformat()
    extra: dict[str, Any] = {}
    if event.parameter_defaults:
        extra["parameters"] = event.parameter_defaults
    if event.labels is not None:
        extra["labels"] = sorted(event.labels)
    key = f"{AUTO_KEY_PREFIX}{start}"
    if extra:
        digest = hashlib.sha256(
            json.dumps(extra, sort_keys=True, default=str).encode()
        ).hexdigest()[:32]
        key += f":{digest}"
    return key


def upcoming_events(schedule: Any, now: dt.datetime) -> list[Any]:
    """The events to keep runs for: strictly after ``now``, in UTC.

    At least :data:`MIN_RUNS_AHEAD` events or every event up to ``now +``
    :data:`MIN_TIME_AHEAD`, whichever is more, and at most :data:`MAX_RUNS_AHEAD`.
    """
    horizon = now + MIN_TIME_AHEAD
    events: list[Any] = []
    for event in _events(schedule, now):
        if len(events) >= MAX_RUNS_AHEAD:
            break
        if len(events) >= MIN_RUNS_AHEAD and event.start_time > horizon:
            break
        events.append(_utc_event(event))
    return events


def events_between(
    schedule: Any, start: dt.datetime, end: dt.datetime, limit: int = MAX_BACKFILL_RUNS
) -> list[Any]:
    """The schedule's events with ``start <= time <= end``, in UTC.

    Raises:
        InvalidInput: more than ``limit`` events fall in the interval.
    """
    events: list[Any] = []
    for event in _events(schedule, start - dt.timedelta(microseconds=1)):
        if event.start_time > end:
            break
        if len(events) >= limit:
            raise InvalidInput(
                f"The interval holds more than {limit} scheduled times; backfill a shorter one."
            )
        events.append(_utc_event(event))
    return events


def check_schedule_parameters(
    flow: orm.Flow, group: orm.FlowGroup, schedule: Any, *, action: str = "switched on"
) -> None:
    """Refuse a schedule whose runs could not be created.

    Every required parameter needs a value from its declared default, the group's default
    parameters, or each clock's ``parameter_defaults``; a clock may only set declared
    parameters.

    Raises:
        InvalidInput: a clock names an unknown parameter or leaves a required one empty.
    """
    declared: list[dict[str, Any]] = flow.parameters or []
    names = {p["name"] for p in declared}
    base = {p["name"] for p in declared if p.get("default") is not None}
    base |= set(group.default_parameters or {})
    for number, clock in enumerate(schedule.clocks, start=1):
        clock_defaults = set(getattr(clock, "parameter_defaults", None) or {})
        what = f"clock {number} ({type(clock).__name__})"
        unknown = sorted(clock_defaults - names)
        if unknown:
            raise InvalidInput(
                f"The schedule of flow {flow.name!r} cannot be {action}: {what} sets "
                f"parameter(s) {', '.join(map(repr, unknown))} that the flow does not "
                f"declare (declared: {', '.join(sorted(names)) or 'none'})."
            )
        missing = [
            p["name"]
            for p in declared
            if p.get("required") and p["name"] not in base | clock_defaults
        ]
        if missing:
            raise InvalidInput(
                f"The schedule of flow {flow.name!r} cannot be {action}: required "
                f"parameter(s) {', '.join(map(repr, missing))} have no default and {what} "
                "does not supply them in its parameter_defaults. Give the parameters "
                "defaults, set them on the clock, or register with "
                "set_schedule_active=False."
            )


# -- queries ----------------------------------------------------------------------------


def never_submitted() -> Any:
    """SQL condition: an auto-scheduled run still in its first ``Scheduled`` state."""
    fr = orm.FlowRun
    return and_(
        fr.auto_scheduled.is_(True),
        fr.state_type == "Scheduled",
        fr.version <= 1,
        fr.agent_id.is_(None),
        fr.times_resurrected == 0,
    )


async def lock_group(
    session: AsyncSession, flow_group_id: str, *, skip_locked: bool = False
) -> orm.FlowGroup | None:
    """The flow group, row-locked on PostgreSQL until the transaction ends.

    Returns ``None`` when ``skip_locked`` and another transaction holds the lock.

    Raises:
        NotFound: no such flow group.
    """
    stmt = select(orm.FlowGroup).where(orm.FlowGroup.id == flow_group_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=skip_locked)
    group = (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if group is None:
        if skip_locked:
            exists_now = (
                await session.execute(
                    select(orm.FlowGroup.id).where(orm.FlowGroup.id == flow_group_id)
                )
            ).scalar_one_or_none()
            if exists_now is not None:
                return None
        raise NotFound(f"Flow group {flow_group_id} not found.")
    return group


async def _newest_unarchived(session: AsyncSession, flow_group_id: str) -> orm.Flow | None:
    return (
        await session.execute(
            select(orm.Flow)
            .where(orm.Flow.flow_group_id == flow_group_id, orm.Flow.archived.is_(False))
            .order_by(orm.Flow.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def effective_schedule(
    session: AsyncSession, group: orm.FlowGroup
) -> tuple[Any, str | None, orm.Flow | None]:
    """``(schedule_ref, source, newest_unarchived_flow)`` of a flow group.

    ``source`` is ``"flow_group"`` (set through the API), ``"flow"`` (the newest
    unarchived version's) or ``None`` (no schedule).
    """
    flow = await _newest_unarchived(session, group.id)
    if group.schedule is not None:
        return group.schedule, "flow_group", flow
    if flow is not None and flow.schedule is not None:
        return flow.schedule, "flow", flow
    return None, None, flow


async def _delete_pending(
    session: AsyncSession,
    flow_group_id: str,
    now: dt.datetime,
    *,
    ids: list[str] | None = None,
) -> int:
    """Delete the group's future never-submitted auto-scheduled runs (or only ``ids``)."""
    fr = orm.FlowRun
    if ids is not None and not ids:
        return 0
    stmt = delete(fr).where(
        fr.flow_group_id == flow_group_id, never_submitted(), fr.scheduled_start_time > now
    )
    if ids is not None:
        stmt = stmt.where(fr.id.in_(ids))
    # The condition is checked again by the DELETE itself: a run an agent claimed a moment
    # ago is no longer "never submitted" and stays. Task runs, states, labels and logs go
    # with the run (ON DELETE CASCADE).
    deleted = list((await session.execute(stmt.returning(fr.id))).scalars())
    for run_id in deleted:
        queue_event(session, "flow_run.updated", flow_run_id=run_id, data={"deleted": True})
    return len(deleted)


@dataclass
class Reconciled:
    """What :func:`reconcile` did to one group."""

    created: int = 0
    removed: int = 0


async def _existing_keys(session: AsyncSession, flow_group_id: str, keys: list[str]) -> set[str]:
    fr = orm.FlowRun
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = await session.execute(
            select(fr.idempotency_key).where(
                fr.flow_group_id == flow_group_id, fr.idempotency_key.in_(chunk)
            )
        )
        found.update(k for k in rows.scalars() if k is not None)
    return found


async def _create_runs(
    session: AsyncSession, flow: orm.Flow, events: list[Any], skip: set[str]
) -> list[orm.FlowRun]:
    """Insert a run per event whose key is not in ``skip``, all in one batch.

    The caller holds the group's lock, so on SQLite (one writer) and PostgreSQL alike no
    other scheduler can insert these keys meanwhile; should the batch still meet a key
    (an ad-hoc run given one of these keys by hand), it is discarded and the runs are
    created one by one, each idempotently.
    """
    group = await session.get(orm.FlowGroup, flow.flow_group_id)
    assert group is not None  # guaranteed by the foreign key
    todo: list[tuple[str, Any]] = []
    for event in events:
        key = run_key(event)
        if key not in skip:
            skip.add(key)
            todo.append((key, event))
    if not todo:
        return []

    def options(key: str, event: Any) -> dict[str, Any]:
        return {
            "parameters": dict(event.parameter_defaults) or None,
            "labels": list(event.labels) if event.labels is not None else None,
            "scheduled_start_time": event.start_time,
            "idempotency_key": key,
            "auto_scheduled": True,
        }

    runs: list[orm.FlowRun] = []
    rows: list[object] = []
    for key, event in todo:
        run, run_rows = new_flow_run_rows(flow, group, **options(key, event))
        runs.append(run)
        rows.extend(run_rows)
    if await insert_unique(session, *rows):
        for run in runs:
            queue_created(session, run)
        return runs
    created: list[orm.FlowRun] = []
    for key, event in todo:
        run, new = await create_flow_run(session, flow_id=flow.id, **options(key, event))
        if new:
            created.append(run)
    return created


async def reconcile(
    session: AsyncSession,
    flow_group_id: str,
    *,
    now: dt.datetime | None = None,
    create: bool = True,
    skip_locked: bool = False,
    action: str = "switched on",
    check: bool = True,
) -> Reconciled | None:
    """Bring a flow group's scheduled runs in line with its schedule (caller commits).

    Args:
        session: Database session; everything happens in its transaction.
        flow_group_id: The flow group.
        now: The current time (default: the clock).
        create: Create the missing runs (``False``: only remove what no longer fits).
        skip_locked: On PostgreSQL, return ``None`` at once when another transaction
            holds the group (another server process is scheduling it).
        action: Wording for the error when the schedule's parameters do not fit.
        check: Refuse a schedule whose required parameters would have no value.

    Raises:
        NotFound: no such flow group.
        InvalidInput: the schedule is invalid, or (schedule on) a required parameter
            would have no value.
    """
    now = now or orm.utcnow()
    group = await lock_group(session, flow_group_id, skip_locked=skip_locked)
    if group is None:
        return None
    ref, _, flow = await effective_schedule(session, group)
    if flow is None or ref is None or not group.is_schedule_active:
        return Reconciled(removed=await _delete_pending(session, group.id, now))
    schedule = parse_schedule(ref)
    if check:
        check_schedule_parameters(flow, group, schedule, action=action)
    wanted = upcoming_events(schedule, now) if create else []
    want = {run_key(event): event for event in wanted}
    fr = orm.FlowRun
    pending = (
        await session.execute(
            select(fr.id, fr.idempotency_key, fr.flow_id).where(
                fr.flow_group_id == group.id,
                never_submitted(),
                fr.scheduled_start_time > now,
            )
        )
    ).all()
    stale = [run_id for run_id, key, flow_id in pending if key not in want or flow_id != flow.id]
    result = Reconciled(removed=await _delete_pending(session, group.id, now, ids=stale))
    if want:
        existing = await _existing_keys(session, group.id, list(want))
        result.created = len(await _create_runs(session, flow, wanted, existing))
    return result


async def groups_needing_runs(session: AsyncSession, now: dt.datetime) -> list[str]:
    """Ids of switched-on groups with a schedule whose runs ahead may be too few.

    A group is left out when it already has :data:`MAX_RUNS_AHEAD` future auto-scheduled
    runs, or at least :data:`MIN_RUNS_AHEAD` reaching :data:`MIN_TIME_AHEAD` ahead: the
    cheap test that keeps an idle pass to two queries.
    """
    g, f, fr = orm.FlowGroup, orm.Flow, orm.FlowRun
    rows = await session.execute(
        select(g.id, g.schedule.is_not(None), f.schedule.is_not(None))
        .join(f, and_(f.flow_group_id == g.id, f.archived.is_(False)))
        .where(g.is_schedule_active.is_(True))
    )
    # JSON "null" never lands in these columns (the model writes SQL NULL), so IS NOT NULL
    # is enough to tell which groups have a schedule.
    candidates = {gid for gid, own, version in rows.all() if own or version}
    if not candidates:
        return []
    counts = {
        gid: (count, last)
        for gid, count, last in (
            await session.execute(
                select(fr.flow_group_id, func.count(), func.max(fr.scheduled_start_time))
                .where(fr.auto_scheduled.is_(True), fr.scheduled_start_time > now)
                .group_by(fr.flow_group_id)
            )
        ).all()
    }
    horizon = now + MIN_TIME_AHEAD
    needing: list[str] = []
    for gid in sorted(candidates):
        count, last = counts.get(gid, (0, None))
        if count >= MAX_RUNS_AHEAD:
            continue
        if count >= MIN_RUNS_AHEAD and last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
            if last >= horizon:
                continue
        needing.append(gid)
    return needing


async def late_runs(session: AsyncSession, now: dt.datetime) -> list[Any]:
    """Late runs of groups with a late-run policy other than ``all``.

    Never-submitted runs due at or before ``now``, as rows of ``(id, version,
    flow_group_id, scheduled_start_time, late_runs, late_runs_max_age)``, each group's
    newest due run first.
    """
    g, fr = orm.FlowGroup, orm.FlowRun
    return list(
        (
            await session.execute(
                select(
                    fr.id,
                    fr.version,
                    fr.flow_group_id,
                    fr.scheduled_start_time,
                    g.late_runs,
                    g.late_runs_max_age,
                )
                .join(g, g.id == fr.flow_group_id)
                .where(g.late_runs != "all", never_submitted(), fr.scheduled_start_time <= now)
                .order_by(fr.flow_group_id, fr.scheduled_start_time.desc(), fr.id)
            )
        ).all()
    )


async def backfill(
    session: AsyncSession,
    flow_group_id: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
) -> tuple[list[orm.FlowRun], int]:
    """Create the group's scheduled runs for ``start <= time <= end`` (caller commits).

    Times that already have a run (of any state) keep it. The schedule need not be
    switched on: a backfill is an explicit request.

    Returns:
        ``(created_runs, already_existing)``.

    Raises:
        NotFound: no such flow group.
        InvalidInput: no schedule, no unarchived version, ``end`` before ``start``, too
            many times, or a required parameter without a value.
    """
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    if end < start:
        raise InvalidInput("A backfill's end must not be before its start.")
    group = await lock_group(session, flow_group_id)
    assert group is not None
    ref, _, flow = await effective_schedule(session, group)
    if flow is None:
        raise InvalidInput(f"Flow group {flow_group_id} has no unarchived version to run.")
    if ref is None:
        raise InvalidInput(f"Flow {flow.name!r} has no schedule to backfill.")
    schedule = parse_schedule(ref)
    check_schedule_parameters(flow, group, schedule, action="backfilled")
    events = events_between(schedule, start, end)
    keys = [run_key(e) for e in events]
    existing = await _existing_keys(session, group.id, keys)
    created = await _create_runs(session, flow, events, set(existing))
    return created, len(events) - len(created)


# -- settings ---------------------------------------------------------------------------


def scheduling_on(settings: ServerSettings) -> bool:
    """Whether the server creates scheduled runs at all (``scheduler_interval > 0``)."""
    return settings.scheduler_interval > 0


async def schedule_info(session: AsyncSession, flow_group_id: str) -> dict[str, Any]:
    """A group's schedule as the API returns it.

    Raises:
        NotFound: no such flow group.
    """
    group = await session.get(orm.FlowGroup, flow_group_id)
    if group is None:
        raise NotFound(f"Flow group {flow_group_id} not found.")
    ref, source, flow = await effective_schedule(session, group)
    next_times: list[dt.datetime] = []
    if ref is not None:
        try:
            schedule = parse_schedule(ref)
            next_times = [e.start_time for e in upcoming_events(schedule, orm.utcnow())][:10]
        except InvalidInput:
            next_times = []
    return {
        "flow_group_id": group.id,
        "flow_id": flow.id if flow is not None else None,
        "is_schedule_active": bool(group.is_schedule_active),
        "schedule": ref,
        "source": source,
        "flow_group_schedule": group.schedule,
        "late_runs": group.late_runs or "all",
        "late_runs_max_age": group.late_runs_max_age,
        "next_times": next_times,
    }


async def set_group_schedule(
    session: AsyncSession, flow_group_id: str, schedule: dict[str, Any] | None
) -> orm.FlowGroup:
    """Set (or, with ``None``, remove) a group's own schedule; the caller reconciles.

    Raises:
        NotFound: no such flow group.
        InvalidInput: the schedule does not parse.
    """
    group = await lock_group(session, flow_group_id)
    assert group is not None
    if schedule is not None:
        parse_schedule(schedule)
    group.schedule = schedule
    await session.flush()
    return group


_UNSET: Any = object()


async def update_schedule_settings(
    session: AsyncSession,
    flow_group_id: str,
    *,
    is_schedule_active: Any = _UNSET,
    late_runs: Any = _UNSET,
    late_runs_max_age: Any = _UNSET,
) -> orm.FlowGroup:
    """Change a group's schedule switch and late-run policy; the caller reconciles.

    Raises:
        NotFound: no such flow group.
        InvalidInput: an unknown policy, or ``skip`` without a positive maximum age.
    """
    group = await lock_group(session, flow_group_id)
    assert group is not None
    if is_schedule_active is not _UNSET:
        group.is_schedule_active = bool(is_schedule_active)
    if late_runs is not _UNSET:
        if late_runs not in LATE_RUN_POLICIES:
            raise InvalidInput(
                f"late_runs must be one of {', '.join(LATE_RUN_POLICIES)}, got {late_runs!r}."
            )
        group.late_runs = late_runs
    if late_runs_max_age is not _UNSET:
        if late_runs_max_age is not None and not late_runs_max_age > 0:
            raise InvalidInput("late_runs_max_age must be a positive number of seconds.")
        group.late_runs_max_age = late_runs_max_age
    if group.late_runs == "skip" and group.late_runs_max_age is None:
        raise InvalidInput(
            "The late-run policy 'skip' needs late_runs_max_age: the seconds after which "
            "a late run is skipped."
        )
    await session.flush()
    return group
