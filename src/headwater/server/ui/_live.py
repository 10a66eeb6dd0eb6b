"""The UI's live feed and the log download.

Contract:

- ``GET /ui/events`` is one server-sent event stream per browser tab. It subscribes to the
  server's event bus (every run) and sends ``event: change`` messages whose data is a JSON
  list of ``{"k": kind, "r": flow_run_id}``; events that arrive together are sent as one
  message with duplicates removed, so a burst of task-run states costs the browser one
  refresh. A ``bus.resync`` becomes ``{"k": "resync"}`` (the page re-reads everything).
  ``: ping`` comments keep idle connections open; the stream ends when the server shuts
  down. The browser's script (``static/ui.js``) swaps in the page parts that the changed
  runs concern, and polls slowly only while the stream is down.
- ``GET /ui/runs/{id}/logs.txt`` downloads a run's whole log as text, read in pages.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from headwater.server.database import orm
from headwater.server.events import CLOSING, RESYNC, EventBus
from headwater.server.ui._guard import require_login
from headwater.server.ui._queries import LEVELS
from headwater.server.ui._render import SECURITY_HEADERS, when

__all__ = ["BATCH_WINDOW", "PING_INTERVAL", "router"]

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)

#: Idle seconds between ``: ping`` comments.
PING_INTERVAL = 15.0
#: After the first event of a burst, wait this long for more before sending.
BATCH_WINDOW = 0.05
#: The browser reconnects after this many milliseconds when the stream drops.
RETRY_MS = 2000


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get("/ui/events")
async def events(request: Request) -> Response:
    """The tab's stream of change notices."""
    bus: EventBus = request.app.state.events

    async def stream() -> AsyncIterator[str]:
        async with bus.subscribe() as sub:
            yield f"retry: {RETRY_MS}\n" + _sse("hello", {})
            while not bus.closing:
                event = await sub.wait(PING_INTERVAL)
                if event is None:
                    if await request.is_disconnected():
                        return
                    yield ": ping\n\n"
                    continue
                await asyncio.sleep(BATCH_WINDOW)
                batch = [event, *sub.drain()]
                if any(e.kind == CLOSING for e in batch):
                    return
                changes: dict[tuple[str, str | None], None] = {}
                for item in batch:
                    kind = "resync" if item.kind == RESYNC else item.kind
                    changes[(kind, item.flow_run_id)] = None
                yield _sse("change", [{"k": k, "r": r} for k, r in changes])

    headers = dict(SECURITY_HEADERS)
    headers["X-Accel-Buffering"] = "no"
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/ui/runs/{flow_run_id}/logs.txt")
async def download_logs(request: Request, flow_run_id: str) -> Response:
    """The run's whole log as text (``timestamp level name: message`` per line)."""
    db = request.app.state.db
    level = (request.query_params.get("level") or "").upper()
    async with db.read_session() as session:
        run = await session.get(orm.FlowRun, flow_run_id[:64])
    if run is None:
        return Response(
            f"Flow run {flow_run_id!r} not found.\n", status_code=404, media_type="text/plain"
        )

    async def lines() -> AsyncIterator[str]:
        after = 0
        while True:
            async with db.read_session() as session:
                query = select(orm.Log).where(orm.Log.flow_run_id == run.id, orm.Log.id > after)
                if level in LEVELS:
                    query = query.where(orm.Log.level.in_(LEVELS[LEVELS.index(level) :]))
                rows = list(
                    (await session.execute(query.order_by(orm.Log.id).limit(5000))).scalars()
                )
            if not rows:
                return
            after = rows[-1].id
            yield "".join(f"{when(r.timestamp)} {r.level} {r.name}: {r.message}\n" for r in rows)

    filename = "".join(c if c.isalnum() or c in "-_" else "_" for c in run.name)[:80] or "run"
    return StreamingResponse(
        lines(),
        media_type="text/plain; charset=utf-8",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="{filename}.log"',
        },
    )
