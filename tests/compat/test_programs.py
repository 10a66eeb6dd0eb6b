"""Prefect 1 programs, renamed to Headwater, run as real subprocesses.

Each file in ``programs/`` is Prefect 1 code with only ``prefect`` renamed to
``headwater``, written as Prefect 1 users wrote it: flows built, registered and run at
module level, without an ``if __name__ == "__main__":`` guard (see README.md). It prints
one line per check (``ok`` or ``FAIL``) and exits 0 only when every check matched Prefect
1's behaviour. The ``docs_*``, ``backend_docs_*`` and ``fof_docs_*`` programs are ported
from Prefect 1's own documentation and examples, each naming its source at its top.
Files starting with ``_`` are helpers the programs import, not programs.

A program listed in :data:`GAPS` documents a known Headwater gap. Its test is a strict
``xfail`` that only accepts the gap's own symptom (:class:`KnownGap`, raised when the
output shows the listed evidence): a program failing for any other reason fails the test,
and a program that starts passing fails it too, so the marker must then be removed.

The ``fof_*`` programs (flows of flows) and ``backend_*`` programs (registration, the
command line) run against a real server and local agent (the ``backend`` fixture).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
REPO = HERE.parents[1]
_VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable


class KnownGap(AssertionError):
    """A program failed exactly as its listed gap predicts."""


@dataclass(frozen=True)
class Gap:
    """A known difference from Prefect 1.

    Attributes:
        reason: the cause: the Headwater module/function at fault and what it does.
        evidence: text the program's output contains while the gap is open.
    """

    reason: str
    evidence: str


#: Known gaps, by program name (also listed in docs/porting.md).
GAPS: dict[str, Gap] = {}

#: Lines a program's output must also contain (Prefect 1's default log format:
#: "[time] LEVEL - logger name | message").
EXPECTED_OUTPUT: dict[str, list[str]] = {
    "context_logging": ["INFO - headwater.with_context_logger | processing 3 rows"],
    # wait_for_flow_run(stream_logs=True) re-logs the child's records as "Flow '<name>': ...".
    "fof_functional_tasks": ["-compat-child': Beginning Flow run for 'compat-child'"],
    "logging_extra_loggers": [
        "INFO - mylib | from mylib",
        "WARNING - other.lib.sub | from a child of other.lib",
    ],
    "docs_basic_core_flow": ["INFO - headwater.hello_task | Hello world!"],
    "docs_hello_world": ["Hello World", "Hello Marvin"],
    "docs_parameterized_flow": ["2 is even!", "1 is odd!"],
    "readme_examples": [
        "INFO - headwater.say_hello | Hello, world!",
        "INFO - headwater.say_hello | Hello, Marvin!",
    ],
    "run_log_lines": [
        "INFO - headwater.FlowRunner | Beginning Flow run for 'log-lines'",
        "INFO - headwater.TaskRunner | Task 'extract': Starting task run...",
    ],
}

_NEEDS_BACKEND = ("fof_", "backend_")
_ALL = sorted(p.stem for p in PROGRAMS.glob("*.py") if not p.stem.startswith("_"))
CORE = [name for name in _ALL if not name.startswith(_NEEDS_BACKEND)]
#: Programs that need a server and an agent: flows of flows, registration, the CLI.
BACKEND = [name for name in _ALL if name.startswith(_NEEDS_BACKEND)]
#: Projects the ported documentation programs expect to exist (the docs create them with
#: ``prefect create project``), created before every backend program.
PROJECTS = ("tutorial", "examples", "default")
#: Programs ported from Prefect 1's documentation and examples: each names its source in
#: its first line.
PORTED_MARK = "# Ported from Prefect 1: "
PORTED = [name for name in _ALL if (PROGRAMS / f"{name}.py").read_text().startswith(PORTED_MARK)]


def _params(names: list[str]) -> list[Any]:
    params = []
    for index, name in enumerate(names):
        gap = GAPS.get(name)
        marks: list[Any] = []
        if gap is not None:
            marks.append(pytest.mark.xfail(raises=KnownGap, strict=True, reason=gap.reason))
        if name.startswith(_NEEDS_BACKEND):
            # Two groups, alternating, so that with --dist loadgroup each worker runs its own
            # server and agent for half of the backend programs.
            marks.append(pytest.mark.xdist_group(f"compat-backend-{index % 2}"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def run_program(name: str, env: dict[str, str], cwd: Path, timeout: float = 60.0) -> str:
    """Run ``programs/<name>.py`` and return its output.

    Raises:
        KnownGap: the program failed showing its listed gap's evidence.
        AssertionError: the program failed in any other way.
    """
    done = subprocess.run(
        [PYTHON, str(PROGRAMS / f"{name}.py")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    if done.returncode == 0 and not failed:
        for line in EXPECTED_OUTPUT.get(name, []):
            assert line in output, f"{name}.py did not print {line!r}:\n{output}"
        return output
    gap = GAPS.get(name)
    if gap is not None and gap.evidence in output:
        raise KnownGap(f"{name}.py: {gap.reason}")
    raise AssertionError(f"{name}.py exited {done.returncode}:\n{output}")


def test_every_program_is_collected() -> None:
    assert len(CORE) >= 15
    assert len([name for name in BACKEND if name.startswith("fof_")]) >= 2
    assert set(GAPS) <= set(CORE) | set(BACKEND), "a gap names a missing program"
    assert set(EXPECTED_OUTPUT) <= set(CORE) | set(BACKEND)


#: The only programs with an ``if __name__ == "__main__":`` guard, and why (README.md).
GUARDED = {"executors": "worker processes started with spawn import the main module again"}


def test_programs_have_no_main_guard_by_default() -> None:
    guarded = {
        name
        for name in _ALL
        if 'if __name__ == "__main__":' in (PROGRAMS / f"{name}.py").read_text()
    }
    assert guarded == set(GUARDED)


def test_ported_programs_name_their_source_and_have_no_main_guard() -> None:
    assert len(PORTED) >= 10
    assert len([name for name in PORTED if name in BACKEND]) >= 6
    for name in PORTED:
        text = (PROGRAMS / f"{name}.py").read_text()
        assert "__main__" not in text, f"{name}.py must run as Prefect 1 users wrote it"


def _create_projects(api_url: str) -> None:
    from headwater.client import Client
    from headwater.exceptions import ConflictError

    with Client(api_server=api_url) as client:
        for project in PROJECTS:
            try:
                client.create_project(project)
            except ConflictError:
                pass  # it exists already (the server is shared by the module)


@pytest.mark.parametrize("name", _params(CORE))
def test_program(name: str, compat_env: dict[str, str], tmp_path: Path) -> None:
    output = run_program(name, compat_env, tmp_path)
    assert "ok   " in output


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", _params(BACKEND))
def test_backend_program(
    name: str, backend: str, compat_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(compat_env, HEADWATER_API_URL=backend)
    _create_projects(backend)
    output = run_program(name, env, tmp_path, timeout=180.0)
    assert "ok   " in output
