"""The fault-injection scenarios. Each takes its size (trials) and returns :class:`Counts`.

- ``agent_kill``: agents SIGKILLed at random moments while runs are created and running;
  a new agent replaces each one. Flow-run processes outlive their agent and finish.
- ``machine_loss``: an agent and every flow-run process it started are SIGKILLed together
  at random moments; Lazarus reschedules the runs and other agents finish them, keeping
  the task runs that had finished.
- ``server_kill``: the server is SIGKILLed at random moments and restarted on the same
  database while an agent works; the delay of every run whose claim answer was lost is
  measured (``lost_claim_delays_s``).
- ``lost_claim``: an agent process claims a run and vanishes before reading the answer;
  the delay until a real agent runs it is measured (the claim lease).
- ``parent_retry``: a parent task creates a child and fails once; its retry gets the same
  child. ``parent_kill``: a parent waiting on its child is SIGKILLed (the agent fails the
  parent); the user restarts it; it ends Success with exactly one child.
- ``many_agents``: three agents on one queue share a burst of runs; each runs once.
- ``cascade``: a parent with three running children is cancelled; every child ends
  Cancelled and no process of any of them is left (seconds until then in ``notes``).
- ``bad_input``: a corpus of bad values (deep and long JSON, lone surrogates, NUL, wrong
  types, huge bodies, unknown ids) against every route of the OpenAPI document; counts
  the 5xx answers, then checks that every list endpoint still answers 200.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from .harness import Counts, Stack, kill_with_children, server_errors, stack, tally

__all__ = ["SCENARIOS", "run_scenario"]


def _rng(seed: int | None) -> random.Random:
    return random.Random(seed)


# -- agents killed ------------------------------------------------------------------------


def agent_kill(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """SIGKILL agents at random moments; flow-run processes must finish their runs."""
    counts = Counts("agent_kill", database, trials=trials)
    rng = _rng(seed)
    started = time.monotonic()
    with stack(database) as st:
        run_ids: list[str] = []
        agent = st.start_agent()
        for _ in range(trials):
            run_ids += [st.run("chaos-chain", seconds=rng.uniform(0.05, 0.4)) for _ in range(2)]
            time.sleep(rng.uniform(0.0, 1.2))
            agent.kill()
            agent = st.start_agent()
        tally(counts, st, run_ids, timeout=120 + 2 * len(run_ids))
        counts.http_5xx = server_errors(st, counts)
    counts.seconds = time.monotonic() - started
    return counts


def machine_loss(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """Kill an agent together with its flow-run processes; Lazarus must bring runs back."""
    counts = Counts("machine_loss", database, trials=trials)
    rng = _rng(seed)
    started = time.monotonic()
    with stack(database) as st:
        run_ids: list[str] = []
        machines = [st.start_agent() for _ in range(2)]
        for trial in range(trials):
            fresh = [st.run("chaos-chain", seconds=rng.uniform(0.4, 1.2)) for _ in range(2)]
            run_ids += fresh
            _wait_any_running(st, fresh, timeout=20)
            time.sleep(rng.uniform(0.0, 2.0))
            victim = trial % len(machines)
            kill_with_children(machines[victim])
            machines[victim] = st.start_agent()
        records = tally(counts, st, run_ids, timeout=180 + 3 * len(run_ids))
        counts.http_5xx = server_errors(st, counts)
        resumed = sum(1 for r in records.values() if r.get("times_resurrected"))
        counts.notes.append(f"{resumed} run(s) were resumed by Lazarus at least once")
    counts.seconds = time.monotonic() - started
    return counts


def _wait_any_running(st: Stack, run_ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(st.client.get_flow_run(r)["state_type"] == "Running" for r in run_ids):
            return
        time.sleep(0.05)


# -- the server killed --------------------------------------------------------------------


def server_kill(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """SIGKILL and restart the server while runs are claimed and running."""
    counts = Counts("server_kill", database, trials=trials)
    rng = _rng(seed)
    started = time.monotonic()
    with stack(database) as st:
        st.start_agent()
        run_ids: list[str] = []
        for _ in range(trials):
            run_ids += [st.run("chaos-chain", seconds=rng.uniform(0.05, 0.3)) for _ in range(3)]
            time.sleep(rng.uniform(0.0, 1.0))
            errors_before = server_errors(st)
            st.kill_server()
            counts.http_5xx += errors_before
            st.server.log_path.write_text("")
            st.server.start()
        tally(counts, st, run_ids, timeout=120 + 2 * len(run_ids))
        counts.http_5xx += server_errors(st)
    counts.seconds = time.monotonic() - started
    return counts


def lost_claim(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """A claim whose answer never reaches its agent process: how late does the run start?

    An agent process claims a run and vanishes before reading the answer (simulated with
    a bare HTTP claim under a token nobody uses again); a real agent is then started.
    The run must start exactly once, after the lease of the vanished process expired.
    ``server_kill`` measures the other case, where the same agent process claims again.
    """
    import httpx

    from headwater.testing_agent import wait_for_flow_run_state

    counts = Counts("lost_claim", database, trials=trials)
    started = time.monotonic()
    with stack(database) as st:
        base = st.server.api_url
        ghost = httpx.post(
            f"{base}/agents", json={"name": "vanished", "type": "LocalAgent", "labels": ["lost"]}
        ).json()["id"]
        run_ids = []
        for trial in range(trials):
            run_id = str(
                st.client.create_flow_run(
                    flow_id=st.flow_ids["chaos-chain"],
                    parameters={"marks": str(st.marks), "seconds": 0.01},
                    labels=["lost"],
                )
            )
            run_ids.append(run_id)
            body = {"timeout": 5, "limit": 1, "running": [], "token": f"vanished-{trial}"}
            httpx.post(f"{base}/agents/{ghost}/claim", json=body, timeout=30)
            lost_at = _state_time(st, run_id, "Submitted")
            # A real agent comes up meanwhile (within the lease); it must not take the
            # run before the lease expired, and must take it then.
            agent = st.start_agent(labels=["lost"])
            wait_for_flow_run_state(st.client, run_id, timeout=60)
            agent.stop()
            running_at = _state_time(st, run_id, "Running", wait=30)
            if lost_at is not None and running_at is not None:
                counts.delays.append(running_at - lost_at)
        tally(counts, st, run_ids, timeout=120)
        counts.http_5xx = server_errors(st, counts)
    counts.seconds = time.monotonic() - started
    return counts


def _state_time(st: Stack, run_id: str, state_type: str, wait: float = 0.0) -> float | None:
    from datetime import datetime

    deadline = time.monotonic() + wait
    while True:
        for entry in st.client.get_flow_run_states(run_id):
            if entry["state"]["type"] == state_type:
                at = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
                return at.timestamp()
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


# -- parents and children -----------------------------------------------------------------


def _children(st: Stack, run_id: str) -> list[dict[str, Any]]:
    return list(st.client.get_flow_run_children(run_id))


def parent_retry(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """A creating task that fails once and is retried still makes exactly one child."""
    counts = Counts("parent_retry", database, trials=trials)
    started = time.monotonic()
    with stack(database) as st:
        st.start_agent()
        parents = [st.run("chaos-parent-retry") for _ in range(trials)]
        tally(counts, st, parents, timeout=120 + 5 * trials, tasks=())
        children = []
        for parent in parents:
            kids = _children(st, parent)
            counts.duplicate_children += max(0, len(kids) - 1)
            if not kids:
                counts.lost += 1
                counts.notes.append(f"{parent}: no child")
            children += [k["id"] for k in kids]
        child_counts = Counts("children", database)
        tally(child_counts, st, children, timeout=120)
        counts.executed_twice += child_counts.executed_twice
        counts.stuck += child_counts.stuck + child_counts.lost
        counts.http_5xx = server_errors(st, counts)
    counts.seconds = time.monotonic() - started
    return counts


def parent_kill(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """SIGKILL a parent waiting on its child, restart it: one child, parent Success."""
    import os
    import re
    import signal

    from headwater.testing_agent import wait_for_flow_run_state

    counts = Counts("parent_kill", database, trials=trials)
    rng = _rng(seed)
    started = time.monotonic()
    with stack(database) as st:
        st.start_agent()
        parents: list[str] = []
        for _ in range(trials):
            parent = st.run("chaos-parent", seconds=rng.uniform(1.5, 3.0))
            parents.append(parent)

            def child_running(run: dict[str, Any], parent: str = parent) -> bool:
                kids = _children(st, parent)
                return bool(kids) and kids[0]["state_type"] == "Running"

            wait_for_flow_run_state(st.client, parent, predicate=child_running, timeout=90)
            lines = [log["message"] for log in st.client.get_logs(parent)]
            pid = int(re.findall(r"PID: (\d+)", [m for m in lines if "PID:" in m][-1])[0])
            time.sleep(rng.uniform(0.0, 0.5))
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                os.kill(pid, signal.SIGKILL)
            dead = wait_for_flow_run_state(st.client, parent, timeout=60)
            if dead["state_type"] == "Failed":
                st.client.restart_flow_run(parent)
            else:
                counts.notes.append(f"{parent}: was {dead['state_type']} after the kill")
        tally(counts, st, parents, timeout=120 + 10 * trials, tasks=())
        for parent in parents:
            kids = _children(st, parent)
            counts.duplicate_children += max(0, len(kids) - 1)
            if not kids:
                counts.lost += 1
        counts.http_5xx = server_errors(st, counts)
    counts.seconds = time.monotonic() - started
    return counts


def many_agents(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """``trials`` runs over three agents on one queue: each runs exactly once."""
    counts = Counts("many_agents", database, trials=trials)
    started = time.monotonic()
    with stack(database) as st:
        for _ in range(3):
            st.start_agent()
        run_ids = [st.run("chaos-chain", seconds=0.01) for _ in range(trials)]
        tally(counts, st, run_ids, timeout=120 + 2 * trials)
        counts.http_5xx = server_errors(st, counts)
        agents = {st.client.get_flow_run(r).get("agent_id") for r in run_ids}
        counts.notes.append(f"runs were executed by {len(agents)} agent record(s)")
    counts.seconds = time.monotonic() - started
    return counts


def cascade(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """Cancel a parent with three running children; all end Cancelled, no process left."""
    import psutil

    from headwater.testing_agent import wait_for_flow_run_state

    counts = Counts("cascade", database, trials=trials)
    started = time.monotonic()
    worst = 0.0
    with stack(database) as st:
        st.start_agent()
        for _ in range(trials):
            parent = st.run("chaos-fan-out", seconds=60.0)

            def all_running(run: dict[str, Any], parent: str = parent) -> bool:
                kids = _children(st, parent)
                return len(kids) == 3 and all(k["state_type"] == "Running" for k in kids)

            wait_for_flow_run_state(st.client, parent, predicate=all_running, timeout=120)
            kids = _children(st, parent)
            pids = set()
            for kid in kids:
                for what_pid in st.marks.glob(f"{kid['id']}.*"):
                    for line in what_pid.read_text().splitlines():
                        pids.add(int(line.split()[1]))
            cancelled_at = time.monotonic()
            st.client.cancel_flow_run(parent)
            counts.runs += 1 + len(kids)
            for run_id in [parent] + [k["id"] for k in kids]:
                run = wait_for_flow_run_state(st.client, run_id, timeout=60)
                if run["state_type"] == "Cancelled":
                    counts.finished += 1
                else:
                    counts.stuck += 1
                    counts.notes.append(f"{run_id}: {run['state_type']} after the cancel")
            deadline = time.monotonic() + 30
            while any(psutil.pid_exists(p) and _alive(p) for p in pids):
                if time.monotonic() > deadline:
                    counts.stuck += 1
                    counts.notes.append("a child process outlived its cancelled run")
                    break
                time.sleep(0.02)
            worst = max(worst, time.monotonic() - cancelled_at)
        counts.http_5xx = server_errors(st, counts)
    counts.notes.append(f"slowest cascade: {worst:.2f} s until every run ended and process left")
    counts.seconds = time.monotonic() - started
    return counts


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


# -- bad input ----------------------------------------------------------------------------


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def _values(rng: random.Random) -> list[tuple[str, Any]]:
    return [
        ("deep", _deep(500)),
        ("deep-list", json.loads("[" * 200 + "]" * 200)),
        ("long", "x" * 300_000),
        ("surrogate", "bad \ud800 text"),
        ("nul", "bad \x00 text"),
        ("int", 10**30),
        ("float", -1.5e308),
        ("list", [1, "two", None]),
        ("object", {"k": [1, {"z": None}]}),
        ("null", None),
        ("bool", True),
        ("unknown-id", str(uuid.UUID(int=rng.getrandbits(128)))),
    ]


def _encode(body: Any) -> bytes:
    return json.dumps(body).encode("utf-8", "surrogatepass")


def bad_input(trials: int, database: str = "sqlite", seed: int | None = None) -> Counts:
    """Throw the corpus at every route ``trials`` times (each time other unknown ids)."""
    import httpx

    counts = Counts("bad_input", database, trials=trials)
    rng = _rng(seed)
    started = time.monotonic()
    with stack(database) as st:
        base = st.server.api_url
        document = httpx.get(f"{base}/openapi.json", timeout=30).json()
        flow_run = st.run("chaos-chain")
        with httpx.Client(timeout=60) as http:
            for _ in range(trials):
                for path, operations in document["paths"].items():
                    for method, operation in operations.items():
                        _attack(http, st, base, path, method, operation, rng, counts, flow_run)
            for listing in ("flows", "flow-runs", "projects", "agents", "task-runs", "logs"):
                params = {"flow_run_id": flow_run} if listing == "logs" else {}
                answer = http.get(f"{base}/{listing}", params=params)
                if answer.status_code != 200:
                    counts.stuck += 1
                    counts.notes.append(f"GET /{listing} answered {answer.status_code} afterwards")
        counts.http_5xx = max(counts.http_5xx, server_errors(st))
    counts.seconds = time.monotonic() - started
    return counts


def _attack(
    http: Any,
    st: Stack,
    base: str,
    path: str,
    method: str,
    operation: dict[str, Any],
    rng: random.Random,
    counts: Counts,
    flow_run: str,
) -> None:
    relative = path.removeprefix("/api")
    names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
    query_names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    has_body = "requestBody" in operation
    requests: list[tuple[str, dict[str, Any]]] = []
    for label, value in _values(rng):
        text = value if isinstance(value, str) else json.dumps(value)
        url = relative
        for name in names:
            url = url.replace("{" + name + "}", _quote(text if len(text) < 2000 else text[:2000]))
        for name in query_names or [None]:
            kwargs: dict[str, Any] = {}
            full = base + url
            if name is not None:
                # Encoded here: httpx refuses to encode a lone surrogate itself.
                full += f"?{name}={_quote(text[:20000])}"
            if has_body:
                kwargs["content"] = _encode({"value": value, "name": value, "state": value})
                kwargs["headers"] = {"content-type": "application/json"}
            requests.append((f"{label}:{url}", {"url": full, **kwargs}))
    if has_body:
        url = relative
        for name in names:
            url = url.replace("{" + name + "}", flow_run)
        for label, body in (
            ("huge", b'{"x": "' + b"y" * (20 * 1024 * 1024) + b'"}'),
            ("invalid-json", b'{"x": '),
            ("not-utf8", b'{"x": "\xff\xfe"}'),
            ("array", b"[1, 2, 3]"),
            ("deep-body", b"[" * 50_000 + b"]" * 50_000),
        ):
            requests.append(
                (
                    label,
                    {
                        "url": base + url,
                        "content": body,
                        "headers": {"content-type": "application/json"},
                    },
                )
            )
    for label, kwargs in requests:
        try:
            answer = http.request(method.upper(), **kwargs)
        except Exception as exc:
            counts.notes.append(f"{method.upper()} {path} {label[:40]}: {type(exc).__name__}")
            continue
        counts.runs += 1
        if answer.status_code >= 500:
            counts.http_5xx += 1
            counts.notes.append(f"{method.upper()} {path} {label[:60]}: {answer.status_code}")
        elif answer.status_code < 400:
            counts.finished += 1  # accepted: a valid value for this route
        else:
            counts.failed_clear += 1
            try:
                detail = answer.json().get("detail")
            except ValueError:
                detail = None
            if not isinstance(detail, str) and not (
                isinstance(detail, list) and answer.status_code == 422
            ):
                counts.notes.append(f"{method.upper()} {path} {label[:40]}: no readable detail")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text.encode("utf-8", "surrogatepass"), safe="")


#: name -> (function, databases it runs on, full size, CI size)
SCENARIOS: dict[str, tuple[Callable[..., Counts], tuple[str, ...], int, int]] = {
    "agent_kill": (agent_kill, ("sqlite",), 200, 2),
    "machine_loss": (machine_loss, ("sqlite",), 200, 2),
    "server_kill": (server_kill, ("sqlite", "postgresql"), 50, 2),
    "lost_claim": (lost_claim, ("sqlite",), 10, 1),
    "parent_retry": (parent_retry, ("sqlite",), 20, 1),
    "parent_kill": (parent_kill, ("sqlite",), 20, 1),
    "many_agents": (many_agents, ("sqlite",), 200, 6),
    "cascade": (cascade, ("sqlite",), 20, 1),
    "bad_input": (bad_input, ("sqlite", "postgresql"), 1, 1),
}


def run_scenario(name: str, trials: int, database: str, seed: int | None = None) -> Counts:
    """Run one scenario; a crash of the harness itself is reported in the counts."""
    function = SCENARIOS[name][0]
    try:
        return function(trials, database=database, seed=seed)
    except Exception as exc:  # the harness failed: say so instead of hiding the scenario
        counts = Counts(name, database, trials=trials)
        counts.stuck = 1
        counts.notes.append(f"the scenario itself failed: {type(exc).__name__}: {exc}")
        return counts
