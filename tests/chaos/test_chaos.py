"""The short version of every fault-injection scenario (the full suite: docs/fault-injection.md).

Each scenario runs at its CI size against real servers, agents and flow-run processes;
none may leave a run stuck, lost or run twice, lose a log line, duplicate a child or
answer 5xx.
"""

from __future__ import annotations

import pytest

from .scenarios import SCENARIOS, run_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

CASES = [
    pytest.param(name, database, marks=[pytest.mark.postgres] if database == "postgresql" else [])
    for name, (_, databases, _, _) in SCENARIOS.items()
    for database in databases
]


@pytest.mark.parametrize(("name", "database"), CASES)
def test_scenario_short(name: str, database: str) -> None:
    if database == "postgresql":
        import os

        from headwater.testing import postgres_available

        if not postgres_available() and os.environ.get("CI") != "true":
            pytest.skip("PostgreSQL is not reachable")
    short = SCENARIOS[name][3]
    counts = run_scenario(name, short, database, seed=1)
    assert counts.ok, counts.as_dict()
    assert counts.runs > 0
