"""``ShellTask``: run a shell command as a task.

Contract:
    ``ShellTask(command=None, env=None, helper_script=None, shell="bash",
    return_all=False, log_env=False, log_stderr=False, stream_output=False, **kwargs)``.
    ``run(command=None, env=None, helper_script=None)`` takes each argument from the
    constructor unless given at run time (an explicit ``None`` wins). It writes
    ``helper_script`` (when given), a newline and ``command`` to a temporary script and
    runs ``<shell> <script>`` in the task's process, with ``env`` merged over the
    process's environment. It returns the last line of standard output (``None`` when
    there was none), or every line as a list with ``return_all=True``; line endings are
    stripped. Output lines are logged at DEBUG, or at INFO with ``stream_output=True``
    (a log level name or number chooses another level). A non-zero exit logs and raises
    :class:`~headwater.engine.signals.FAIL` ``"Command failed with exit code N"``;
    ``log_stderr=True`` also logs the command's standard error at ERROR. A missing
    command is a ``TypeError`` (``"run() missing required argument: 'command'"``). With a
    task ``timeout``, a command still running when it expires is stopped with its child
    processes (TERM, then KILL) and the run ends ``TimedOut``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from typing import IO, Any

from headwater.core.task import Task
from headwater.engine.signals import FAIL
from headwater.exceptions import TaskTimeoutError
from headwater.utilities.tasks import defaults_from_attrs

__all__ = ["ShellTask"]

#: How long a command being stopped (timeout, interrupted run) may take to exit after
#: SIGTERM before it is killed; also how long to wait for stderr once it exited.
_TERMINATE_GRACE = 5.0


def _log_level(stream_output: bool | int | str) -> int:
    """The level output lines are logged at, from ``stream_output``."""
    if stream_output is True:
        return logging.INFO
    if stream_output is False:
        return logging.DEBUG
    if isinstance(stream_output, int):
        return stream_output
    level = logging.getLevelName(stream_output.upper())
    if not isinstance(level, int):
        raise ValueError(
            f"ShellTask: stream_output must be a bool or a log level, got {stream_output!r}"
        )
    return level


def _descendants(pid: int) -> list[int]:
    """The ids of every process below ``pid`` (empty where ``/proc`` is unavailable)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` and its descendants (TERM, then KILL after a grace period).

    Descendants matter: a shell waiting on ``sleep`` keeps the output pipe open through
    it, so stopping the shell alone would not end the command.
    """
    tree = _descendants(process.pid)
    _signal_all([process.pid, *tree], signal.SIGTERM)
    try:
        process.wait(_TERMINATE_GRACE)
    except subprocess.TimeoutExpired:
        pass
    _signal_all([process.pid, *tree, *_descendants(process.pid)], signal.SIGKILL)
    process.wait()


def _collect(stream: IO[bytes], into: list[str]) -> None:
    """Read ``stream`` to its end into ``into``, one decoded line per item."""
    for raw in iter(stream.readline, b""):
        into.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


class ShellTask(Task):
    """A task that runs a shell command and returns its output.

    Args:
        command: the command to run; it may also be given to ``run``.
        env: environment variables for the command, merged over the process's own.
        helper_script: shell code run before ``command`` in the same script (functions,
            ``cd``, ``export``...).
        shell: the shell program that runs the script.
        return_all: return every line of standard output as a list, not only the last.
        log_env: log the command's environment at INFO before running it.
        log_stderr: on failure, log the command's standard error at ERROR.
        stream_output: log standard output lines at INFO instead of DEBUG; a log level
            name or number logs them at that level.
        **kwargs: further :class:`~headwater.core.task.Task` options.

    Raises:
        TypeError: ``shell`` is not a non-empty string, or ``env`` is not a mapping.
        ValueError: ``stream_output`` is neither a bool nor a log level.
    """

    def __init__(
        self,
        command: str | None = None,
        env: Mapping[str, str] | None = None,
        helper_script: str | None = None,
        shell: str = "bash",
        return_all: bool = False,
        log_env: bool = False,
        log_stderr: bool = False,
        stream_output: bool | int | str = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(shell, str) or not shell:
            raise TypeError(f"ShellTask: shell must be a program name, got {shell!r}")
        if env is not None and not isinstance(env, Mapping):
            raise TypeError(f"ShellTask: env must be a mapping, got {type(env).__name__}")
        _log_level(stream_output)  # validates it now rather than at run time
        self.command = command
        self.env = dict(env) if env is not None else None
        self.helper_script = helper_script
        self.shell = shell
        self.return_all = return_all
        self.log_env = log_env
        self.log_stderr = log_stderr
        self.stream_output = stream_output
        super().__init__(**kwargs)

    @defaults_from_attrs("command", "env", "helper_script")
    def run(  # type: ignore[override]
        self,
        command: str | None = None,
        env: Mapping[str, str] | None = None,
        helper_script: str | None = None,
    ) -> str | list[str] | None:
        """Run the command and return its output.

        Args:
            command: the command (default: the constructor's).
            env: environment variables merged over the process's (default: the
                constructor's).
            helper_script: shell code run first (default: the constructor's).

        Returns:
            The last line of standard output (``None`` without output), or all lines
            with ``return_all``.

        Raises:
            TypeError: no command, or a command or helper script that is not a string.
            FileNotFoundError: the shell program does not exist.
            FAIL: the command exited with a non-zero code.
        """
        if command is None:
            raise TypeError("run() missing required argument: 'command'")
        if not isinstance(command, str):
            raise TypeError(f"ShellTask: command must be a string, got {type(command).__name__}")
        if helper_script is not None and not isinstance(helper_script, str):
            raise TypeError(
                f"ShellTask: helper_script must be a string, got {type(helper_script).__name__}"
            )
        if env is not None and not isinstance(env, Mapping):
            raise TypeError(f"ShellTask: env must be a mapping, got {type(env).__name__}")
        run_env = dict(os.environ)
        # Values are stringified so that env={"N": 3} works as a user would expect.
        run_env.update({str(k): str(v) for k, v in (env or {}).items()})
        if self.log_env:
            self.logger.info(
                "Environment variables:\n%s",
                "\n".join(f"{key}={value}" for key, value in sorted(run_env.items())),
            )
        script = (helper_script + "\n" if helper_script else "") + command + "\n"
        with tempfile.NamedTemporaryFile("w", prefix="headwater-", suffix=".sh") as tmp:
            tmp.write(script)
            tmp.flush()
            code, lines, errors = self._execute([self.shell, tmp.name], run_env)
        if code:
            message = f"Command failed with exit code {code}"
            self.logger.error(message)
            if self.log_stderr and errors:
                self.logger.error("\n".join(errors))
            raise FAIL(message)
        if self.return_all:
            return lines
        return lines[-1] if lines else None

    def _execute(self, argv: list[str], env: dict[str, str]) -> tuple[int, list[str], list[str]]:
        """Run ``argv``; return its exit code, stdout lines and stderr lines.

        Raises:
            FileNotFoundError: the shell does not exist.
            TaskTimeoutError: the command outlived the task's ``timeout`` and was stopped.
        """
        try:
            # The command stays in this process's group on purpose: an agent cancelling
            # the flow run signals the whole group, and the command must stop with it.
            process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except FileNotFoundError:
            raise FileNotFoundError(
                f"ShellTask {self.name!r}: shell {self.shell!r} not found"
            ) from None
        assert process.stdout is not None and process.stderr is not None
        errors: list[str] = []
        # Standard error is drained on its own thread: a command writing much to it would
        # otherwise block on a full pipe while stdout is being read.
        reader = threading.Thread(target=_collect, args=(process.stderr, errors), daemon=True)
        reader.start()
        timed_out = threading.Event()
        timer: threading.Timer | None = None
        if self.timeout is not None:
            # The task runner gives up on a timed-out run but cannot stop its thread; the
            # command is stopped here so that it does not run on unobserved.
            def expire() -> None:
                timed_out.set()
                _stop(process)

            timer = threading.Timer(self.timeout, expire)
            timer.daemon = True
            timer.start()
        lines: list[str] = []
        level = _log_level(self.stream_output)
        try:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                lines.append(line)
                self.logger.log(level, line)
            code = process.wait()
        finally:
            if timer is not None:
                timer.cancel()
            if process.poll() is None:
                # The run was interrupted (KeyboardInterrupt): do not leave the command
                # running behind the task.
                _stop(process)
            # A background job of the command may keep stderr open after it exits.
            reader.join(_TERMINATE_GRACE)
            process.stdout.close()
            process.stderr.close()
        if timed_out.is_set():
            raise TaskTimeoutError(f"Task timed out after {self.timeout} seconds.")
        return code, lines, errors
