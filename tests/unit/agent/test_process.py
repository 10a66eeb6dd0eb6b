"""FlowRunProcess: own process group, stderr tail, TERM then KILL."""

from __future__ import annotations

import os
import sys
import time

from headwater.agent.local._process import FlowRunProcess
from support.waiting import wait_until


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stderr_tail_and_exit_code() -> None:
    code = "import sys\nfor i in range(80): print('line', i, file=sys.stderr)\nsys.exit(7)"
    proc = FlowRunProcess([sys.executable, "-c", code], dict(os.environ))
    assert proc.wait(timeout=30) == 7
    tail = proc.stderr_tail()
    assert tail[-1] == "line 79"
    assert len(tail) == 50


def test_runs_in_its_own_process_group() -> None:
    proc = FlowRunProcess([sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ))
    try:
        assert os.getpgid(proc.pid) == proc.pid
        assert os.getpgid(proc.pid) != os.getpgid(0)
    finally:
        proc.terminate(grace=5)
    assert proc.wait(timeout=10) is not None


def test_terminate_kills_a_process_that_ignores_sigterm_and_its_children() -> None:
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "print(child.pid, file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = FlowRunProcess([sys.executable, "-c", code], dict(os.environ))
    wait_until(proc.stderr_tail, timeout=20, what="the child's pid on stderr")
    grandchild = int(proc.stderr_tail()[0])
    started = time.monotonic()
    proc.terminate(grace=0.5)
    assert proc.wait(timeout=10) == -9
    assert time.monotonic() - started < 5
    wait_until(lambda: not _alive(grandchild), timeout=10, what="the grandchild to end")
    assert not _alive(grandchild)
