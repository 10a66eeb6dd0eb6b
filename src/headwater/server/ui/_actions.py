"""The UI's state-changing routes: cancel (one or many), rename, delete, start a run,
switch a flow's schedule on or off, and the API-key login.

Contract: every ``POST`` checks the CSRF token first (403 without it) and the login
(401) second, then calls the same model or orchestration function the REST API calls,
inside one transaction, so the rules, events and lineage cascade are the API's own. They
answer a small HTML message for the page's flash area; the page's live parts then update
from the event stream like any other change. Bad input answers 4xx with a readable line.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headwater.server import orchestration
from headwater.server.models import flow_runs, schedules
from headwater.server.models.errors import Conflict, InvalidInput, NotFound
from headwater.server.ui._auth import COOKIE, is_authenticated, session_token, valid_csrf
from headwater.server.ui._render import render
from headwater.server.ui._schedules import schedule_panel

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_DOMAIN_ERRORS = (NotFound, Conflict, InvalidInput)
_MAX_BULK = 1000


def _flash(
    request: Request,
    message: str,
    *,
    ok: bool = True,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "_flash.html",
        status_code=status_code,
        headers=headers,
        message=message,
        ok=ok,
    )


async def _form(request: Request) -> Any:
    return await request.form()


async def _guard(request: Request) -> tuple[Any, Response | None]:
    form = await _form(request)
    token = form.get("csrf_token")
    if not valid_csrf(request, token if isinstance(token, str) else None):
        return form, _flash(
            request,
            "This form is out of date or came from another site (missing CSRF token); "
            "reload the page and try again.",
            ok=False,
            status_code=403,
        )
    if not is_authenticated(request):
        return form, _flash(
            request,
            "Sign in with the server's API key first.",
            ok=False,
            status_code=401,
            headers={"HX-Redirect": "/login"},
        )
    return form, None


def _db(request: Request) -> Any:
    return request.app.state.db


def _cascade(form: Any) -> bool:
    return form.get("cascade") in ("1", "on", "true")


@router.post("/ui/runs/cancel", response_class=HTMLResponse)
async def cancel_many(request: Request) -> Response:
    """Cancel every checked run (and, with ``cascade``, their unfinished children)."""
    form, refused = await _guard(request)
    if refused is not None:
        return refused
    ids = [str(v)[:64] for v in form.getlist("run_id")][: _MAX_BULK + 1]
    if not ids:
        return _flash(request, "Select at least one run to cancel.", ok=False, status_code=422)
    if len(ids) > _MAX_BULK:
        return _flash(
            request, f"Cancel at most {_MAX_BULK} runs at once.", ok=False, status_code=422
        )
    changed: list[str] = []
    missing = 0
    async with _db(request).session() as session:
        for run_id in dict.fromkeys(ids):
            try:
                outcome = await orchestration.cancel_flow_run(
                    session, run_id, cascade=_cascade(form)
                )
            except NotFound:
                missing += 1
                continue
            changed.extend(outcome.cancelled)
        await session.commit()
    text = f"Cancelling {len(changed)} run(s)."
    if missing:
        text += f" {missing} selected run(s) no longer exist."
    return _flash(request, text)


@router.post("/ui/runs/{flow_run_id}/cancel", response_class=HTMLResponse)
async def cancel_one(request: Request, flow_run_id: str) -> Response:
    """Cancel one run; ``cascade`` chooses whether its unfinished children follow."""
    form, refused = await _guard(request)
    if refused is not None:
        return refused
    try:
        async with _db(request).session() as session:
            outcome = await orchestration.cancel_flow_run(
                session, flow_run_id[:64], cascade=_cascade(form)
            )
            await session.commit()
    except _DOMAIN_ERRORS as exc:
        return _flash(request, str(exc), ok=False, status_code=_status(exc))
    if not outcome.cancelled:
        return _flash(request, f"The run is already {outcome.state}; nothing to cancel.")
    others = len(outcome.cancelled) - (1 if flow_run_id in outcome.cancelled else 0)
    extra = f" and {others} child run(s)" if others else ""
    return _flash(request, f"Cancelling the run{extra}.")


@router.post("/ui/runs/{flow_run_id}/rename", response_class=HTMLResponse)
async def rename(request: Request, flow_run_id: str) -> Response:
    form, refused = await _guard(request)
    if refused is not None:
        return refused
    name = str(form.get("name") or "").strip()
    if len(name) > 255:
        return _flash(request, "A run name has at most 255 characters.", ok=False, status_code=422)
    try:
        async with _db(request).session() as session:
            await flow_runs.set_flow_run_name(session, flow_run_id[:64], name)
            await session.commit()
    except _DOMAIN_ERRORS as exc:
        return _flash(request, str(exc), ok=False, status_code=_status(exc))
    return _flash(request, f"Renamed the run to {name!r}.")


@router.post("/ui/runs/{flow_run_id}/delete", response_class=HTMLResponse)
async def delete(request: Request, flow_run_id: str) -> Response:
    _, refused = await _guard(request)
    if refused is not None:
        return refused
    try:
        async with _db(request).session() as session:
            await flow_runs.delete_flow_run(session, flow_run_id[:64])
            await session.commit()
    except _DOMAIN_ERRORS as exc:
        return _flash(request, str(exc), ok=False, status_code=_status(exc))
    return _flash(request, "Deleted the run.", headers={"HX-Redirect": "/"})


@router.post("/ui/runs/{flow_run_id}/restart", response_class=HTMLResponse)
async def restart(request: Request, flow_run_id: str) -> Response:
    """Restart a failed or cancelled run from its failed and unfinished task runs."""
    _, refused = await _guard(request)
    if refused is not None:
        return refused
    try:
        async with _db(request).session() as session:
            await orchestration.restart_flow_run(session, flow_run_id[:64])
            await session.commit()
    except _DOMAIN_ERRORS as exc:
        return _flash(request, str(exc), ok=False, status_code=_status(exc))
    return _flash(request, "Restarting the run from its failed tasks.")


def _status(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 422


def _parameter(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@router.post("/ui/flow-groups/{group_id}/run", response_class=HTMLResponse)
async def start_run(request: Request, group_id: str) -> Response:
    """Create a run of the flow group's newest version from the Run form.

    Parameter fields are ``param.<name>``; each is read as JSON, and taken as a string
    when it is not JSON. Empty fields keep the default.
    """
    form, refused = await _guard(request)
    if refused is not None:
        return refused
    parameters: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key.startswith("param.") and isinstance(value, str) and value.strip() != "":
            parameters[key[len("param.") :]] = _parameter(value)
    name = str(form.get("name") or "").strip()[:255] or None
    raw_labels = str(form.get("labels") or "").strip()
    labels = [x.strip() for x in raw_labels.split(",") if x.strip()] if raw_labels else None
    try:
        async with _db(request).session() as session:
            run, _ = await flow_runs.create_flow_run(
                session,
                flow_group_id=group_id[:64],
                parameters=parameters,
                labels=labels,
                name=name,
            )
            await session.commit()
            run_id = run.id
    except _DOMAIN_ERRORS as exc:
        return _flash(request, str(exc), ok=False, status_code=_status(exc))
    return _flash(request, "Created the run.", headers={"HX-Redirect": f"/runs/{quote(run_id)}"})


@router.post("/ui/flow-groups/{group_id}/schedule", response_class=HTMLResponse)
async def switch_schedule(request: Request, group_id: str) -> Response:
    """Switch the flow group's schedule on (``active=1``) or off (``active=0``).

    The same change as ``PATCH /api/flow-groups/{id}/schedule``: the switch and the
    reconciliation of the group's scheduled runs in one transaction, refused (422, nothing
    changed) when switching on would leave a required parameter without a value. The
    answer is the message plus the schedule panel, swapped in out of band.
    """
    form, refused = await _guard(request)
    if refused is not None:
        return refused
    raw = form.get("active")
    if raw not in ("0", "1"):
        return _flash(request, "Say active=1 (on) or active=0 (off).", ok=False, status_code=422)
    active = raw == "1"
    settings = request.app.state.settings
    group_id = group_id[:64]
    try:
        async with _db(request).session() as session:
            await schedules.update_schedule_settings(session, group_id, is_schedule_active=active)
            done = await schedules.reconcile(
                session, group_id, create=schedules.scheduling_on(settings)
            )
            await session.commit()
    except _DOMAIN_ERRORS as exc:
        return _flash(request, str(exc), ok=False, status_code=_status(exc))
    assert done is not None  # only a skip_locked reconcile gives None
    if active:
        text = f"Schedule switched on: {done.created} run(s) scheduled ahead."
        if not schedules.scheduling_on(settings):
            text = "Schedule switched on; the server's scheduler is off, so no runs are made."
    else:
        text = f"Schedule switched off: {done.removed} upcoming run(s) removed."
    async with _db(request).read_session() as session:
        panel = await schedule_panel(session, group_id, settings)
    return render(
        request,
        "_schedule_switched.html",
        message=text,
        ok=True,
        schedule_panel=panel,
        oob=True,
    )


# -- login ---------------------------------------------------------------------------


def _safe_next(raw: Any) -> str:
    target = str(raw or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    """Ask for the API key (only when the server has one)."""
    if not request.app.state.settings.api_key:
        return RedirectResponse("/", status_code=303)
    return render(
        request, "login.html", next=_safe_next(request.query_params.get("next")), error=None
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the API key and keep proof of it in an HttpOnly, SameSite=Strict cookie."""
    key: str | None = request.app.state.settings.api_key
    form = await _form(request)
    target = _safe_next(form.get("next"))
    if not key:
        return RedirectResponse("/", status_code=303)
    token = form.get("csrf_token")
    if not valid_csrf(request, token if isinstance(token, str) else None):
        return render(
            request,
            "login.html",
            status_code=403,
            next=target,
            error="The login form is out of date; try again.",
        )
    typed = str(form.get("api_key") or "").strip()
    if not typed or not hmac.compare_digest(typed.encode(), key.encode()):
        return render(
            request,
            "login.html",
            status_code=401,
            next=target,
            error="That is not this server's API key.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session_token(key),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    token = form.get("csrf_token")
    if not valid_csrf(request, token if isinstance(token, str) else None):
        return _flash(request, "Missing CSRF token.", ok=False, status_code=403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
