"""The web UI in process: pages, fragments, filters, paging, escaping, actions, login,
and the geometry of the gantt and the schematic; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _core_support import Api

from headwater.server.ui import STATIC
from headwater.server.ui._charts import GanttRow, gantt, layered_layout

HOSTILE = "<script>alert('x')</script>"
HOSTILE_IMG = '"><img src=x onerror=alert(1)>'


@pytest.fixture
async def ui(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app's root (the UI), not /api."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html


async def start_running(api: Api, run_id: str) -> None:
    await api.set_state(run_id, "Submitted")
    await api.set_state(run_id, "Running")


# -- escaping ----------------------------------------------------------------------


async def test_every_page_escapes_hostile_names_parameters_and_logs(
    api: Api, ui: httpx.AsyncClient
) -> None:
    project = await api.project(HOSTILE)
    flow = await api.flow(
        name=HOSTILE_IMG,
        project_name=project["name"],
        parameters=[{"name": HOSTILE, "default": HOSTILE_IMG}],
        tasks=[{"slug": HOSTILE, "name": HOSTILE_IMG}],
        labels=[HOSTILE],
    )
    run = await api.run(
        flow_id=flow["id"], name=HOSTILE, parameters={HOSTILE: HOSTILE_IMG}, labels=[HOSTILE]
    )
    await start_running(api, run["id"])
    await api.call(
        "POST",
        "/logs",
        json={"logs": [{"flow_run_id": run["id"], "message": HOSTILE, "name": HOSTILE_IMG}]},
    )
    pages = [
        "/",
        f"/?label={HOSTILE}",
        f"/runs/{run['id']}",
        f"/flow-groups/{flow['flow_group_id']}",
        "/projects",
        "/agents",
        f"/ui/runs/{run['id']}/logs",
        f"/ui/runs/{run['id']}/logs/rows?after_id=0",
        f"/ui/runs/{run['id']}/tasks",
        f"/ui/runs/{run['id']}/gantt",
        f"/ui/runs/{run['id']}/schematic",
        f"/runs/{HOSTILE_IMG}",
    ]
    for path in pages:
        response = await ui.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert_escaped(response.text)
        assert "text/html" in response.headers["content-type"]
        assert "script-src 'self'" in response.headers["content-security-policy"]
    page = (await ui.get(f"/runs/{run['id']}")).text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    logs = (await ui.get(f"/ui/runs/{run['id']}/logs.txt")).text
    assert HOSTILE in logs  # plain text download, served as text/plain


# -- runs page -----------------------------------------------------------------------


async def test_runs_page_filters_counts_and_pages_newest_first(
    api: Api, ui: httpx.AsyncClient
) -> None:
    one = await api.flow(name="alpha")
    two = await api.flow(name="beta")
    alpha_ids = [
        (await api.run(flow_id=one["id"], name=f"alpha-{i:03d}", labels=["red"]))["id"]
        for i in range(60)
    ]
    beta_ids = [(await api.run(flow_id=two["id"], name=f"beta-{i:03d}"))["id"] for i in range(15)]
    child = await api.run(flow_id=two["id"], name="child-run", parent_flow_run_id=alpha_ids[0])
    for run_id in beta_ids[:5]:
        await api.set_state(run_id, "Cancelled")

    page = (await ui.get("/")).text
    assert 'id="runs-total">76<' in page
    assert page.count('name="run_id"') == 50
    # Newest first: the last created run heads the list.
    assert page.index("child-run") < page.index("beta-014") < page.index("beta-000")
    counts = re.findall(r"st-(\w+)\">\1 <b>(\d+)</b>", page)
    assert dict(counts) == {"Scheduled": "71", "Cancelled": "5"}

    last = (await ui.get("/?page=2")).text
    assert last.count('name="run_id"') == 26
    assert "alpha-000" in last
    assert 'id="older"' not in last

    cancelled = (await ui.get("/?state=Cancelled")).text
    assert cancelled.count('name="run_id"') == 5
    # The counts stay those of every state, so other states can be picked.
    assert "Scheduled <b>71</b>" in cancelled

    by_flow = (await ui.get("/?flow=ALP")).text
    assert by_flow.count('name="run_id"') == 50 and "beta-" not in by_flow
    by_label = (await ui.get("/?label=red&page=2")).text
    assert by_label.count('name="run_id"') == 10
    by_project = (await ui.get("/", params={"project": two["project_name"]})).text
    assert by_project.count('name="run_id"') == 16
    top = (await ui.get("/?top=1&flow=beta")).text
    assert top.count('name="run_id"') == 15 and "child-run" not in top

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert (await ui.get(f"/?since={future}")).text.count('name="run_id"') == 0
    assert (await ui.get(f"/?until={future}&flow=beta")).text.count('name="run_id"') == 16

    bad = await ui.get("/?since=yesterday")
    assert bad.status_code == 422
    assert "From must be a date and time" in bad.text
    assert (await ui.get("/?state=Bogus")).status_code == 422

    fragment = await ui.get("/ui/fragments/runs?state=Cancelled")
    assert fragment.status_code == 200
    assert fragment.text.startswith('<div id="runs-body"')
    assert child["id"] in (await ui.get("/?flow=beta")).text


# -- run page ------------------------------------------------------------------------


async def test_run_page_counts_task_runs_and_folds_mapped_children(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await api.flow(
        name="mapper",
        tasks=[
            {"slug": "numbers-1", "name": "numbers"},
            {"slug": "double-1", "name": "double", "mapped": True},
        ],
        edges=None,
    )
    run = await api.run(flow_id=flow["id"])
    await start_running(api, run["id"])
    tasks = await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]})
    by_slug = {t["task_slug"]: t for t in tasks}
    await api.set_task_state(by_slug["numbers-1"]["id"], "Running")
    await api.set_task_state(by_slug["numbers-1"]["id"], "Success")
    await api.set_task_state(by_slug["double-1"]["id"], "Mapped")
    for i in range(130):
        child = await api.call(
            "POST",
            "/task-runs",
            201,
            json={"flow_run_id": run["id"], "task_slug": "double-1", "map_index": i},
        )
        await api.set_task_state(child["id"], "Running")
        if i % 10 == 0:
            await api.set_task_state(child["id"], "Failed", state={"message": "boom"})

    page = (await ui.get(f"/runs/{run['id']}")).text
    assert 'data-slug="numbers-1"' in page and 'data-slug="double-1"' in page
    table = page[page.index('id="tasks-table"') : page.index("</table>", page.index("tasks-table"))]
    assert table.count("<tr data-slug=") == 2  # children are folded into their task
    assert "Running <b>117</b>" in page and "Failed <b>13</b>" in page
    assert "Success <b>1</b>" in page and "Mapped <b>1</b>" in page

    failed = (await ui.get(f"/ui/runs/{run['id']}/tasks?task_state=Failed")).text
    assert failed.count("<tr data-slug=") == 1 and 'data-slug="double-1"' in failed
    success = (await ui.get(f"/ui/runs/{run['id']}/tasks?task_state=Success")).text
    assert success.count("<tr data-slug=") == 1 and 'data-slug="numbers-1"' in success

    children = (await ui.get(f"/ui/runs/{run['id']}/children", params={"slug": "double-1"})).text
    assert "(130)" in children and "page 1 of 2" in children
    second = await ui.get(f"/ui/runs/{run['id']}/children", params={"slug": "double-1", "page": 2})
    assert second.text.count("<tr><td>") == 30
    only_failed = await ui.get(
        f"/ui/runs/{run['id']}/children", params={"slug": "double-1", "task_state": "Failed"}
    )
    assert "(13)" in only_failed.text

    gantt_html = (await ui.get(f"/ui/runs/{run['id']}/gantt")).text
    assert gantt_html.count('<g class="bar"') == 2
    assert "double [130]" in gantt_html
    history = (await ui.get(f"/ui/runs/{run['id']}/history")).text
    assert history.count("<tr><td>") == 3  # Scheduled, Submitted, Running
    assert (await ui.get("/runs/no-such-run")).status_code == 404


async def test_lineage_breadcrumb_and_descendant_tree(api: Api, ui: httpx.AsyncClient) -> None:
    flow = await api.flow(name="family")
    root = await api.run(flow_id=flow["id"], name="root-run")
    child = await api.run(flow_id=flow["id"], name="child-run", parent_flow_run_id=root["id"])
    grandchild = await api.run(
        flow_id=flow["id"], name="grandchild-run", parent_flow_run_id=child["id"]
    )
    await api.set_state(grandchild["id"], "Cancelled")

    page = (await ui.get(f"/runs/{grandchild['id']}")).text
    crumb = page[page.index('id="breadcrumb"') : page.index("</nav>", page.index("breadcrumb"))]
    assert crumb.index("root-run") < crumb.index("child-run") < crumb.index("grandchild-run")
    assert f'href="/runs/{root["id"]}"' in crumb and f'href="/runs/{child["id"]}"' in crumb

    top = (await ui.get(f"/ui/runs/{root['id']}/lineage")).text
    assert "Child runs (2)" in top
    tree = top[top.index('id="child-tree"') :]
    assert tree.index("child-run") < tree.index("grandchild-run")
    assert "st-Cancelled" in tree
    # The part listens to every run of the tree.
    assert grandchild["id"] in re.search(r'data-live="([^"]*)"', top).group(1)  # type: ignore[union-attr]


async def test_schematic_is_layered_and_behind_a_click_when_large(
    api: Api, ui: httpx.AsyncClient
) -> None:
    small = await api.flow(
        name="small",
        tasks=[{"slug": "a"}, {"slug": "b"}, {"slug": "c"}],
        serialized_flow_edges=None,
    )
    run = await api.run(flow_id=small["id"])
    page = (await ui.get(f"/runs/{run['id']}")).text
    assert 'id="schematic-svg"' in page
    big_tasks = [{"slug": f"t{i}"} for i in range(400)]
    big = await api.flow(name="big", tasks=big_tasks)
    big_run = await api.run(flow_id=big["id"])
    big_page = (await ui.get(f"/runs/{big_run['id']}")).text
    assert 'id="draw-schematic"' in big_page and 'id="schematic-svg"' not in big_page
    drawn = (await ui.get(f"/ui/runs/{big_run['id']}/schematic")).text
    assert drawn.count('<g class="node') == 400


# -- actions, CSRF and the login -------------------------------------------------------


async def test_actions_need_the_csrf_token_and_cancel_with_or_without_children(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await api.flow(name="actions")
    parent = await api.run(flow_id=flow["id"])
    child = await api.run(flow_id=flow["id"], parent_flow_run_id=parent["id"])
    other = await api.run(flow_id=flow["id"])
    other_child = await api.run(flow_id=flow["id"], parent_flow_run_id=other["id"])

    refused = await ui.post(f"/ui/runs/{parent['id']}/cancel", data={"cascade": "1"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    forged = await ui.post(f"/ui/runs/{parent['id']}/cancel", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert (await api.call("GET", f"/flow-runs/{parent['id']}"))["state_type"] == "Scheduled"

    token = csrf_of((await ui.get(f"/runs/{parent['id']}")).text)
    done = await ui.post(
        f"/ui/runs/{parent['id']}/cancel", data={"csrf_token": token, "cascade": "1"}
    )
    assert done.status_code == 200 and "and 1 child run(s)" in done.text
    for run_id in (parent["id"], child["id"]):
        assert (await api.call("GET", f"/flow-runs/{run_id}"))["state_type"] == "Cancelled"

    alone = await ui.post(f"/ui/runs/{other['id']}/cancel", headers={"X-CSRF-Token": token})
    assert alone.status_code == 200
    assert (await api.call("GET", f"/flow-runs/{other['id']}"))["state_type"] == "Cancelled"
    assert (await api.call("GET", f"/flow-runs/{other_child['id']}"))["state_type"] == "Scheduled"

    renamed = await ui.post(
        f"/ui/runs/{other_child['id']}/rename", data={"csrf_token": token, "name": HOSTILE}
    )
    assert renamed.status_code == 200
    assert_escaped(renamed.text)
    assert (await api.call("GET", f"/flow-runs/{other_child['id']}"))["name"] == HOSTILE
    empty = await ui.post(
        f"/ui/runs/{other_child['id']}/rename", data={"csrf_token": token, "name": " "}
    )
    assert empty.status_code == 422 and "must not be empty" in empty.text

    bulk = [(await api.run(flow_id=flow["id"]))["id"] for _ in range(3)]
    response = await ui.post(
        "/ui/runs/cancel",
        data={"csrf_token": token, "run_id": [*bulk, "missing-run"]},
    )
    assert response.status_code == 200 and "Cancelling 3 run(s)" in response.text
    assert "1 selected run(s) no longer exist" in response.text
    states = [(await api.call("GET", f"/flow-runs/{r}"))["state_type"] for r in bulk]
    assert states == ["Cancelled"] * 3
    nothing = await ui.post("/ui/runs/cancel", data={"csrf_token": token})
    assert nothing.status_code == 422

    deleted = await ui.post(f"/ui/runs/{bulk[0]}/delete", data={"csrf_token": token})
    assert deleted.status_code == 200 and deleted.headers["hx-redirect"] == "/"
    await api.call("GET", f"/flow-runs/{bulk[0]}", 404)
    gone = await ui.post(f"/ui/runs/{bulk[0]}/delete", data={"csrf_token": token})
    assert gone.status_code == 404


async def test_run_form_starts_a_run_with_json_parameters(api: Api, ui: httpx.AsyncClient) -> None:
    flow = await api.flow(
        name="form",
        parameters=[
            {"name": "n", "default": 3},
            {"name": "who", "required": True},
        ],
    )
    page = (await ui.get(f"/flow-groups/{flow['flow_group_id']}")).text
    assert 'name="param.n" value="3"' in page
    token = csrf_of(page)
    url = f"/ui/flow-groups/{flow['flow_group_id']}/run"
    missing = await ui.post(url, data={"csrf_token": token, "param.n": "5"})
    assert missing.status_code == 422 and "who" in missing.text
    made = await ui.post(
        url,
        data={
            "csrf_token": token,
            "param.n": "[1, 2]",
            "param.who": "plain text",
            "name": "from-the-form",
            "labels": "a, b",
        },
    )
    assert made.status_code == 200
    run_id = made.headers["hx-redirect"].rsplit("/", 1)[1]
    run = await api.call("GET", f"/flow-runs/{run_id}")
    assert run["parameters"] == {"n": [1, 2], "who": "plain text"}
    assert run["name"] == "from-the-form" and run["labels"] == ["a", "b"]
    unknown = await ui.post(url, data={"csrf_token": token, "param.zzz": "1", "param.who": "x"})
    assert unknown.status_code == 422 and "zzz" in unknown.text
    assert (await ui.get("/flow-groups/nope")).status_code == 404


@pytest.fixture
async def keyed_app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    from sqlalchemy import text

    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    application = create_app(
        ServerSettings(
            home=tmp_path, database_url=database_url, start_services=False, api_key="s3cret"
        )
    )
    async with application.router.lifespan_context(application):
        db = application.state.db
        if db.dialect == "postgresql":
            from _core_support import TABLES as _TABLES

            async with db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        yield application


async def test_api_key_login_keeps_a_strict_httponly_cookie(keyed_app: Any) -> None:
    transport = httpx.ASGITransport(app=keyed_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as ui:
        for path in ("/", "/agents", "/projects", "/runs/x"):
            response = await ui.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
        assert (await ui.get("/ui/fragments/runs")).status_code == 401
        assert (await ui.get("/ui/events")).status_code == 401
        assert (await ui.get("/ui/runs/x/logs.txt")).status_code == 401
        assert (await ui.get("/api/flow-runs")).status_code == 401
        login = await ui.get("/login?next=/agents")
        assert login.status_code == 200
        token = csrf_of(login.text)
        no_csrf = await ui.post("/login", data={"api_key": "s3cret"})
        assert no_csrf.status_code == 403
        wrong = await ui.post("/login", data={"api_key": "guess", "csrf_token": token})
        assert wrong.status_code == 401 and "not this server" in wrong.text
        assert "headwater_ui" not in wrong.headers.get("set-cookie", "")
        # A cookie the client makes up does not count.
        ui.cookies.set("headwater_ui", "s3cret")
        assert (await ui.get("/")).status_code == 303
        ui.cookies.clear()
        good = await ui.post(
            "/login",
            data={"api_key": "s3cret", "csrf_token": token, "next": "//evil.example/"},
        )
        assert good.status_code == 303 and good.headers["location"] == "/"
        cookie = good.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "s3cret" not in cookie
        page = await ui.get("/agents")
        assert page.status_code == 200
        csrf = csrf_of(page.text)
        # The key still guards the API itself; the cookie is only for the UI.
        assert (await ui.get("/api/flow-runs")).status_code == 401
        out = await ui.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        ui.cookies.clear()
        assert (await ui.get("/")).status_code == 303


async def test_the_ui_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    application = create_app(
        ServerSettings(home=tmp_path, database_url=database_url, start_services=False, ui=False)
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            assert (await c.get("/")).status_code == 404
            assert (await c.get("/ui/static/htmx.min.js")).status_code == 404
            assert (await c.get("/api/health")).status_code == 200


async def test_ui_routes_stay_out_of_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("openapi.json")).json()["paths"]
    assert all(p.startswith("/api/") for p in paths)


async def test_agents_page_names_late_runs_that_no_agent_can_take(
    api: Api, ui: httpx.AsyncClient
) -> None:
    await api.call("POST", "/agents", json={"name": "gpu-box", "type": "local", "labels": ["gpu"]})
    flow = await api.flow(name="late")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat()
    stuck = await api.run(
        flow_id=flow["id"], name="needs-arm", labels=["arm"], scheduled_start_time=past
    )
    fits = await api.run(
        flow_id=flow["id"], name="needs-gpu", labels=["gpu"], scheduled_start_time=past
    )
    page = (await ui.get("/agents")).text
    assert "gpu-box" in page and "healthy" in page
    late = page[page.index('id="late-runs"') :]
    assert stuck["name"] in late and fits["name"] not in late
    assert "No agent has the labels this run needs (arm)" in late


# -- pure geometry -------------------------------------------------------------------


def test_gantt_places_bars_on_the_run_time_axis() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    s = dt.timedelta(seconds=1)
    rows = [
        GanttRow("a", "a", t0, t0 + 2 * s, "Success"),
        GanttRow("b", "b", t0 + 2 * s, t0 + 6 * s, "Failed", children=4),
        GanttRow("c", "c", t0 + 8 * s, None, "Running"),
        GanttRow("d", "d", None, None, "Pending"),
    ]
    chart = gantt(
        rows,
        [(t0, "Running")],
        run_start=t0,
        run_end=None,
        now=t0 + 10 * s,
        width=1000,
    )
    assert [b.slug for b in chart.bars] == ["a", "b", "c"]  # never-started tasks get no bar
    a, b, c = chart.bars
    assert (a.x, a.width) == (0.0, 200.0)
    assert (b.x, b.width, b.children) == (200.0, 400.0, 4)
    assert (c.x, c.width, c.running) == (800.0, 200.0, True)
    assert a.y < b.y < c.y
    assert chart.segments[0].x == 0 and chart.segments[0].width == 1000
    assert chart.ticks[-1] == (1000.0, "10s")
    empty = gantt([], [], run_start=None, run_end=None, now=t0)
    assert empty.bars == [] and empty.start is None
    instant = gantt([GanttRow("z", "z", t0, t0, "Success")], [], run_start=t0, run_end=t0, now=t0)
    assert instant.bars[0].width >= 1.0


def test_layered_layout_puts_each_task_after_its_upstream_tasks() -> None:
    tasks = [{"slug": s} for s in ("a", "b", "c", "d", "e")]
    edges = [
        {"upstream_task": "a", "downstream_task": "b"},
        {"upstream_task": "a", "downstream_task": "c"},
        {"upstream_task": "b", "downstream_task": "d"},
        {"upstream_task": "c", "downstream_task": "d"},
        {"upstream_task": "a", "downstream_task": "d"},
        {"upstream_task": "x", "downstream_task": "a"},  # unknown task: ignored
    ]
    layout = layered_layout(tasks, edges)
    layer = {slug: node.layer for slug, node in layout.nodes.items()}
    assert layer == {"a": 0, "e": 0, "b": 1, "c": 1, "d": 2}
    assert len(layout.edges) == 5
    for x1, _, x2, _ in layout.edges:
        assert x1 < x2
    positions = {(n.layer, n.index) for n in layout.nodes.values()}
    assert len(positions) == 5  # no two tasks share a place


def test_vendored_htmx_matches_its_recorded_checksum() -> None:
    record = (STATIC / "VENDORED.md").read_text()
    digest = hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest()
    assert digest in record
    assert "| 2.0." in record


async def test_log_panel_filters_by_level_and_tails_after_an_id(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await api.flow(name="logs")
    run = await api.run(flow_id=flow["id"])
    lines = [
        {"flow_run_id": run["id"], "message": f"line {i}", "level": level}
        for i, level in enumerate(["DEBUG", "INFO", "WARNING", "ERROR", 50, "INFO"])
    ]
    await api.call("POST", "/logs", json={"logs": lines})
    panel = (await ui.get(f"/ui/runs/{run['id']}/logs")).text
    assert panel.count("<tr data-id=") == 6
    warnings = (await ui.get(f"/ui/runs/{run['id']}/logs?level=WARNING")).text
    assert re.findall(r"line (\d)", warnings) == ["2", "3", "4"]
    assert 'class="lv-CRITICAL"' in warnings
    ids = [int(x) for x in re.findall(r'data-id="(\d+)"', panel)]
    tail = await ui.get(f"/ui/runs/{run['id']}/logs/rows?after_id={ids[3]}")
    assert re.findall(r"line (\d)", tail.text) == ["4", "5"]
    assert tail.headers["x-last-log-id"] == str(ids[-1])
    empty = await ui.get(f"/ui/runs/{run['id']}/logs/rows?after_id={ids[-1]}")
    assert empty.text.strip() == "" and empty.headers["x-last-log-id"] == str(ids[-1])
    text = (await ui.get(f"/ui/runs/{run['id']}/logs.txt?level=ERROR")).text
    assert [line.split(": ", 1)[1] for line in text.splitlines()] == ["line 3", "line 4"]
    assert (await ui.get("/ui/runs/missing/logs.txt")).status_code == 404


async def test_restart_is_offered_for_failed_runs_and_schedules_them_again(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await api.flow(name="restart")
    done = await api.run(flow_id=flow["id"])
    await api.set_state(done["id"], "Running")
    await api.set_state(done["id"], "Success")
    page = (await ui.get(f"/runs/{done['id']}")).text
    assert 'id="restart-run"' not in page
    token = csrf_of(page)
    refused = await ui.post(f"/ui/runs/{done['id']}/restart", data={"csrf_token": token})
    assert refused.status_code == 409 and "only a failed or cancelled" in refused.text

    failed = await api.run(flow_id=flow["id"])
    await api.set_state(failed["id"], "Running")
    await api.set_state(failed["id"], "Failed")
    page = (await ui.get(f"/runs/{failed['id']}")).text
    assert 'id="restart-run"' in page
    assert (await ui.post(f"/ui/runs/{failed['id']}/restart")).status_code == 403
    answer = await ui.post(f"/ui/runs/{failed['id']}/restart", data={"csrf_token": token})
    assert answer.status_code == 200 and "Restarting" in answer.text
    again = await api.call("GET", f"/flow-runs/{failed['id']}", 200)
    assert again["state_type"] == "Scheduled"


def _every_minute() -> dict[str, Any]:
    from headwater.schedules import Schedule, clocks

    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    clock = clocks.IntervalClock(dt.timedelta(seconds=60), start_date=start)
    return Schedule(clocks=[clock]).to_ref()


async def _scheduled_flow(
    api: Api, name: str, parameters: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    project = await api.project()
    body = {
        "name": name,
        "project_name": project["name"],
        "serialized_flow": {
            "parameters": parameters or [],
            "tasks": [{"slug": "a-1", "name": "a"}],
            "schedule": _every_minute(),
        },
        **extra,
    }
    result: dict[str, Any] = await api.call("POST", "/flows", 201, json=body)
    return result


def _listed_runs(html: str) -> list[str]:
    panel = html[html.index('id="flow-schedule"') :]
    panel = panel[: panel.index("</div>")]
    rows = re.findall(r'<tr data-run="([^"]+)"><td><a href="/runs/([^"]+)">', panel)
    assert all(run == link for run, link in rows), "each row links to its run page"
    return [run for run, _ in rows]


async def _upcoming(api: Api, group: str) -> list[str]:
    runs = await api.call(
        "GET",
        "/flow-runs",
        params={"flow_group_id": group, "upcoming": "true", "auto_scheduled": "true"},
    )
    return [r["id"] for r in runs]


async def test_flow_page_switches_the_schedule_and_lists_the_scheduler_runs(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await _scheduled_flow(api, "every-minute")
    group = flow["flow_group_id"]
    ad_hoc = await api.run(flow_id=flow["id"], name="by-hand")
    upcoming = await _upcoming(api, group)
    assert len(upcoming) >= 10

    page = (await ui.get(f"/flow-groups/{group}")).text
    listed = _listed_runs(page)
    assert listed == upcoming[:10]
    assert ad_hoc["id"] not in listed
    assert 'id="schedule-state">on<' in page and "Turn schedule off" in page
    assert "IntervalClock every 60.0 s" in page
    assert "all start, however late (all)" in page
    assert f"of {len(upcoming)}" in page
    token = csrf_of(page)
    url = f"/ui/flow-groups/{group}/schedule"

    # Without the token (or with a forged one) nothing changes.
    for data in ({"active": "0"}, {"active": "0", "csrf_token": "0" * 64}):
        refused = await ui.post(url, data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert await _upcoming(api, group) == upcoming
    bad = await ui.post(url, data={"csrf_token": token, "active": "maybe"})
    assert bad.status_code == 422

    off = await ui.post(url, data={"csrf_token": token, "active": "0"})
    assert off.status_code == 200
    assert f"{len(upcoming)} upcoming run(s) removed" in off.text
    assert 'hx-swap-oob="true"' in off.text and 'id="schedule-state">off<' in off.text
    assert await _upcoming(api, group) == []
    info = await api.call("GET", f"/flow-groups/{group}/schedule")
    assert info["is_schedule_active"] is False
    page = (await ui.get(f"/flow-groups/{group}")).text
    assert _listed_runs(page) == [] and "No upcoming scheduled runs." in page
    assert "Turn schedule on" in page
    assert (await api.call("GET", f"/flow-runs/{ad_hoc['id']}"))["state_type"] == "Scheduled"

    on = await ui.post(url, data={"csrf_token": token, "active": "1"})
    assert on.status_code == 200 and "run(s) scheduled ahead" in on.text
    again = await _upcoming(api, group)
    assert len(again) >= 10
    fragment = (await ui.get(url)).text
    assert _listed_runs(fragment) == again[:10]
    assert 'id="schedule-state">on<' in fragment
    # The live attributes: the listed runs, and any new run.
    assert f'data-live="{" ".join(again[:10])}"' in fragment
    assert 'data-live-any="flow_run.created"' in fragment
    # The page's recent runs are live on created and deleted (updated) runs alike.
    assert "flow_run.created flow_run.state flow_run.updated" in page
    assert (await ui.get("/ui/flow-groups/nope/schedule")).status_code == 404
    missing = await ui.post(
        "/ui/flow-groups/nope/schedule", data={"csrf_token": token, "active": "1"}
    )
    assert missing.status_code == 404


async def test_switching_on_is_refused_readably_when_a_required_parameter_has_no_default(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await _scheduled_flow(
        api,
        HOSTILE_IMG,
        parameters=[{"name": HOSTILE, "required": True}],
        set_schedule_active=False,
    )
    group = flow["flow_group_id"]
    page = (await ui.get(f"/flow-groups/{group}")).text
    assert_escaped(page)
    assert 'id="schedule-state">off<' in page and "Turn schedule on" in page
    refused = await ui.post(
        f"/ui/flow-groups/{group}/schedule", data={"csrf_token": csrf_of(page), "active": "1"}
    )
    assert refused.status_code == 422
    assert_escaped(refused.text)
    assert "cannot be switched on" in refused.text and "have no default" in refused.text
    assert "&lt;script&gt;alert" in refused.text
    assert "hx-swap-oob" not in refused.text
    info = await api.call("GET", f"/flow-groups/{group}/schedule")
    assert info["is_schedule_active"] is False
    assert await _upcoming(api, group) == []
    assert await api.call("GET", "/flow-runs", params={"flow_group_id": group}) == []


async def test_schedule_panel_says_when_the_server_creates_no_scheduled_runs(
    app: Any, api: Api, ui: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    off = dataclasses.replace(app.state.settings, scheduler_interval=0)
    monkeypatch.setattr(app.state, "settings", off)
    flow = await _scheduled_flow(api, "unserved")
    page = (await ui.get(f"/flow-groups/{flow['flow_group_id']}")).text
    assert "The server's scheduler is off" in page
    assert 'id="schedule-state">on<' in page and _listed_runs(page) == []
    token = csrf_of(page)
    url = f"/ui/flow-groups/{flow['flow_group_id']}/schedule"
    await ui.post(url, data={"csrf_token": token, "active": "0"})
    on = await ui.post(url, data={"csrf_token": token, "active": "1"})
    assert on.status_code == 200 and "no runs are made" in on.text
    assert await _upcoming(api, flow["flow_group_id"]) == []


def test_the_ui_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.server.settings import ServerSettings

    monkeypatch.delenv("HEADWATER_SERVER_UI", raising=False)
    assert ServerSettings.from_env().ui is True
    for off in ("false", "0", "No", "off"):
        monkeypatch.setenv("HEADWATER_SERVER_UI", off)
        assert ServerSettings.from_env().ui is False
    monkeypatch.setenv("HEADWATER_SERVER_UI", "maybe")
    with pytest.raises(ValueError, match="HEADWATER_SERVER_UI must be true or false"):
        ServerSettings.from_env()


async def test_run_page_lists_artifacts_escaped_with_safe_links(
    api: Api, ui: httpx.AsyncClient
) -> None:
    flow = await api.flow(name="arts", tasks=[{"slug": "report-1", "name": "report"}])
    run = await api.run(flow_id=flow["id"])
    task = (await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]}))[0]
    for kind, data in (
        ("link", {"link": "https://example.com/report?a=1&b=2"}),
        ("link", {"link": "ftp://files.example/x"}),
        ("markdown", {"markdown": f"# Title\n{HOSTILE}"}),
    ):
        await api.call(
            "POST", "/artifacts", 201, json={"task_run_id": task["id"], "kind": kind, "data": data}
        )
    html = (await ui.get(f"/ui/runs/{run['id']}/artifacts")).text
    assert 'Artifacts <span class="muted">(3)</span>' in html
    assert 'href="https://example.com/report?a=1&amp;b=2"' in html
    assert 'href="ftp:' not in html and "ftp://files.example/x" in html
    assert_escaped(html)
    assert "report" in html
    assert 'id="run-artifacts"' in (await ui.get(f"/runs/{run['id']}")).text


async def test_prefect_style_run_links_lead_to_the_run_page(ui: httpx.AsyncClient) -> None:
    response = await ui.get("/flow-run/abc-123")
    assert response.status_code == 308 and response.headers["location"] == "/runs/abc-123"
