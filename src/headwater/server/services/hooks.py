"""The hook dispatcher: calls webhooks and Slack webhooks when flow runs change state.

Contract:

- Woken by ``flow_run.state`` events of the event bus (and every ``interval`` seconds as
  a fallback), it reads the flow-run state history written since its last pass (a cursor
  on the history's growing id; ids that were skipped, because their transaction had not
  committed yet, are looked at again for a minute) and matches each new state against
  the active hooks. History from before the dispatcher started, or from before a hook
  was created, never fires that hook. While no hook exists, it looks again at most every
  ``NO_HOOK_PAUSE`` seconds rather than on every state change (the history is read from
  its cursor either way, so a change made after a hook was created still fires it).
- Each match becomes one ``hook_deliveries`` row, unique per (hook, flow run, state
  version): a change is delivered once even when several server processes watch the same
  database. The call itself runs in the background (at most :data:`MAX_CONCURRENT` at a
  time; one hook's calls about one flow run go one after another, in state order) with
  ``settings.hook_timeout`` per attempt and ``settings.hook_retries`` retries (delays
  from ``settings.hook_retry_delay``, doubling); 2xx is success, other 4xx but 408 and
  429 are final. The outcome is written back to the delivery.
- State writes are never held up: they only queue the event; the dispatcher runs in its
  own task and keeps no database transaction open during a call.
- URLs and tokens come from the server's environment variables the hook names, read at
  call time; a missing variable fails the delivery with a message naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import time
from typing import Any

from sqlalchemy import func, or_, select

from headwater.server.database import Database, orm
from headwater.server.database.orm_backend import Hook
from headwater.server.events import CLOSING, RESYNC
from headwater.server.models import hooks as hook_models
from headwater.server.services._base import Service
from headwater.server.settings import ServerSettings

__all__ = ["MAX_CONCURRENT", "HookDispatcher", "hook_payload", "slack_payload"]

logger = logging.getLogger("headwater.server.services.hooks")

#: Hook calls in flight at once per server process.
MAX_CONCURRENT = 10
#: Longest sleep between passes without events (not a setting: events wake it).
IDLE_INTERVAL = 5.0
#: Seconds between looks for hooks while there is none (a server without hooks pays one
#: small query a second, not one per state change).
NO_HOOK_PAUSE = 1.0
_GAP_SECONDS = 60.0
_PAGE = 500


def hook_payload(hook: Hook, run: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a ``webhook`` call."""
    return {
        "event": "flow_run.state",
        "hook": {"id": hook.id, "name": hook.name},
        "flow_run": run,
        "state": state,
    }


def _slack_escape(text: str) -> str:
    # Slack's message format reserves these three characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_COLORS = {"Success": "#2e7d32", "Failed": "#c62828", "Cancelled": "#757575"}


