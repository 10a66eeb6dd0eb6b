"""The web UI in a real headless Chromium, against real server and agent processes.

Driven with Selenium and Debian's ``chromium`` / ``chromium-driver`` (``scripts/test``
installs them on a machine without them). Every test checks that the browser's console
stayed free of errors. With ``HEADWATER_UI_SCREENSHOTS=DIR`` the tests also save the
screenshots used in docs/ui.md into DIR.
"""

from __future__ import annotations

import os
import runpy
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import TemporaryServer, temporary_server
from headwater.testing_agent import AgentProcess, temporary_agent, wait_for_flow_run_state
from support.waiting import wait_until as shared_wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FLOWS = Path(__file__).parent / "ui_flows"
CHROMIUM = os.environ.get("HEADWATER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HEADWATER_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 30.0


def _have_browser() -> bool:
    return shutil.which(CHROMIUM) is not None and shutil.which(CHROMEDRIVER) is not None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium (its own profile directory), quit afterwards."""
    if not _have_browser():
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromedriver are required in CI (scripts/test installs them)")
        pytest.skip("chromium / chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any, allow: tuple[str, ...] = ()) -> list[str]:
    entries = driver.get_log("browser")
    return [
        e["message"]
        for e in entries
        if e["level"] == "SEVERE" and not any(a in e["message"] for a in allow)
    ]


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """The shared deadline wait, where an exception counts as "not yet" (stale elements
    while htmx swaps a part of the page)."""
    last: list[Exception] = []

    def tolerant() -> Any:
        try:
            return condition()
        except Exception as exc:
            last[:] = [exc]
            return None

    try:
        return shared_wait_until(tolerant, timeout=timeout, interval=0.05, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc} (last error: {last[0]!r})" if last else str(exc)) from None


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def screenshot(driver: Any, name: str) -> None:
    target = os.environ.get("HEADWATER_UI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        size = driver.get_window_size()
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], min(max(int(height), 600), 2200))
        try:
            driver.save_screenshot(str(Path(target) / f"ui-{name}.png"))
        finally:
            driver.set_window_size(size["width"], size["height"])


def mark_page(driver: Any) -> None:
    """Tag the loaded document, to prove later that it was never reloaded."""
    driver.execute_script("window.__hwMarker = 'same-page';")


def same_page(driver: Any) -> bool:
    return driver.execute_script("return window.__hwMarker === 'same-page';") is True


def live(driver: Any) -> None:
    """Wait until the page's event stream is connected."""
    wait_until(
        lambda: "on" in (driver.find_element("id", "live-status").get_attribute("class") or ""),
        "the live stream to connect",
    )


def client_for(server: TemporaryServer, api_key: str | None = None) -> Any:
    from headwater.client import Client

    client = Client(api_server=server.api_url, api_key=api_key)
    client.create_project("ui")
    return client


def register(client: Any, file_name: str) -> str:
    from headwater.storage import Local

    script = FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="ui_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="ui"))


def test_parent_to_child_and_back_with_every_page(
    server: TemporaryServer, agent: AgentProcess, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    client = client_for(server)
    register(client, "child.py")
    parent_flow = register(client, "parent.py")
    parent_id = client.create_flow_run(flow_id=parent_flow, parameters={"n": 3})
    wait_for_flow_run_state(client, parent_id, timeout=120)
    children = client.get_flow_run_children(parent_id)
    assert len(children) == 3

    browser.get(server.url + "/")
    wait_until(lambda: parent_id in browser.page_source, "the parent run in the list")
    screenshot(browser, "runs")
    browser.find_element(By.CSS_SELECTOR, f'tr[data-run-id="{parent_id}"] td.name a').click()
    wait_until(lambda: browser.current_url.endswith(f"/runs/{parent_id}"), "the parent's page")
    wait_until(lambda: "Success" in text_of(browser, "#run-state"), "the parent's state")
    tree = text_of(browser, "#child-tree")
    for child in children:
        assert child["name"] in tree
    screenshot(browser, "run")
    first = children[0]
    browser.find_element(By.LINK_TEXT, first["name"]).click()
    wait_until(lambda: browser.current_url.endswith(f"/runs/{first['id']}"), "the child's page")
    crumb = text_of(browser, "#breadcrumb")
    parent_name = client.get_flow_run(parent_id)["name"]
    assert parent_name in crumb and first["name"] in crumb
    wait_until(lambda: "squaring" in text_of(browser, "#log-rows"), "the child's logs")
    screenshot(browser, "child-run")
    browser.find_element(By.CSS_SELECTOR, f'#breadcrumb a[href="/runs/{parent_id}"]').click()
    wait_until(lambda: browser.current_url.endswith(f"/runs/{parent_id}"), "back to the parent")
    browser.back()
    wait_until(lambda: browser.current_url.endswith(f"/runs/{first['id']}"), "history back")

    browser.find_element(By.CSS_SELECTOR, "#run-header a").click()  # the flow's page
    wait_until(lambda: "/flow-groups/" in browser.current_url, "the flow page")
    assert "ui-child" in text_of(browser, "#flow-name")
    browser.get(server.url + "/agents")
    wait_until(lambda: agent.name in text_of(browser, "#agents-table"), "the agent listed")
    assert "healthy" in text_of(browser, "#agents-table")
    screenshot(browser, "agents")
    browser.get(server.url + "/projects")
    wait_until(lambda: "ui-parent" in browser.page_source, "the projects page")
    screenshot(browser, "projects")
    assert console_errors(browser) == []


def test_logs_appear_live_and_new_runs_show_up_without_reload(
    server: TemporaryServer, agent: AgentProcess, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    client = client_for(server)
    chatty = register(client, "chatty.py")
    browser.get(server.url + "/")
    live(browser)
    mark_page(browser)
    run_id = client.create_flow_run(
        flow_id=chatty, parameters={"lines": 60, "pause": 0.25}, run_name="made-elsewhere"
    )
    # A run created by another client appears on the open page, then its state moves on.
    wait_until(lambda: "made-elsewhere" in text_of(browser, "#runs-table"), "the new run")
    wait_until(
        lambda: "Running" in text_of(browser, f'#runs-table tr[data-run-id="{run_id}"]'),
        "the new run to be shown Running",
        timeout=90,
    )
    assert same_page(browser)

    browser.find_element(By.LINK_TEXT, "made-elsewhere").click()
    wait_until(lambda: browser.current_url.endswith(f"/runs/{run_id}"), "the run's page")
    live(browser)
    mark_page(browser)
    seen = text_of(browser, "#log-rows")
    first_count = seen.count("chatty line")
    wait_until(
        lambda: text_of(browser, "#log-rows").count("chatty line") >= first_count + 5,
        "new log lines to appear while the run writes them",
    )
    assert client.get_flow_run(run_id)["state_type"] == "Running"  # still writing
    assert same_page(browser)
    rows = browser.find_elements(By.CSS_SELECTOR, "#log-rows tr")
    ids = [int(r.get_attribute("data-id")) for r in rows]
    assert ids == sorted(ids) and len(ids) == len(set(ids))  # no line twice
    # The hostile line is shown as text, not run.
    assert "<script>alert('from a log line')</script>" in text_of(browser, "#log-rows")
    assert (
        browser.execute_script("return document.querySelectorAll('#log-rows script').length") == 0
    )
    screenshot(browser, "run-logs")
    wait_for_flow_run_state(client, run_id, timeout=120)
    wait_until(lambda: "Success" in text_of(browser, "#run-state"), "the final state shown")
    wait_until(lambda: text_of(browser, "#log-rows").count("chatty line") == 60, "every line shown")
    assert same_page(browser)
    assert console_errors(browser) == []


def test_cancel_from_the_page_stops_the_run(
    server: TemporaryServer, agent: AgentProcess, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    client = client_for(server)
    chatty = register(client, "chatty.py")
    run_id = client.create_flow_run(flow_id=chatty, parameters={"lines": 2000, "pause": 0.1})
    wait_for_flow_run_state(client, run_id, lambda r: r["state_type"] == "Running", timeout=90)
    browser.get(server.url + f"/runs/{run_id}")
    live(browser)
    mark_page(browser)
    browser.find_element(By.ID, "cancel-run").click()
    wait_until(lambda: browser.switch_to.alert, "the confirmation").accept()
    wait_until(lambda: "Cancelling" in text_of(browser, "#flash"), "the action's answer")
    final = wait_for_flow_run_state(client, run_id, timeout=60)
    assert final["state_type"] == "Cancelled"
    wait_until(lambda: "Cancelled" in text_of(browser, "#run-state"), "Cancelled on the page")
    assert same_page(browser)
    # The run's process (the agent logs its pid) is gone, long before the 2,000 lines it
    # would have written.
    import re

    import psutil

    submitted = [
        x["message"] for x in client.get_logs(run_id, limit=10000) if "PID:" in x["message"]
    ]
    pid = int(re.findall(r"PID: (\d+)", submitted[0])[0])

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, "the run's process to stop")
    written = [x for x in client.get_logs(run_id, limit=10000) if "chatty line" in x["message"]]
    assert len(written) < 2000
    assert console_errors(browser) == []


def test_flow_page_lists_the_scheduled_runs_and_switches_the_schedule_live(
    server: TemporaryServer, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    client = client_for(server)
    flow_id = register(client, "scheduled.py")
    group_id = client.get_flow(flow_id)["flow_group_id"]

    def upcoming() -> list[str]:
        runs = client.query_flow_runs(
            flow_group_id=group_id, upcoming=True, auto_scheduled=True, limit=100
        )
        return [r["id"] for r in runs]

    def listed() -> list[str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "#upcoming tr[data-run]")
        return [str(row.get_attribute("data-run")) for row in rows]

    def recent() -> str:
        return text_of(browser, "#group-runs")

    ahead = upcoming()
    assert len(ahead) >= 10
    browser.get(server.url + f"/flows/{flow_id}")
    wait_until(lambda: "/flow-groups/" in browser.current_url, "the flow page")
    live(browser)
    assert listed() == ahead[:10]
    assert text_of(browser, "#schedule-state") == "on"
    first = browser.find_element(By.CSS_SELECTOR, "#upcoming tr[data-run] a")
    first_name = first.text
    assert first_name in recent()
    screenshot(browser, "flow")
    mark_page(browser)

    browser.find_element(By.ID, "toggle-schedule").click()
    wait_until(lambda: "upcoming run(s) removed" in text_of(browser, "#flash"), "the answer")
    wait_until(lambda: listed() == [], "the upcoming runs to go")
    assert text_of(browser, "#schedule-state") == "off"
    assert upcoming() == []
    wait_until(lambda: first_name not in recent(), "the recent runs to drop them")

    browser.find_element(By.ID, "toggle-schedule").click()
    wait_until(lambda: "scheduled ahead" in text_of(browser, "#flash"), "the answer")
    back = wait_until(lambda: len(listed()) >= 10 and listed(), "the upcoming runs back")
    assert back == upcoming()[:10]
    assert text_of(browser, "#schedule-state") == "on"

    # A switch through the API reaches the open page over the event stream.
    client.set_schedule_inactive(flow_id)
    wait_until(lambda: listed() == [], "the runs to go after the API switched off")
    client.set_schedule_active(flow_id)
    wait_until(lambda: len(listed()) >= 10, "the runs back after the API switched on")
    wait_until(lambda: text_of(browser, "#schedule-state") == "on", "the switch shown on")
    first_again = browser.find_element(By.CSS_SELECTOR, "#upcoming tr[data-run] a")
    wait_until(lambda: first_again.text in recent(), "the recent runs to list them")
    first_again.click()
    wait_until(lambda: "/runs/" in browser.current_url, "the run page")
    assert "Scheduled" in text_of(browser, "#run-state")
    assert console_errors(browser) == []


def test_api_key_login(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    with temporary_server(api_key="ui-key-123") as server:
        browser.get(server.url + "/agents")
        wait_until(lambda: "/login" in browser.current_url, "the login page")
        screenshot(browser, "login")
        browser.find_element(By.ID, "api-key").send_keys("wrong-key")
        browser.find_element(By.ID, "sign-in").click()
        wait_until(lambda: "not this server" in text_of(browser, "#login-error"), "refusal")
        # The refused attempt is a 401 document; Chromium notes that in its console.
        assert console_errors(browser, allow=("401",)) == []
        browser.find_element(By.ID, "api-key").send_keys("ui-key-123")
        browser.find_element(By.ID, "sign-in").click()
        wait_until(lambda: browser.current_url.endswith("/agents"), "back at the wanted page")
        live(browser)
        cookies = {c["name"]: c for c in browser.get_cookies()}
        cookie = cookies["headwater_ui"]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert "ui-key-123" not in cookie["value"]
        assert browser.execute_script("return document.cookie") == ""
        browser.get(server.url + "/")
        assert "Flow runs" in browser.page_source
        browser.find_element(By.CSS_SELECTOR, "header form button").click()  # sign out
        wait_until(lambda: "/login" in browser.current_url, "signed out")
        browser.get(server.url + "/")
        wait_until(lambda: "/login" in browser.current_url, "the key asked for again")
        assert console_errors(browser) == []


def test_live_updates_on_postgresql(pg_server: TemporaryServer, browser: Any) -> None:
    """The same live page on PostgreSQL: runs, states and logs arrive without reload."""
    from selenium.webdriver.common.by import By

    client = client_for(pg_server)
    chatty = register(client, "chatty.py")
    with temporary_agent(pg_server.api_url):
        browser.get(pg_server.url + "/")
        live(browser)
        mark_page(browser)
        run_id = client.create_flow_run(
            flow_id=chatty, parameters={"lines": 30, "pause": 0.2}, run_name="pg-run"
        )
        wait_until(lambda: "pg-run" in text_of(browser, "#runs-table"), "the new run")
        browser.find_element(By.LINK_TEXT, "pg-run").click()
        wait_until(lambda: browser.current_url.endswith(f"/runs/{run_id}"), "the run page")
        live(browser)
        mark_page(browser)
        wait_for_flow_run_state(client, run_id, timeout=120)
        wait_until(lambda: "Success" in text_of(browser, "#run-state"), "the final state")
        wait_until(
            lambda: text_of(browser, "#log-rows").count("chatty line") == 30, "every log line"
        )
        assert same_page(browser)
    assert console_errors(browser) == []


def test_no_ui_serves_the_api_alone(tmp_path: Path) -> None:
    """``headwater server start --no-ui``: / answers 404, the API works."""
    import subprocess
    import sys

    import httpx

    from headwater.testing import free_port

    port = free_port()
    env = dict(os.environ, HEADWATER_HOME=str(tmp_path))
    env.pop("HEADWATER_DATABASE_URL", None)
    env.pop("HEADWATER_API_KEY", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from headwater.cli import main; main()",
            *("server", "start", "--port", str(port), "--no-ui"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(base + "/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, "the server to answer", timeout=60)
        assert httpx.get(base + "/").status_code == 404
        assert httpx.get(base + "/ui/static/htmx.min.js").status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_event_stream_names_the_changed_runs(server: TemporaryServer) -> None:
    """``/ui/events`` sends one ``change`` message per burst, naming kind and run."""
    import json

    import httpx

    client = client_for(server)
    flow_id = register(client, "child.py")
    with httpx.stream("GET", server.url + "/ui/events", timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        assert next(lines) == "event: hello"
        run_id = client.create_flow_run(flow_id=flow_id)
        changes: list[dict[str, Any]] = []
        for line in lines:
            if line.startswith("data: ") and line != "data: {}":
                changes.extend(json.loads(line[6:]))
                if any(c["k"] == "flow_run.created" for c in changes):
                    break
    assert {"k": "flow_run.created", "r": run_id} in changes
