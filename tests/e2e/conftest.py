"""Fixtures for end-to-end tests: real ``headwater server`` processes.

- ``server``: a :class:`headwater.testing.TemporaryServer` on a fresh SQLite database in a
  temporary home, started for the test and killed afterwards (process group included).
- ``pg_server``: the same on a fresh PostgreSQL database (created and dropped around the
  test). Skipped when PostgreSQL is unreachable, unless ``CI`` is ``"true"``.

Point clients at ``server.api_url``; ``server.restart()`` restarts on the same port and
database; ``server.log_tail()`` helps explain failures.

- ``agent``: a real local agent process without labels serving ``server``.
- ``fof``: the flow-of-flows stack (:mod:`support.flow_of_flows`): a server, an agent and
  the test flows, once per test module, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import AgentProcess, temporary_agent
from support import flow_of_flows


@pytest.fixture
def server() -> Iterator[TemporaryServer]:
    """A real server process on SQLite."""
    with temporary_server() as running:
        yield running


@pytest.fixture
def pg_server() -> Iterator[TemporaryServer]:
    """A real server process on a fresh PostgreSQL database."""
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url, temporary_server(database_url=url) as running:
        yield running


@pytest.fixture
def agent(server: TemporaryServer) -> Iterator[AgentProcess]:
    """A real ``headwater agent local start`` process (no labels) serving ``server``."""
    with temporary_agent(server.api_url) as running:
        yield running


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def fof(request: pytest.FixtureRequest) -> Iterator[flow_of_flows.Stack]:
    """The flow-of-flows stack of the test module, on each database."""
    if request.param == "postgresql" and not flow_of_flows.pg_available():
        pytest.skip("PostgreSQL is not reachable")
    with flow_of_flows.stack(request.param) as running:
        yield running
