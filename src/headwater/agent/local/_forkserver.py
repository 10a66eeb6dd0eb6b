"""The local agent's fork server: flow-run processes forked from a warm, pre-imported one.

Contract:

- :class:`ForkServer` starts ``python -m headwater.agent.local._forkserver_main`` (see that
  module for the protocol) in its own session with the agent's base flow-run environment,
  and waits until it has imported the engine and the client. :meth:`ForkServer.start_run`
  asks it to fork a child for one flow run and returns a :class:`ForkedFlowRunProcess`,
  which the agent supervises exactly like a spawned :class:`FlowRunProcess`: the child
  leads its own process group (terminate signals the group, TERM then KILL), its stderr
  goes to a pipe whose last lines the agent keeps, and its exit code (negative for a
  signal) arrives from the server, which reaps it.
- :meth:`ForkServer.can_run` says whether a fork can give a run what a fresh interpreter
  would: the interpreter must be this one, and no variable read at interpreter start-up
  (``PYTHON*``, ``LD_*``) may differ from the server's. A working directory and any other
  variables are fine (the child sets them). Other runs are spawned.
- If the server dies, runs it started keep running (they are not its threads); their
  exits are then detected by polling their process ids, with exit code 1 when the code
  is unknown, and the next run starts a new server.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ForkServer", "ForkServerError", "ForkedFlowRunProcess"]

logger = logging.getLogger("headwater.agent")

_TAIL_LINES = 50
_STARTUP_PREFIXES = ("PYTHON", "LD_")
_MAX_MESSAGE = 4 * 1024 * 1024


class ForkServerError(RuntimeError):
    """The fork server could not be started or could not start a run."""


class ForkedFlowRunProcess:
    """A flow-run process forked by the fork server (the RunProcess the agent supervises).

    Args:
        pid: The child's process id (also its process group id).
        stderr: Read end of the pipe the child writes its stderr to.
        show_output: Echo the stderr lines to the agent's stderr.
    """

    def __init__(self, pid: int, stderr: int, show_output: bool = False) -> None:
        self._pid = pid
        self._code: int | None = None
        self._ended = threading.Event()
        self._orphaned = False
        self._terminating = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self._show_output = show_output
        self._reader = threading.Thread(
            target=self._read_stderr, args=(stderr,), name=f"stderr-{pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        """The process id (also the process group id)."""
        return self._pid

    def _exited(self, code: int) -> None:
        if not self._ended.is_set():
            self._code = code
            self._ended.set()

    def _orphan(self) -> None:
        """The server died: from now on find out about the exit by polling the pid."""
        self._orphaned = True

    def _check_orphan(self) -> None:
        if self._orphaned and not self._ended.is_set() and not _alive(self._pid):
            # Reaped by someone else: the code is lost; the agent reads the run's state.
            self._exited(1)

    def poll(self) -> int | None:
        """Exit code if the process has ended, else None."""
        self._check_orphan()
        return self._code if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to end (and its stderr to close); None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ended.is_set():
            self._check_orphan()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._ended.wait(0.5 if remaining is None else min(0.5, remaining))
        self._reader.join(timeout=2.0)
        return self._code

    def terminate(self, grace: float) -> None:
        """SIGTERM the process group; SIGKILL it after ``grace`` seconds if still alive."""
        with self._terminating:
            if self.poll() is not None:
                self._kill_group(signal.SIGKILL)  # anything it left behind
                return
            self._kill_group(signal.SIGTERM)
            if self.wait(grace) is None and grace > 0:
                logger.warning(
                    "Flow run process %s ignored SIGTERM for %.1f s: killing it", self.pid, grace
                )
            self._kill_group(signal.SIGKILL)
            self.wait(10.0)

    def stderr_tail(self) -> list[str]:
        """The last lines written to stderr."""
        return list(self._tail)

    def _kill_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self._pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _read_stderr(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self._tail.append(line)
                if self._show_output:
                    sys.stderr.write(line + "\n")
                    sys.stderr.flush()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ForkServer:
    """One warm process that forks flow-run processes on request.

    Args:
        env: The server's environment (the agent's base flow-run environment).
        startup_timeout: How long to wait for the server to finish its imports.
    """

    def __init__(self, env: Mapping[str, str], startup_timeout: float = 60.0) -> None:
        self.env = dict(env)
        self.startup_timeout = startup_timeout
        self._sock: socket.socket | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._replies: dict[int, dict[str, Any]] = {}
        self._reply_ready = threading.Condition()
        self._processes: dict[int, ForkedFlowRunProcess] = {}
        self._early_exits: dict[int, int] = {}
        self._reader: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._popen.pid if self._popen is not None else None

    def running(self) -> bool:
        """Whether the server is up."""
        return self._popen is not None and self._popen.poll() is None and self._sock is not None

    def start(self) -> None:
        """Start the server and wait until it is ready.

        Raises:
            ForkServerError: it could not be started or did not get ready in time.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "headwater.agent.local._forkserver_main",
                    str(theirs.fileno()),
                ],
                env=self.env,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise ForkServerError(f"could not start the fork server: {exc}") from exc
        finally:
            theirs.close()
        ours.settimeout(self.startup_timeout)
        try:
            ready = json.loads(ours.recv(_MAX_MESSAGE) or b"{}")
        except (OSError, ValueError) as exc:
            ready = {"error": str(exc)}
        if ready.get("op") != "ready":
            ours.close()
            self._stop_process()
            raise ForkServerError(f"the fork server did not get ready: {ready}")
        ours.settimeout(None)
        self._sock = ours
        self._reader = threading.Thread(target=self._read, name="fork-server", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Stop the server (closing its socket makes it exit); runs it started go on."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._stop_process()

    def _stop_process(self) -> None:
        popen = self._popen
        if popen is None:
            return
        try:
            popen.wait(5.0)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5.0)

    # ------------------------------------------------------------------ runs

    def can_run(self, env: Mapping[str, str]) -> bool:
        """Whether a forked child can take a run with this environment."""
        for name in set(env) | set(self.env):
            if name.startswith(_STARTUP_PREFIXES) and env.get(name) != self.env.get(name):
                return False
        return True

    def start_run(
        self,
        flow_run_id: str,
        env: Mapping[str, str],
        cwd: str | None = None,
        show_output: bool = False,
        timeout: float = 30.0,
    ) -> ForkedFlowRunProcess:
        """Fork a child that runs ``flow_run_id``.

        Raises:
            ForkServerError: the server is not running or did not fork the child.
        """
        sock = self._sock
        if sock is None or not self.running():
            raise ForkServerError("the fork server is not running")
        request_id = next(self._ids)
        read_end, write_end = os.pipe()
        stdout = os.open(os.devnull, os.O_WRONLY) if not show_output else os.dup(1)
        message = {
            "op": "fork",
            "id": request_id,
            "flow_run_id": flow_run_id,
            "env": dict(env),
            "cwd": cwd,
        }
        try:
            with self._lock:
                socket.send_fds(sock, [json.dumps(message).encode()], [stdout, write_end])
        except OSError as exc:
            os.close(read_end)
            raise ForkServerError(f"could not reach the fork server: {exc}") from exc
        finally:
            os.close(write_end)
            os.close(stdout)
        reply = self._reply(request_id, timeout)
        if reply.get("op") != "forked":
            os.close(read_end)
            raise ForkServerError(str(reply.get("detail") or "the fork server gave no answer"))
        pid = int(reply["pid"])
        process = ForkedFlowRunProcess(pid, read_end, show_output=show_output)
        with self._reply_ready:
            code = self._early_exits.pop(pid, None)
            if code is None:
                self._processes[pid] = process
        if code is not None:
            process._exited(code)
        return process

    def _reply(self, request_id: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._reply_ready:
            while request_id not in self._replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._sock is None:
                    return {"op": "error", "detail": "the fork server did not answer in time"}
                self._reply_ready.wait(min(remaining, 0.5))
            return self._replies.pop(request_id)

    def _read(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(_MAX_MESSAGE)
            except OSError:
                data = b""
            if not data:
                break
            try:
                message = json.loads(data)
            except ValueError:
                continue
            with self._reply_ready:
                if message.get("op") == "exit":
                    pid, code = int(message["pid"]), int(message["code"])
                    process = self._processes.pop(pid, None)
                    if process is None:
                        self._early_exits[pid] = code
                    else:
                        process._exited(code)
                elif message.get("id") is not None:
                    self._replies[int(message["id"])] = message
                self._reply_ready.notify_all()
        # The server is gone: its children (if any) are supervised by pid from now on.
        with self._reply_ready:
            for process in self._processes.values():
                process._orphan()
            self._processes.clear()
            if self._sock is sock:
                self._sock = None
            self._reply_ready.notify_all()
