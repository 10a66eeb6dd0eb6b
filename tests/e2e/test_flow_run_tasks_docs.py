"""Every runnable example in docs/tasks/ runs as a script against a real server + agent.

Each page's ```python block is written to a file and run with ``python file.py`` (the
flows it registers are pickled by their Local storage, which the agent loads), with
HEADWATER_API_URL pointing at the test server. The block's own asserts are the checks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tasks"
PAGES = sorted(DOCS.glob("*.md"))


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    from headwater.testing import temporary_server
    from headwater.testing_agent import temporary_agent

    with temporary_server() as server, temporary_agent(server.api_url):
        yield server.api_url


def _example(page: Path) -> str:
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    runnable = [b for b in blocks if "__main__" in b]
    assert len(runnable) == 1, f"{page.name} must have one runnable example"
    return runnable[0]


def test_every_task_has_a_page() -> None:
    assert {p.stem for p in PAGES} == {
        "StartFlowRun",
        "create_flow_run",
        "wait_for_flow_run",
        "get_task_run_result",
        "RenameFlowRun",
        "CancelFlowRun",
    }


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_docs_example_runs(page: Path, api_url: str, tmp_path: Path) -> None:
    script = tmp_path / f"{page.stem.lower()}_example.py"
    script.write_text(_example(page))
    env = dict(os.environ, HEADWATER_API_URL=api_url)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, done.stdout + done.stderr
