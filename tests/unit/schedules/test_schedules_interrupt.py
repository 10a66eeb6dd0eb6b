"""A flow.run() waiting for its next scheduled time stops on Ctrl-C (a real process)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading

SCRIPT = """
from datetime import UTC, datetime, timedelta
from headwater import Flow, task
from headwater.schedules import IntervalSchedule

@task
def never():
    raise AssertionError("the first time is an hour away")

start = datetime.now(UTC) + timedelta(hours=1)
with Flow("hourly", schedule=IntervalSchedule(start_date=start, interval=timedelta(hours=1))) as flow:
    never()
flow.run()
"""


def test_waiting_for_the_next_time_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
        reader.start()
        first = lines.get(timeout=30)  # the wait is logged before sleeping
        assert "Waiting for next scheduled run at" in first, first
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) != 0, "the process kept waiting after Ctrl-C"
        reader.join(timeout=10)
        rest = "".join(lines.get_nowait() for _ in range(lines.qsize()))
        assert "KeyboardInterrupt" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
