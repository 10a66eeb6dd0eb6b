"""Settings, database URL normalisation, the state families table and the rule list."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from headwater.cli.server import is_loopback
from headwater.engine import state as engine_state
from headwater.server.database.engine import dialect_of, normalize_url
from headwater.server.orchestration.rules import RULES, TransitionContext, check
from headwater.server.schemas import states
from headwater.server.settings import ServerSettings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_plain_paths_are_sqlite_and_bad_schemes_are_refused(tmp_path: Path) -> None:
    assert normalize_url(str(tmp_path / "a.db")) == f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    assert dialect_of("postgres://h/db") == "postgresql"
    with pytest.raises(ValueError, match="mysql"):
        normalize_url("mysql://h/db")
    with pytest.raises(ValueError, match="empty"):
        normalize_url(" ")


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    monkeypatch.setenv("HEADWATER_API_KEY", "k")
    monkeypatch.setenv("HEADWATER_SERVER_PORT", "5000")
    settings = ServerSettings.from_env(port=None, host="::1")
    assert settings.api_key == "k" and settings.port == 5000 and settings.host == "::1"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'headwater.db'}"
    assert settings.resolved_results_url == str(tmp_path / "results")
    monkeypatch.setenv("HEADWATER_DATABASE_URL", "postgresql://h/db")
    assert ServerSettings.from_env().resolved_database_url == "postgresql://h/db"
    monkeypatch.setenv("HEADWATER_SERVER_PORT", "many")
    with pytest.raises(ValueError, match="HEADWATER_SERVER_PORT"):
        ServerSettings.from_env()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _engine_family(base: type[engine_state.State]) -> frozenset[str]:
    """The names of the engine's state classes that are ``base`` or derive from it."""
    return frozenset(
        cls.__name__
        for _, cls in inspect.getmembers(engine_state, inspect.isclass)
        # MetaState is the abstract base of the wrapping states; no state has that type.
        if issubclass(cls, base) and cls is not engine_state.MetaState
    )


def test_state_families_match_the_engine_state_classes() -> None:
    # The server keeps its own table (it imports no engine code); it must name exactly
    # the engine's classes, family by family.
    assert _engine_family(engine_state.State) == states.ALL_TYPES
    assert _engine_family(engine_state.Pending) == states.PENDING
    # Queued waits for a start time like the Scheduled family (contracts section 2).
    assert _engine_family(engine_state.Scheduled) | {"Queued"} == states.SCHEDULED
    assert _engine_family(engine_state.Running) == states.RUNNING
    assert _engine_family(engine_state.Finished) == states.FINISHED
    assert states.FINISHED == engine_state.FINISHED_STATE_TYPES
    assert _engine_family(engine_state.Success) == states.SUCCESSFUL
    assert _engine_family(engine_state.Failed) == states.FAILED
    assert not states.PENDING & states.FINISHED and not states.RUNNING & states.FINISHED


@pytest.mark.parametrize(
    ("kind", "current", "proposed", "flow_state", "accepted"),
    [
        ("flow_run", "Scheduled", "Running", None, True),
        ("flow_run", "Success", "Running", None, False),
        ("flow_run", "Failed", "Retrying", None, True),
        ("flow_run", "Cancelled", "Retrying", None, False),
        ("flow_run", "Cancelled", "Scheduled", None, True),
        ("flow_run", "Scheduled", "Cancelling", None, False),
        ("flow_run", "Cancelling", "Running", None, False),
        ("flow_run", "Cancelling", "Cancelled", None, True),
        ("flow_run", "Submitted", "Submitted", None, False),
        ("flow_run", "Running", "Submitted", None, False),
        ("task_run", "Pending", "Running", "Submitted", False),
        ("task_run", "Pending", "Running", "Running", True),
        ("task_run", "Looped", "Running", "Running", True),
    ],
)
def test_rules(
    kind: str, current: str, proposed: str, flow_state: str | None, accepted: bool
) -> None:
    ctx = TransitionContext(kind, current, {"type": proposed}, flow_state)  # type: ignore[arg-type]
    assert (check(ctx, RULES) is None) is accepted
