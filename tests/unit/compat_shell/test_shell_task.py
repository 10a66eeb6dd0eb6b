"""ShellTask runs real shell commands: output, environment, failures and logging."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import Flow
from headwater.engine.signals import FAIL
from headwater.exceptions import TaskTimeoutError
from headwater.tasks.shell import ShellTask

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or sys.platform == "win32", reason="needs bash"
)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def records() -> Iterator[_Records]:
    """Every record of the ``headwater.sh`` task logger, DEBUG included."""
    logger = logging.getLogger("headwater.sh")
    handler = _Records()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_returns_the_last_line_by_default() -> None:
    assert ShellTask(command="echo first && echo second").run() == "second"


def test_return_all_returns_every_line_including_blank_ones() -> None:
    task = ShellTask(command="echo a; echo; echo 'b c'", return_all=True)
    assert task.run() == ["a", "", "b c"]


def test_no_output_is_none_or_an_empty_list() -> None:
    assert ShellTask(command="true").run() is None
    assert ShellTask(command="true", return_all=True).run() == []


def test_run_arguments_override_the_constructor() -> None:
    task = ShellTask(command="echo from-init", env={"WHO": "init"})
    assert task.run() == "from-init"
    assert task.run(command='echo "$WHO"') == "init"
    assert task.run(command='echo "$WHO"', env={"WHO": "run"}) == "run"


def test_env_is_merged_over_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_SHELL_OUTER", "outer")
    task = ShellTask(env={"HW_SHELL_INNER": 3}, return_all=True)  # type: ignore[dict-item]
    assert task.run(command='echo "$HW_SHELL_OUTER"; echo "$HW_SHELL_INNER"') == ["outer", "3"]


def test_helper_script_runs_first_in_the_same_shell() -> None:
    task = ShellTask(helper_script='greet() { echo "hello $1"; }\nexport X=1')
    assert task.run(command='greet "$X"') == "hello 1"


def test_another_shell_can_run_the_script() -> None:
    assert ShellTask(command="echo ok", shell="sh").run() == "ok"


def test_missing_command_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"run\(\) missing required argument: 'command'"):
        ShellTask().run()


def test_non_zero_exit_raises_fail_with_the_code(records: _Records) -> None:
    task = ShellTask(name="sh", command="echo out; echo bad >&2; exit 3")
    with pytest.raises(FAIL, match="Command failed with exit code 3"):
        task.run()
    assert records.at(logging.ERROR) == ["Command failed with exit code 3"]


def test_log_stderr_logs_standard_error_on_failure(records: _Records) -> None:
    task = ShellTask(name="sh", command="echo one >&2; echo two >&2; exit 1", log_stderr=True)
    with pytest.raises(FAIL):
        task.run()
    assert records.at(logging.ERROR) == ["Command failed with exit code 1", "one\ntwo"]


def test_output_lines_are_logged_at_debug_or_info(records: _Records) -> None:
    ShellTask(name="sh", command="echo quiet").run()
    assert records.at(logging.DEBUG) == ["quiet"]
    assert records.at(logging.INFO) == []
    ShellTask(name="sh", command="echo loud", stream_output=True).run()
    assert records.at(logging.INFO) == ["loud"]
    ShellTask(name="sh", command="echo warned", stream_output="warning").run()
    assert records.at(logging.WARNING) == ["warned"]


def test_log_env_logs_the_environment(records: _Records) -> None:
    ShellTask(name="sh", command="true", env={"HW_SHELL_SHOWN": "yes"}, log_env=True).run()
    (message,) = records.at(logging.INFO)
    assert "HW_SHELL_SHOWN=yes" in message.splitlines()


def test_much_standard_error_does_not_block_the_command() -> None:
    # More than a pipe buffer (64 KiB) on stderr while stdout is being read.
    command = "head -c 1000000 /dev/zero | tr '\\0' x >&2; echo done"
    assert ShellTask(command=command).run() == "done"


def test_undecodable_output_is_replaced_not_an_error() -> None:
    assert ShellTask(command="printf 'a\\377b\\n'").run() == "a\ufffdb"


def test_a_missing_shell_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="no-such-shell-hw"):
        ShellTask(command="true", shell="no-such-shell-hw").run()


def test_bad_options_are_rejected_when_built() -> None:
    with pytest.raises(TypeError, match="shell"):
        ShellTask(shell="")
    with pytest.raises(TypeError, match="env must be a mapping"):
        ShellTask(env=["A=1"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stream_output"):
        ShellTask(stream_output="loudly")
    with pytest.raises(TypeError, match="command must be a string"):
        ShellTask().run(command=["echo", "x"])  # type: ignore[arg-type]


def test_in_a_flow_a_failing_command_fails_the_run() -> None:
    shell = ShellTask()
    with Flow("shell-flow") as flow:
        good = shell(command="echo first && echo second")
        bad = shell(command="exit 4")
        missing = ShellTask(name="no-command")()
    state = flow.run()
    assert state.is_failed()
    assert state.result[good].result == "second"
    assert state.result[bad].is_failed()
    assert state.result[bad].message == "Command failed with exit code 4"
    assert state.result[missing].is_failed()
    assert "missing required argument: 'command'" in str(state.result[missing].result)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent's wait is missing.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_timed_out_command_is_stopped_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = ShellTask(command=f"sleep 30 & echo $! > {pid_file}; wait", timeout=1)
    started = time.monotonic()
    with pytest.raises(TaskTimeoutError, match="timed out after 1 seconds"):
        task.run()
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_in_a_flow_a_timed_out_command_ends_timed_out() -> None:
    with Flow("shell-timeout") as flow:
        slow = ShellTask(command="sleep 30", timeout=1)()
    started = time.monotonic()
    state = flow.run()
    assert state.result[slow].is_failed()
    assert type(state.result[slow]).__name__ == "TimedOut"
    assert time.monotonic() - started < 10
