"""Logging: logger names, configuration, shipped handlers and stdout redirection."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from headwater.utilities import logging as hw_logging
from headwater.utilities.configuration import set_temporary_config
from headwater.utilities.context import context


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def shipped() -> Iterator[ListHandler]:
    handler = hw_logging.add_log_handler(ListHandler())
    assert isinstance(handler, ListHandler)
    yield handler
    hw_logging.remove_log_handler(handler)


def test_logger_names() -> None:
    assert hw_logging.get_logger().name == "headwater"
    assert hw_logging.get_logger("my-task").name == "headwater.my-task"
    assert hw_logging.get_logger("headwater.engine").name == "headwater.engine"
    assert hw_logging.get_logger("headwater").name == "headwater"


def test_configured_from_config(capsys: pytest.CaptureFixture[str]) -> None:
    hw_logging.get_logger("cfg").info("visible line")
    err = capsys.readouterr().err
    assert "INFO - headwater.cfg | visible line" in err
    assert logging.getLogger("headwater").level == logging.INFO


def test_reconfigure_level(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        with set_temporary_config({"logging.level": "warning"}):
            hw_logging.configure_logging(force=True)
            hw_logging.get_logger().info("hidden")
            hw_logging.get_logger().warning("shown")
            err = capsys.readouterr().err
            assert "hidden" not in err and "shown" in err
    finally:
        hw_logging.configure_logging(force=True)
    assert logging.getLogger("headwater").level == logging.INFO


def test_extra_logger_output(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        with set_temporary_config({"logging.extra_loggers": ["extra.lib"]}):
            hw_logging.configure_logging(force=True)
            logging.getLogger("extra.lib").info("from the library")
            assert "extra.lib | from the library" in capsys.readouterr().err
    finally:
        logging.getLogger("extra.lib").handlers.clear()
        hw_logging.configure_logging(force=True)


def test_invalid_level() -> None:
    with set_temporary_config({"logging.level": "LOUD"}), pytest.raises(ValueError, match="LOUD"):
        hw_logging.configure_logging(force=True)
    hw_logging.configure_logging(force=True)


def test_shipped_records_carry_run_ids(shipped: ListHandler) -> None:
    with context(flow_run_id="fr", task_run_id="tr", task_name="t", map_index=0):
        hw_logging.get_logger("t").info("inside")
    hw_logging.get_logger().info("outside")
    inside, outside = shipped.records[-2:]
    assert (inside.flow_run_id, inside.task_run_id, inside.map_index) == ("fr", "tr", 0)  # type: ignore[attr-defined]
    assert outside.flow_run_id is None  # type: ignore[attr-defined]
    hw_logging.remove_log_handler(shipped)
    hw_logging.get_logger().info("after removal")
    assert shipped.records[-1].getMessage() == "outside"


def test_caplog_sees_records(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        hw_logging.get_logger("cap").info("captured")
    assert "captured" in caplog.text


def test_redirect_stdout_to_logger(shipped: ListHandler) -> None:
    original = sys.stdout
    with context(task_name="printer"), hw_logging.redirect_stdout_to_logger():
        print("line one")
        print("partial", end="")
    assert sys.stdout is original
    messages = [(r.name, r.getMessage()) for r in shipped.records]
    assert ("headwater.printer", "line one") in messages
    assert ("headwater.printer", "partial") in messages


def test_redirect_is_per_thread(shipped: ListHandler, capsys: pytest.CaptureFixture[str]) -> None:
    inside = threading.Event()
    done = threading.Event()

    def other_thread() -> None:
        inside.wait(10)
        print("not redirected")
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with hw_logging.redirect_stdout_to_logger(hw_logging.get_logger("r")):
        inside.set()
        assert done.wait(10)
        print("redirected")
    thread.join(10)
    out = capsys.readouterr().out
    assert "not redirected" in out and "redirected\n" not in out.replace("not redirected", "")
    assert "redirected" in [r.getMessage() for r in shipped.records]
