"""The fork server process: imports the engine once, then forks one child per flow run.

Started by the local agent as ``python -m headwater.agent.local._forkserver_main FD`` with
one end of a ``SOCK_SEQPACKET`` Unix socket pair as file descriptor ``FD``. It loads
everything a flow-run process needs (engine, client, results, storage, the flow-of-flows
tasks), says ``{"op": "ready"}``, and then serves requests, one message each:

- ``{"op": "fork", "id", "flow_run_id", "env", "cwd"}`` with two file descriptors (the
  child's stdout and stderr) attached: it forks; the child starts its own session (so its
  own process group), takes those descriptors as fd 1 and 2 and ``/dev/null`` as fd 0,
  replaces its environment with ``env``, changes to ``cwd``, resets what the server's
  process state could leak (signal handlers, configuration, random seed, import caches)
  and runs the flow run exactly as ``python -m headwater.engine.backend ID`` would, then
  exits with that exit code. The server answers ``{"op": "forked", "id", "pid"}`` (or
  ``{"op": "error", "id", "detail"}``).
- Whenever a child ends, the server reaps it and sends ``{"op": "exit", "pid", "code"}``
  (``code`` negative for a signal, like ``subprocess.Popen.returncode``).

End of input (the agent closed its end or died) makes the server exit; children already
started live on, as spawned flow-run processes outlive their agent. The server runs no
threads, so forking it is safe.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import select
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

from headwater.client import Client
from headwater.engine.backend._main import run_flow_run
from headwater.utilities.configuration import reload_configuration

__all__ = ["main"]

_MAX_MESSAGE = 4 * 1024 * 1024


#: What every flow-run process imports, loaded once here instead of once per run (the
#: flow-of-flows tasks too: parent flows use them).
_PRELOAD = (
    "headwater.client",
    "headwater.engine.backend._main",
    "headwater.engine.backend._runners",
    "headwater.engine.results",
    "headwater.storage",
    "headwater.tasks.headwater",
    "cloudpickle",
)


def _preload() -> Any:
    """Import what every flow-run process needs; return a client made in advance."""
    for name in _PRELOAD:
        importlib.import_module(name)
    # Making a client pays for its TLS context and transport; no request is sent, so no
    # connection exists that a child could share.
    return Client()


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass  # the agent is gone; the loop notices at its next read


def _child(
    request: dict[str, Any],
    fds: list[int],
    sock: socket.socket,
    client: Any,
    closing: list[int],
    started: int,
) -> None:
    """In the forked child: become the flow-run process; never returns."""
    code = 1
    try:
        os.setsid()
        # The server answers the agent only once this process leads its own group, so
        # a cancel sent right after the answer reaches the whole group.
        os.write(started, b"1")
        os.close(started)
        signal.set_wakeup_fd(-1)
        # As in a fresh interpreter (which ignores SIGPIPE, so that a write to the stderr
        # pipe of a dead agent raises instead of killing the run).
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        sock.close()
        for fd in closing:
            os.close(fd)
        stdout_fd, stderr_fd = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        for fd in {devnull, stdout_fd, stderr_fd} - {0, 1, 2}:
            os.close(fd)
        code = _become_flow_run(request, client)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def _become_flow_run(request: dict[str, Any], client: Any) -> int:
    server_cwd = os.getcwd()
    cwd = request.get("cwd")
    if cwd:
        os.chdir(cwd)
    if sys.path and sys.path[0] in ("", server_cwd):
        # ``python -m`` puts the start directory first; a spawned run would have its own.
        sys.path[0] = os.getcwd()
    env = {str(k): str(v) for k, v in (request.get("env") or {}).items()}
    before = (os.environ.get("HEADWATER_API_URL"), os.environ.get("HEADWATER_API_KEY"))
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [sys.argv[0], str(request["flow_run_id"])]
    importlib.invalidate_caches()
    random.seed()
    reload_configuration()
    if (env.get("HEADWATER_API_URL"), env.get("HEADWATER_API_KEY")) != before:
        client = Client()
    return run_flow_run(str(request["flow_run_id"]), client=client)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, {"op": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


def serve(sock: socket.socket) -> int:
    """Serve fork requests on ``sock`` until the agent closes it."""
    client = _preload()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    # A handler (not SIG_DFL) so that SIGCHLD writes to the wake-up pipe.
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    # The agent's Ctrl-C or a TERM to its group is not meant for the server's children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    _send(sock, {"op": "ready", "pid": os.getpid()})
    try:
        while True:
            for key, _ in selector.select(timeout=5.0):
                if key.fileobj is sock:
                    if not _handle(sock, client, [wake_r, wake_w]):
                        return 0
                else:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
            _reap(sock)
    finally:
        selector.close()


def _handle(sock: socket.socket, client: Any, closing: list[int]) -> bool:
    try:
        data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 2)
    except OSError:
        return False
    if not data:
        return False
    try:
        request = json.loads(data)
        if request.get("op") != "fork" or len(fds) != 2 or not request.get("flow_run_id"):
            raise ValueError(f"not a fork request: {data[:200]!r}")
    except ValueError as exc:
        for fd in fds:
            os.close(fd)
        _send(sock, {"op": "error", "id": None, "detail": str(exc)})
        return True
    started_r, started_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (*fds, started_r, started_w):
            os.close(fd)
        _send(sock, {"op": "error", "id": request.get("id"), "detail": f"fork failed: {exc}"})
        return True
    if pid == 0:
        os.close(started_r)
        _child(request, fds, sock, client, closing, started_w)
    for fd in (*fds, started_w):
        os.close(fd)
    # Wait for the child's setsid() (end of file: it died first; its exit is reported).
    select.select([started_r], [], [], 10.0)
    os.close(started_r)
    _send(sock, {"op": "forked", "id": request.get("id"), "pid": pid})
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m headwater.agent.local._forkserver_main FD``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m headwater.agent.local._forkserver_main FD", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(args[0]))
    try:
        return serve(sock)
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
