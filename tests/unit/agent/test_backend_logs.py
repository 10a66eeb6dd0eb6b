"""ServerLogHandler: batching, periodic flush, flush on close, retry after errors."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from headwater.engine.backend._heartbeat import HeartbeatThread
from headwater.engine.backend._logs import ServerLogHandler
from support.waiting import wait_until as _wait_for


class _Sink:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail = False
        self.attempts = 0
        self.lock = threading.Lock()

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        self.attempts += 1
        if self.fail:
            raise ConnectionError("server down")
        with self.lock:
            self.batches.append(list(batch))

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for b in self.batches for r in b]


def _logger(handler: logging.Handler, name: str) -> logging.Logger:
    log = logging.getLogger(name)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)
    return log


def test_records_are_shipped_within_the_flush_interval() -> None:
    sink = _Sink()
    handler = ServerLogHandler(sink, "run-1", lambda: "task-1", flush_interval=0.1)
    log = _logger(handler, "test.logs.periodic")
    try:
        log.info("hello %s", "world")
        _wait_for(lambda: len(sink.records) == 1)
        record = sink.records[0]
        assert record["message"] == "hello world"
        assert record["flow_run_id"] == "run-1"
        assert record["task_run_id"] == "task-1"
        assert record["level"] == "INFO"
        assert record["name"] == "test.logs.periodic"
        assert record["timestamp"].endswith("+00:00")
    finally:
        log.removeHandler(handler)
        handler.close()


def test_close_flushes_everything_in_batches() -> None:
    sink = _Sink()
    handler = ServerLogHandler(sink, "run-1", flush_interval=60, max_batch=10)
    log = _logger(handler, "test.logs.close")
    for i in range(25):
        log.warning("n=%d", i)
    log.removeHandler(handler)
    handler.close()
    assert [r["message"] for r in sink.records] == [f"n={i}" for i in range(25)]
    assert max(len(b) for b in sink.batches) <= 10


def test_records_survive_a_server_outage_and_exceptions_are_formatted() -> None:
    sink = _Sink()
    sink.fail = True
    handler = ServerLogHandler(sink, "run-1", flush_interval=0.05)
    log = _logger(handler, "test.logs.outage")
    try:
        try:
            raise RuntimeError("kaboom")
        except RuntimeError:
            log.exception("task failed")
        _wait_for(lambda: sink.attempts >= 3)  # several failed attempts, nothing lost
        assert sink.records == []
        sink.fail = False
        _wait_for(lambda: len(sink.records) == 1)
        assert "RuntimeError: kaboom" in sink.records[0]["message"]
    finally:
        log.removeHandler(handler)
        handler.close()


class _Restarting(_Sink):
    """A server that cannot be reached for the first ``down`` attempts."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down = down

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        self.fail = self.attempts < self.down
        super().__call__(batch)


def test_close_delivers_the_last_records_through_a_server_restart() -> None:
    sink = _Restarting(down=3)
    handler = ServerLogHandler(sink, "run-1", flush_interval=60)
    log = _logger(handler, "test.logs.restart")
    log.warning("the last line")
    log.removeHandler(handler)
    handler.close()
    assert sink.attempts == 4
    assert [r["message"] for r in sink.records] == ["the last line"]


def test_close_gives_up_after_its_timeout_and_says_so(caplog: Any) -> None:
    sink = _Sink()
    sink.fail = True
    handler = ServerLogHandler(sink, "run-1", flush_interval=60)
    log = _logger(handler, "test.logs.gone")
    log.warning("never delivered")
    log.removeHandler(handler)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="headwater.engine.backend.logs"):
        handler.close(timeout=1.0)
    assert time.monotonic() - started < 5.0
    assert sink.records == [] and sink.attempts >= 2
    assert "Could not ship the last 1 log records" in caplog.text


def test_heartbeat_thread_beats_until_stopped() -> None:
    beats: list[float] = []
    thread = HeartbeatThread(lambda: beats.append(time.monotonic()), interval=0.02)
    thread.start()
    _wait_for(lambda: len(beats) >= 3)
    thread.stop()
    thread.join(timeout=2)
    assert not thread.is_alive()


def test_handler_without_a_run_takes_it_from_the_context() -> None:
    from headwater.utilities.context import context

    sink = _Sink()
    handler = ServerLogHandler(sink, None, flush_interval=60)
    log = logging.getLogger("headwater.test.worker_handler")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("outside any run")
        with context(flow_run_id="run-7", task_run_id="task-1"):
            log.warning("inside a run")
        handler.flush()
    finally:
        log.removeHandler(handler)
        handler.close()
    assert [(r["flow_run_id"], r["message"]) for r in sink.records] == [("run-7", "inside a run")]
    assert handler.is_shipping() is False


def test_worker_setup_is_picklable_and_skips_a_process_that_already_ships() -> None:
    import cloudpickle

    from headwater.engine.backend import _worker_setup
    from headwater.utilities.logging import add_log_handler, remove_log_handler

    setup = _worker_setup.worker_setup_for("http://127.0.0.1:1/api", None, True, 0.1)
    assert cloudpickle.loads(cloudpickle.dumps(setup)).args == setup.args  # type: ignore[attr-defined]
    own = add_log_handler(ServerLogHandler(_Sink(), "run-1", flush_interval=60))
    try:
        # A worker inside the flow-run process keeps using the process's own handler.
        assert _worker_setup._drop_inherited_handlers(remove_log_handler) is True
    finally:
        remove_log_handler(own)
        own.close()
