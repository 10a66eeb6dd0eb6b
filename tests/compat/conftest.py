"""Fixtures for the Prefect 1 compatibility suite.

Programs are written as Prefect 1 users wrote them: flows built, registered and run at
module level, with no ``if __name__ == "__main__":`` guard (the default style here, see
README.md, which also lists the few programs that need one and why).

- ``compat_env``: the environment every program runs with: a fresh ``HEADWATER_HOME``,
  no ``HEADWATER__*`` overrides and no server address, so each program sees Headwater's
  defaults exactly as a user's first run would; ``TMPDIR`` under the test's tmp_path.
- ``backend``: one real ``headwater server start`` and one real
  ``headwater agent local start`` for the whole module, for the flow-of-flows programs.
  Both processes are always stopped when the module ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


def _clean_environment(home: Path, tmp: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HEADWATER__")
        and key not in {"HEADWATER_API_URL", "HEADWATER_API_KEY", "HEADWATER_DATABASE_URL"}
    }
    env["HEADWATER_HOME"] = str(home)
    # Programs make temporary directories freely; keep them under the test's tmp_path.
    env["TMPDIR"] = str(tmp)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture
def compat_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment with its own ``HEADWATER_HOME`` under the test's tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return _clean_environment(home, tmp)


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    """A running server and local agent; yields the server's API URL."""
    from headwater.testing import temporary_server
    from headwater.testing_agent import temporary_agent

    with temporary_server() as server, temporary_agent(server.api_url):
        yield server.api_url
