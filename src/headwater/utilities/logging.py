"""Logging: the ``headwater`` logger tree, its configuration and hooks for shipping logs.

Contract:
    :func:`get_logger` returns ``headwater`` or a child ``headwater.<name>``. The first
    call configures the ``headwater`` logger once from ``config.logging``: the level, a
    stderr handler with ``format``/``datefmt``, and the same for every logger named in
    ``extra_loggers``. Records keep propagating to the root logger, so applications (and
    pytest's ``caplog``) see them too.

    :func:`add_log_handler` attaches another handler (the backend runner uses one to ship
    logs to the server). Records reaching such a handler carry the run context's
    ``flow_run_id``, ``task_run_id``, ``flow_name``, ``task_name``, ``task_slug`` and
    ``map_index`` as attributes (None when not set), added by :class:`ContextFilter`.

    :func:`redirect_stdout_to_logger` sends ``print`` output of the current thread (or
    asyncio task) to a logger for the duration of a ``with`` block; other threads keep
    printing to the real stdout.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from headwater.utilities.configuration import config
from headwater.utilities.context import context

__all__ = [
    "ContextFilter",
    "add_log_handler",
    "configure_logging",
    "get_logger",
    "redirect_stdout_to_logger",
    "remove_log_handler",
]

ROOT_NAME = "headwater"
CONTEXT_ATTRIBUTES = (
    "flow_run_id",
    "task_run_id",
    "flow_name",
    "task_name",
    "task_slug",
    "map_index",
)

_configured = False
_config_lock = threading.Lock()
_extra_handlers: list[logging.Handler] = []


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes to whatever ``sys.stderr`` is at emit time.

    Looking the stream up on each record keeps output going to a replaced stderr (test
    capture, redirection) instead of the one present when logging was configured.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class ContextFilter(logging.Filter):
    """Copy run identifiers from ``headwater.context`` onto each record passing through."""

    def filter(self, record: logging.LogRecord) -> bool:
        snapshot = context.to_dict()
        for attr in CONTEXT_ATTRIBUTES:
            if not hasattr(record, attr):
                setattr(record, attr, snapshot.get(attr))
        return True


def _logging_settings() -> Any:
    return config.get("logging", {})


def _make_stderr_handler(settings: Any) -> logging.Handler:
    handler = _StderrHandler()
    handler.setFormatter(
        logging.Formatter(settings.get("format") or None, settings.get("datefmt") or None)
    )
    return handler


def configure_logging(force: bool = False) -> logging.Logger:
    """Configure the ``headwater`` logger (and extra loggers) from ``config.logging``.

    Args:
        force: configure again even if already done (after a configuration change).

    Returns:
        The ``headwater`` logger.

    Raises:
        ValueError: when ``logging.level`` is not a logging level name or number.
    """
    global _configured
    logger = logging.getLogger(ROOT_NAME)
    with _config_lock:
        if _configured and not force:
            return logger
        settings = _logging_settings()
        level = settings.get("level", "INFO")
        if isinstance(level, str):
            level = level.upper()
            if not isinstance(logging.getLevelName(level), int):
                raise ValueError(f"invalid logging.level in the configuration: {level!r}")
        names = [ROOT_NAME, *[str(n) for n in settings.get("extra_loggers", []) or []]]
        for name in names:
            target = logging.getLogger(name)
            for old in [h for h in target.handlers if isinstance(h, _StderrHandler)]:
                target.removeHandler(old)
            target.addHandler(_make_stderr_handler(settings))
            target.setLevel(level)
            for extra in _extra_handlers:
                if extra not in target.handlers:
                    target.addHandler(extra)
        _configured = True
    return logger


def get_logger(name: str | None = None) -> logging.Logger:
    """Return the ``headwater`` logger, or its child ``headwater.<name>``.

    Args:
        name: the child logger's name (for example a task or flow name).
    """
    if not _configured:
        configure_logging()
    if not name or name == ROOT_NAME:
        return logging.getLogger(ROOT_NAME)
    if name.startswith(ROOT_NAME + "."):
        return logging.getLogger(name)  # already a full name under the headwater tree
    return logging.getLogger(f"{ROOT_NAME}.{name}")


def _target_loggers() -> list[logging.Logger]:
    names = [ROOT_NAME, *[str(n) for n in _logging_settings().get("extra_loggers", []) or []]]
    return [logging.getLogger(n) for n in names]


def add_log_handler(handler: logging.Handler) -> logging.Handler:
    """Attach ``handler`` to the ``headwater`` logger and the configured extra loggers.

    The handler gets a :class:`ContextFilter`, so records carry the run's ids.

    Args:
        handler: the handler (for example one that ships records to the server).

    Returns:
        The handler, for :func:`remove_log_handler`.
    """
    if not _configured:
        configure_logging()
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    with _config_lock:
        if handler not in _extra_handlers:
            _extra_handlers.append(handler)
        for target in _target_loggers():
            if handler not in target.handlers:
                target.addHandler(handler)
    return handler


def remove_log_handler(handler: logging.Handler) -> None:
    """Detach a handler added with :func:`add_log_handler` (no error if absent)."""
    with _config_lock:
        if handler in _extra_handlers:
            _extra_handlers.remove(handler)
        for target in _target_loggers():
            target.removeHandler(handler)


# --- stdout redirection ---------------------------------------------------------------

_STDOUT_LOGGER: ContextVar[logging.Logger | None] = ContextVar(
    "headwater_stdout_logger", default=None
)


class _LineLogger:
    """Collects written text and logs it line by line."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger = logger
        self.level = level
        self.buffer = ""

    def write(self, text: str) -> None:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.strip():
                self.logger.log(self.level, line)

    def flush(self) -> None:
        if self.buffer.strip():
            self.logger.log(self.level, self.buffer)
        self.buffer = ""


_WRITERS: ContextVar[_LineLogger | None] = ContextVar("headwater_stdout_writer", default=None)


class _StdoutRouter:
    """Stands in for ``sys.stdout``: writes of redirected runs go to their logger."""

    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        writer = _WRITERS.get()
        if writer is None:
            return self.original.write(text)
        writer.write(text)
        return len(text)

    def flush(self) -> None:
        writer = _WRITERS.get()
        if writer is None:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


_router_lock = threading.Lock()
_router_users = 0


@contextmanager
def redirect_stdout_to_logger(
    logger: logging.Logger | None = None, level: int = logging.INFO
) -> Iterator[None]:
    """Send ``print`` output of the current thread to ``logger`` inside the block.

    Args:
        logger: the target logger; defaults to ``headwater.context.logger``.
        level: the level of the logged lines.
    """
    global _router_users
    if logger is None:
        logger = context.logger
    writer = _LineLogger(logger, level)
    with _router_lock:
        if not isinstance(sys.stdout, _StdoutRouter):
            sys.stdout = _StdoutRouter(sys.stdout)  # type: ignore[assignment]
        _router_users += 1
    token = _WRITERS.set(writer)
    try:
        yield
    finally:
        writer.flush()
        _WRITERS.reset(token)
        with _router_lock:
            _router_users -= 1
            if _router_users == 0 and isinstance(sys.stdout, _StdoutRouter):
                sys.stdout = sys.stdout.original  # type: ignore[assignment]
