"""Checks shared by the programs ported from Prefect 1's documentation.

Not a program itself (the leading underscore keeps it out of the suite). The ported code
above a program's "checks" line is Prefect 1's, renamed; what follows it verifies, through
the server, what that code did.
"""

import sys
import time

from headwater.backend import FlowRunView, FlowView

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


def finish():
    sys.exit(1 if FAILURES else 0)


def newest_flow(name, project_name):
    """The newest registered version of a flow."""
    return FlowView.from_flow_name(name, project_name=project_name)


def wait_finished(flow_run_id, timeout=150):
    view = FlowRunView.from_flow_run_id(flow_run_id)
    deadline = time.monotonic() + timeout
    while not view.state.is_finished() and time.monotonic() < deadline:
        time.sleep(0.2)
        view = view.get_latest()
    return view


def run_on_agent(flow_id, timeout=150, **kwargs):
    """Create a run of a registered flow version (the UI's Quick Run) and wait for it."""
    from headwater import Client

    return wait_finished(Client().create_flow_run(flow_id=flow_id, **kwargs), timeout)


def log_messages(view, expect=None, timeout=30):
    """The run's log messages; with ``expect``, waiting until one contains it.

    A flow-run process ships its last log lines as it exits, just after its final state.
    """
    deadline = time.monotonic() + timeout
    while True:
        messages = [log.message for log in view.get_logs()]
        if expect is None or any(expect in m for m in messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def children_of(flow_run_id):
    from headwater import Client

    return Client().query_flow_runs(parent_flow_run_id=flow_run_id)


def runs_of(flow_name, project_name):
    from headwater import Client

    return Client().query_flow_runs(flow_name=flow_name, project_name=project_name)


def logged(view, text, timeout=30):
    """Whether a line of the run's logs contains ``text`` (waiting up to ``timeout``)."""
    return any(text in message for message in log_messages(view, text, timeout))
