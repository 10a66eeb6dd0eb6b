"""Server configuration.

Contract: :class:`ServerSettings` is a plain frozen dataclass built either explicitly or by
:meth:`ServerSettings.from_env` from ``HEADWATER_*`` environment variables. Nothing here
touches the database or imports the web stack, so the CLI can validate options cheaply.

Environment variables read by :meth:`ServerSettings.from_env`:

- ``HEADWATER_HOME`` (default ``~/.headwater``): where the SQLite database and results live.
- ``HEADWATER_DATABASE_URL``: SQLAlchemy or plain ``postgresql://`` URL, or a file path.
- ``HEADWATER_API_KEY``: when set, every route but health needs ``Authorization: Bearer``.
- ``HEADWATER_SERVER_HOST`` / ``HEADWATER_SERVER_PORT``.
- ``HEADWATER_RESULTS_URL``: directory or fsspec URL of the result store.
- ``HEADWATER_MAX_RESULT_BYTES`` / ``HEADWATER_MAX_REQUEST_BYTES``.
- ``HEADWATER_SERVER_MAX_JSON_DEPTH`` (64): deepest accepted nesting of a JSON request body.
- ``HEADWATER_SQLITE_SYNCHRONOUS``: ``FULL`` (default) or ``NORMAL``.
- ``HEADWATER_SERVER_MAX_RUN_DEPTH`` (32): the deepest parent -> child nesting of flow
  runs; creating a run deeper than that fails with 422 naming the chain.
- Background services, in seconds: ``HEADWATER_REAPER_INTERVAL`` (30),
  ``HEADWATER_HEARTBEAT_TIMEOUT`` (600), ``HEADWATER_SUBMITTED_TIMEOUT`` (300),
  ``HEADWATER_LATE_RUNS_INTERVAL`` (30), ``HEADWATER_LATE_AFTER`` (60),
  ``HEADWATER_SERVER_SCHEDULER_INTERVAL`` (30; 0 turns server-side scheduling off).
- Key-value store: ``HEADWATER_SERVER_KV_MAX_VALUE_BYTES`` (10240).
- State-change hooks: ``HEADWATER_SERVER_HOOK_TIMEOUT`` (10 s per attempt),
  ``HEADWATER_SERVER_HOOK_RETRIES`` (3 after the first attempt),
  ``HEADWATER_SERVER_HOOK_RETRY_DELAY`` (1 s, doubling); hook URLs and tokens are read
  from ``HEADWATER_HOOK_*`` variables named by each hook.
- Retention (all off by default): ``HEADWATER_SERVER_RETENTION_FLOW_RUNS``,
  ``..._TASK_RUNS``, ``..._LOGS``, ``..._ARTIFACTS``, ``..._RESULTS``: an age such as
  ``30d``, ``12h``, ``15m``, ``90s`` (a bare number is days);
  ``HEADWATER_SERVER_RETENTION_INTERVAL`` (3600 s between passes),
  ``HEADWATER_SERVER_RETENTION_BATCH_SIZE`` (200 rows per transaction).
- ``HEADWATER_SERVER_UI``: ``false`` (or ``0``/``no``/``off``) turns the web UI at ``/`` off.
- ``HEADWATER_SERVER_MAX_RESURRECTIONS`` (3): how many times a run that lost its process is
  scheduled again (Lazarus); 0 turns resumption off.
- ``HEADWATER_SERVER_CLAIM_LEASE`` (30): seconds after which a claimed run whose agent was not
  heard from (and never acknowledged the claim) is handed back.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerSettings", "default_home", "parse_age"]


def default_home() -> Path:
    """The Headwater home directory (``$HEADWATER_HOME`` or ``~/.headwater``)."""
    raw = os.environ.get("HEADWATER_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".headwater"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_age(raw: str, name: str = "age") -> float | None:
    """Seconds of an age such as ``30d``, ``12h``, ``15m``, ``90s`` or ``2w``; a bare
    number is days. Empty, ``0`` and ``off`` give ``None`` (no limit).

    Raises:
        ValueError: the text is not an age.
    """
    text = raw.strip().lower()
    if text in ("", "0", "off", "none", "never"):
        return None
    unit = 86400.0
    if text[-1] in _UNITS:
        unit, text = _UNITS[text[-1]], text[:-1].strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"{name} must be an age such as 30d, 12h, 15m or 90s, got {raw!r}"
        ) from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"{name} must be a positive age, got {raw!r}")
    return value * unit if value > 0 else None


def _age_env(name: str) -> float | None:
    return parse_age(os.environ.get(name) or "", name)


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server process needs to know at start.

    Attributes:
        home: Home directory; the default SQLite file and result store live under it.
        database_url: Database URL; ``None`` means SQLite at ``home/headwater.db``.
        host: Interface to bind.
        port: TCP port to bind.
        api_key: Bearer key required on every route but health, or ``None`` for none.
        results_url: Directory or fsspec URL for task-run results; ``None`` means
            ``home/results``.
        max_result_bytes: Largest accepted result upload.
        max_request_bytes: Largest accepted JSON request body.
        max_json_depth: Deepest accepted nesting of a JSON request body (the body is
            level 1); deeper bodies are refused with 422 before any route runs.
        run_migrations: Whether the app upgrades the database schema when it starts.
        start_services: Whether the app starts the background services.
        reaper_interval: Seconds between reaper passes.
        heartbeat_timeout: Seconds without heartbeat after which a run counts as lost;
            time before the server started does not count (start-up grace).
        submitted_timeout: Seconds a Submitted run may wait for its process to start.
        max_resurrections: How many times the reaper schedules a run that lost its
            process again (Lazarus), keeping its finished task runs; 0 turns it off.
        claim_lease: Seconds a claimed (Submitted) run stays with a silent agent that never
            acknowledged it, before it is handed back to the queue.
        late_runs_interval: Seconds between late-run reporter passes.
        late_after: Seconds past its start time after which a run is reported late.
        scheduler_interval: Seconds between scheduler passes; 0 or less turns scheduling
            off (no passes, and registering or switching a schedule on creates no runs).
        sqlite_synchronous: SQLite durability: ``FULL`` (every commit survives power
            loss) or ``NORMAL`` (faster; survives a crash of the server process).
        kv_max_value_bytes: Largest JSON form of a value in the key-value store.
        hook_timeout: Seconds one attempt to call a hook may take.
        hook_retries: Attempts after the first when a hook call fails.
        hook_retry_delay: Seconds before the first retry of a hook call (doubling).
        retention_flow_runs: Age in seconds after which finished flow runs are deleted
            with everything they own (``None``: kept for ever); likewise
            ``retention_task_runs`` (finished task runs of finished flow runs),
            ``retention_logs``, ``retention_artifacts`` and ``retention_results`` (result
            files in the server's store, by the task run's last change).
        retention_interval: Seconds between retention passes.
        retention_batch_size: Rows deleted per transaction, so writers are never held up.
        ui: Whether the web UI is served at ``/`` (the API stays under ``/api``).
        max_run_depth: The most ancestors a flow run may have (a run without a parent
            has none): runaway protection against flows that start runs of themselves.
    """

    home: Path = field(default_factory=default_home)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 4200
    api_key: str | None = None
    results_url: str | None = None
    max_result_bytes: int = 100 * 1024 * 1024
    max_request_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64
    run_migrations: bool = True
    start_services: bool = True
    reaper_interval: float = 30.0
    heartbeat_timeout: float = 600.0
    submitted_timeout: float = 300.0
    max_resurrections: int = 3
    claim_lease: float = 30.0
    late_runs_interval: float = 30.0
    late_after: float = 60.0
    scheduler_interval: float = 30.0
    sqlite_synchronous: str = "FULL"
    kv_max_value_bytes: int = 10 * 1024
    hook_timeout: float = 10.0
    hook_retries: int = 3
    hook_retry_delay: float = 1.0
    retention_flow_runs: float | None = None
    retention_task_runs: float | None = None
    retention_logs: float | None = None
    retention_artifacts: float | None = None
    retention_results: float | None = None
    retention_interval: float = 3600.0
    retention_batch_size: int = 200
    ui: bool = True
    max_run_depth: int = 32

    def __post_init__(self) -> None:
        if self.max_run_depth < 1:
            raise ValueError(
                f"HEADWATER_SERVER_MAX_RUN_DEPTH must be at least 1, got {self.max_run_depth}"
            )

    @classmethod
    def from_env(cls, **overrides: object) -> ServerSettings:
        """Build settings from ``HEADWATER_*`` variables; ``overrides`` that are not
        ``None`` win.

        Raises:
            ValueError: A numeric variable does not parse.
        """
        values: dict[str, object] = {
            "home": default_home(),
            "database_url": os.environ.get("HEADWATER_DATABASE_URL") or None,
            "host": os.environ.get("HEADWATER_SERVER_HOST") or "127.0.0.1",
            "port": _int_env("HEADWATER_SERVER_PORT", 4200),
            "api_key": os.environ.get("HEADWATER_API_KEY") or None,
            "results_url": os.environ.get("HEADWATER_RESULTS_URL") or None,
            "max_result_bytes": _int_env("HEADWATER_MAX_RESULT_BYTES", 100 * 1024 * 1024),
            "max_request_bytes": _int_env("HEADWATER_MAX_REQUEST_BYTES", 16 * 1024 * 1024),
            "max_json_depth": _int_env("HEADWATER_SERVER_MAX_JSON_DEPTH", 64),
            "reaper_interval": _float_env("HEADWATER_REAPER_INTERVAL", 30.0),
            "heartbeat_timeout": _float_env("HEADWATER_HEARTBEAT_TIMEOUT", 600.0),
            "submitted_timeout": _float_env("HEADWATER_SUBMITTED_TIMEOUT", 300.0),
            "max_resurrections": _int_env("HEADWATER_SERVER_MAX_RESURRECTIONS", 3),
            "claim_lease": _float_env("HEADWATER_SERVER_CLAIM_LEASE", 30.0),
            "late_runs_interval": _float_env("HEADWATER_LATE_RUNS_INTERVAL", 30.0),
            "late_after": _float_env("HEADWATER_LATE_AFTER", 60.0),
            "scheduler_interval": _float_env("HEADWATER_SERVER_SCHEDULER_INTERVAL", 30.0),
            "sqlite_synchronous": os.environ.get("HEADWATER_SQLITE_SYNCHRONOUS") or "FULL",
            "kv_max_value_bytes": _int_env("HEADWATER_SERVER_KV_MAX_VALUE_BYTES", 10 * 1024),
            "hook_timeout": _float_env("HEADWATER_SERVER_HOOK_TIMEOUT", 10.0),
            "hook_retries": _int_env("HEADWATER_SERVER_HOOK_RETRIES", 3),
            "hook_retry_delay": _float_env("HEADWATER_SERVER_HOOK_RETRY_DELAY", 1.0),
            "retention_interval": _float_env("HEADWATER_SERVER_RETENTION_INTERVAL", 3600.0),
            "retention_batch_size": _int_env("HEADWATER_SERVER_RETENTION_BATCH_SIZE", 200),
            "ui": _bool_env("HEADWATER_SERVER_UI", True),
            "max_run_depth": _int_env("HEADWATER_SERVER_MAX_RUN_DEPTH", 32),
        }
        for kind in ("flow_runs", "task_runs", "logs", "artifacts", "results"):
            values[f"retention_{kind}"] = _age_env(f"HEADWATER_SERVER_RETENTION_{kind.upper()}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> ServerSettings:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite under :attr:`home`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.home) / 'headwater.db'}"

    @property
    def resolved_results_url(self) -> str:
        """The result store location, defaulting to ``home/results``."""
        return self.results_url or str(Path(self.home) / "results")