def slack_payload(hook: Hook, run: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a ``slack`` call (an incoming-webhook message)."""
    del hook
    text = _slack_escape(
        f"Flow run {run['name']!r} of flow {run['flow_name']!r} "
        f"(project {run['project_name']!r}) is now {state['type']}"
    )
    fields = [
        {"title": "Message", "value": _slack_escape(state.get("message") or "(no message)")},
        {"title": "Flow run id", "value": run["id"], "short": True},
    ]
    return {
        "text": text,
        "attachments": [
            {
                "fallback": text,
                "color": _COLORS.get(state["type"], "#1565c0"),
                "title": state["type"],
                "text": text,
                "fields": fields,
                "footer": "Headwater",
                "ts": int(time.time()),
            }
        ],
    }


class HookDispatcher(Service):
    """Matches new flow-run states against hooks and calls them.

    Args:
        db: The server's database (its ``events`` bus wakes the dispatcher).
        timeout: Seconds per call attempt.
        retries: Attempts after the first.
        retry_delay: Seconds before the first retry (doubling).
        interval: Longest sleep between passes without events.
    """

    name = "hooks"

    def __init__(
        self,
        db: Database,
        *,
        timeout: float = ServerSettings.hook_timeout,
        retries: int = ServerSettings.hook_retries,
        retry_delay: float = ServerSettings.hook_retry_delay,
        interval: float = IDLE_INTERVAL,
    ) -> None:
        super().__init__(interval)
        self.db = db
        self.timeout = timeout
        self.retries = max(0, retries)
        self.retry_delay = max(0.0, retry_delay)
        self._cursor: int | None = None
        self._gaps: dict[int, float] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(MAX_CONCURRENT)
        self._http: Any = None
        self.delivered = 0
        # When the last look found no hook: passes before this time are skipped.
        self._quiet_until: float | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: ServerSettings) -> HookDispatcher:
        """A dispatcher configured by the server's settings."""
        return cls(
            db,
            timeout=settings.hook_timeout,
            retries=settings.hook_retries,
            retry_delay=settings.hook_retry_delay,
        )

    async def start(self) -> None:
        """Remember where the state history ends, then start the loop."""
        if self.interval <= 0 or self._task is not None:
            return
        async with self.db.read_session() as session:
            top = (await session.execute(select(func.max(orm.FlowRunState.id)))).scalar()
        self._cursor = int(top or 0)
        await super().start()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the loop and give calls in flight ``grace`` seconds to end."""
        await super().stop(grace)
        if self._sending:
            _, pending = await asyncio.wait(set(self._sending), timeout=grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(BaseException):
                    await task
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.aclose()
            self._http = None

    async def _loop(self) -> None:
        assert self._stopping is not None
        bus = self.db.events
        kinds = frozenset({"flow_run.state", RESYNC})
        if bus is None:
            await super()._loop()
            return
        async with bus.subscribe(kinds=kinds) as sub:
            while not self._stopping.is_set():
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("Hook dispatcher: a pass failed; trying again later.")
                self.passes += 1
                timeout = self.interval
                if self._quiet_until is not None:
                    timeout = min(timeout, max(0.0, self._quiet_until - time.monotonic()))
                waiting = asyncio.ensure_future(sub.wait(timeout))
                stopping = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for future in (waiting, stopping):
                        if not future.done():
                            future.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await future
                if waiting.done() and not waiting.cancelled():
                    event = waiting.result()
                    if event is not None and event.kind == CLOSING:
                        return
                sub.drain()

    async def run_once(self) -> None:
        """Find the states written since the last pass and deliver matching hooks."""
        if self._cursor is None:
            return
        now = time.monotonic()
        if self._quiet_until is not None and now < self._quiet_until:
            # No hook existed a moment ago: look again when the pause is over, not on
            # every state change. Nothing is missed: the cursor stayed where it was.
            return
        self._quiet_until = None
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < _GAP_SECONDS}
        async with self.db.read_session() as session:
            hooks = await hook_models.read_hooks(session, active=True)
            if not hooks:
                # Nothing can fire: move the cursor on without reading the history.
                top = (await session.execute(select(func.max(orm.FlowRunState.id)))).scalar()
                self._cursor = max(self._cursor, int(top or 0))
                self._gaps.clear()
                self._quiet_until = now + NO_HOOK_PAUSE
                return
            condition = orm.FlowRunState.id > self._cursor
            if self._gaps:
                condition = or_(condition, orm.FlowRunState.id.in_(list(self._gaps)))
            query = (
                select(
                    orm.FlowRunState.id,
                    orm.FlowRunState.flow_run_id,
                    orm.FlowRunState.version,
                    orm.FlowRunState.type,
                    orm.FlowRunState.message,
                    orm.FlowRunState.timestamp,
                    orm.FlowRun,
                )
                .join(orm.FlowRun, orm.FlowRun.id == orm.FlowRunState.flow_run_id)
                .where(condition)
                .order_by(orm.FlowRunState.id)
                .limit(_PAGE)
            )
            rows = list((await session.execute(query)).all())
        if not rows:
            return
        matches: list[tuple[Hook, dict[str, Any], dict[str, Any]]] = []
        for state_id, _run_id, version, type_, message, timestamp, run in rows:
            self._gaps.pop(state_id, None)
            if state_id > self._cursor:
                for missing in range(self._cursor + 1, state_id):
                    self._gaps.setdefault(missing, now)
                self._cursor = state_id
            for hook in hooks:
                # A hook fires for changes made after it was created, never for older ones.
                if timestamp < hook.created:
                    continue
                if hook_models.hook_matches(hook, run, type_):
                    matches.append(
                        (
                            hook,
                            _run_json(run),
                            {
                                "type": type_,
                                "message": message,
                                "version": version,
                                "timestamp": _iso(timestamp),
                            },
                        )
                    )
        if len(self._gaps) > 10_000:
            # A burst of deleted history, not transactions in flight: forget the oldest.
            for key in sorted(self._gaps)[: len(self._gaps) - 10_000]:
                del self._gaps[key]
        for hook, run_json, state in matches:
            async with self.db.session() as session:
                delivery = await hook_models.record_delivery(
                    session, hook, run_json["id"], state["version"], state["type"]
                )
                await session.commit()
            if delivery is not None:
                chain = (hook.id, str(run_json["id"]))
                previous = self._last.get(chain)
                task = asyncio.create_task(
                    self._deliver(delivery.id, hook, run_json, state, after=previous)
                )
                self._last[chain] = task
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                task.add_done_callback(functools.partial(self._forget, chain))
        if len(rows) == _PAGE and self._stopping is not None:
            # More history waits: come back at once rather than after the interval.
            await self.run_once()

    async def _client(self) -> Any:
        if self._http is None:
            import httpx  # deferred: a slow import, needed once a hook is called

            self._http = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                headers={"User-Agent": "Headwater hooks"},
            )
        return self._http

    def _forget(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._last.get(key) is task:
            del self._last[key]

    async def _deliver(
        self,
        delivery_id: str,
        hook: Hook,
        run: dict[str, Any],
        state: dict[str, Any],
        *,
        after: asyncio.Task[None] | None = None,
    ) -> None:
        if after is not None:
            # One hook hears about one run's states in the order they happened.
            with contextlib.suppress(BaseException):
                await asyncio.shield(after)
        async with self._limit:
            status, attempts, code, error = await self._call(hook, run, state)
        try:
            async with self.db.session() as session:
                await hook_models.finish_delivery(
                    session,
                    delivery_id,
                    status=status,
                    attempts=attempts,
                    response_status=code,
                    error=error,
                )
                await session.commit()
        except Exception:
            logger.exception("Hook dispatcher: could not record delivery %s", delivery_id)
        if status == "sent":
            self.delivered += 1
        else:
            logger.warning("Hook %r failed for flow run %s: %s", hook.name, run["id"], error)

    async def _call(
        self, hook: Hook, run: dict[str, Any], state: dict[str, Any]
    ) -> tuple[str, int, int | None, str | None]:
        url = os.environ.get(hook.url_env)
        if not url:
            return "failed", 0, None, f"The environment variable {hook.url_env} is not set."
        headers = {"Content-Type": "application/json"}
        if hook.token_env is not None:
            token = os.environ.get(hook.token_env)
            if not token:
                return "failed", 0, None, f"The environment variable {hook.token_env} is not set."
            headers["Authorization"] = f"Bearer {token}"
        body = (slack_payload if hook.kind == "slack" else hook_payload)(hook, run, state)
        client = await self._client()
        delay = self.retry_delay
        code: int | None = None
        error: str | None = None
        attempts = 0
        for attempt in range(self.retries + 1):
            attempts = attempt + 1
            try:
                response = await client.post(url, json=body, headers=headers)
                code = response.status_code
                if 200 <= code < 300:
                    return "sent", attempts, code, None
                error = f"HTTP {code}: {response.text[:200]}"
                if 400 <= code < 500 and code not in (408, 429):
                    break
            except Exception as exc:
                code = None
                # Never echo the URL: it is a secret.
                error = f"{type(exc).__name__} calling the hook's URL"
            if attempt < self.retries:
                await asyncio.sleep(delay)
                delay *= 2
        return "failed", attempts, code, error


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _run_json(run: orm.FlowRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "flow_id": run.flow_id,
        "flow_name": run.flow_name,
        "project_name": run.project_name,
        "labels": list(run.labels or []),
        "parameters": dict(run.parameters or {}),
        "parent_flow_run_id": run.parent_flow_run_id,
    }
