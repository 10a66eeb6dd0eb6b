"""A flow-run subprocess in its own process group, with its stderr tail kept in memory."""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FlowRunProcess"]

logger = logging.getLogger("headwater.agent.flow_run")

_TAIL_LINES = 50


class FlowRunProcess:
    """One flow-run process started by the local agent.

    The process gets its own session (and so its own process group), so that the agent can
    signal everything the flow started, and so that a Ctrl-C meant for the agent's terminal
    does not reach it. Its stderr is read by a thread that keeps the last lines (for the
    failure message when the process dies without a final state) and, when
    ``show_output`` is set, echoes them to the agent's own stderr.

    Args:
        command: The command line to run.
        env: The complete environment of the process.
        cwd: Working directory (None: the agent's).
        show_output: Pass the process's stdout through and echo its stderr.
        spare: Start it as a warm spare that waits for :meth:`hand_over` on stdin.
    """

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None = None,
        show_output: bool = False,
        spare: bool = False,
    ) -> None:
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._show_output = show_output
        self._terminating = threading.Lock()
        self._popen = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE if spare else subprocess.DEVNULL,
            stdout=None if show_output else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_stderr, name=f"stderr-{self._popen.pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        """The process id (also the process group id)."""
        return self._popen.pid

    def poll(self) -> int | None:
        """Exit code if the process has ended, else None."""
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process (and its stderr) to end; None on timeout."""
        try:
            code = self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        # The pipe closes when the last writer exits; a grandchild may keep it open, so
        # do not wait for it forever.
        self._reader.join(timeout=2.0)
        return code

    def terminate(self, grace: float) -> None:
        """SIGTERM the process group; SIGKILL it after ``grace`` seconds if still alive."""
        with self._terminating:
            if self._popen.poll() is not None:
                self._kill_group(signal.SIGKILL)  # reap anything it left behind
                return
            self._kill_group(signal.SIGTERM)
            try:
                self._popen.wait(grace)
            except subprocess.TimeoutExpired:
                if grace > 0:
                    logger.warning(
                        "Flow run process %s ignored SIGTERM for %.1f s: killing it",
                        self.pid,
                        grace,
                    )
            self._kill_group(signal.SIGKILL)
            try:
                self._popen.wait(10.0)  # reap it, so no zombie is left behind
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
                pass
            if self._popen.stdin is not None and not self._popen.stdin.closed:
                try:
                    self._popen.stdin.close()
                except OSError:
                    pass

    def hand_over(self, payload: dict[str, Any]) -> bool:
        """Give a warm spare its flow run; False if the spare is no longer usable.

        Args:
            payload: ``{"flow_run_id": ..., "env": {changed variables}, "cwd": ...}``.
        """
        stdin = self._popen.stdin
        if stdin is None or self._popen.poll() is not None:
            return False
        try:
            stdin.write(json.dumps(payload).encode() + b"\n")
            stdin.close()
        except OSError:
            return False
        return True

    def stderr_tail(self) -> list[str]:
        """The last lines written to stderr."""
        return list(self._tail)

    def _kill_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self._popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _read_stderr(self) -> None:
        stream = self._popen.stderr
        assert stream is not None
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self._tail.append(line)
                if self._show_output:
                    sys.stderr.write(line + "\n")
                    sys.stderr.flush()
