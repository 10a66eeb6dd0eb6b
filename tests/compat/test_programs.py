"""Prefect 1 programs, renamed to Headwater, run as real subprocesses.

Each file in ``programs/`` is Prefect 1 code with only ``prefect`` renamed to
``headwater``. It prints one line per check (``ok`` or ``FAIL``) and exits 0 only when
every check matched Prefect 1's behaviour. A program marked ``xfail`` documents a known
Headwater gap; the marker is strict, so the test fails once the gap is closed and the
marker must be removed.

The ``fof_*`` programs (flows of flows) and ``backend_*`` programs (registration, the
command line) run against a real server and local agent (the ``backend`` fixture).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
REPO = HERE.parents[1]
_VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable

#: Known gaps: program name -> the precise cause (see docs/porting.md).
GAPS: dict[str, str] = {
    "apply_map": "no headwater.apply_map (Prefect 1's prefect.apply_map, core/functional.py)",
    "backend_cli_short_options": (
        "cli/register.py uses -p for --project and has no -f; Prefect 1's `register` had "
        "-p/--path and -f/--force (--project had no short form), so "
        "`register --project X -p flows.py` registers nothing"
    ),
    "backend_idempotent_register": (
        "core/flow.py Flow has no serialized_hash(), used as "
        "register(idempotency_key=flow.serialized_hash())"
    ),
    "debugging": (
        "no headwater.utilities.debug (raise_on_exception, which makes flow.run() re-raise "
        "a task's exception)"
    ),
    "edge_validation": (
        "core/flow.py Flow.add_edge accepts validate= (and config flows.eager_edge_validation) "
        "but never checks for a cycle; Prefect 1 raised ValueError('Cycle found; flows must "
        "be acyclic!')"
    ),
    "local_secrets": (
        "no headwater.tasks.secrets (HeadwaterSecret, EnvVarSecret) and no "
        "headwater.client.Secret; utilities/configuration.py also lower-cases "
        "HEADWATER__CONTEXT__SECRETS__<NAME>, where Prefect 1 kept the secret name's case"
    ),
    "config_usage": (
        "utilities/configuration.py load_configuration reads HEADWATER_USER_CONFIG_PATH; "
        "Prefect 1's variable was PREFECT__USER_CONFIG_PATH, so HEADWATER__USER_CONFIG_PATH "
        "is ignored"
    ),
    "manual_approval": (
        "engine/task_runner.py TaskRunner.initialize_run does not set context['resume'] for "
        "a Resume state and triggers.manual_only does not check it, so a resumed task "
        "pauses again"
    ),
    "result_location_inputs": (
        "engine/task_runner.py TaskRunner._success formats the result location with the "
        "run context only; Prefect 1 also used the parameters and the task's own inputs"
    ),
    "run_log_lines": (
        "engine/flow_runner.py logs 'Beginning flow run for ...' and 'Flow run SUCCESS: "
        "All reference tasks succeeded.' instead of Prefect 1's wording, and "
        "engine/task_runner.py logs no 'Task ...: Starting task run...' / 'Finished task "
        "run for task with final state' lines"
    ),
    "schedules": "no headwater.schedules module (IntervalSchedule, CronSchedule, clocks)",
    "tuple_annotation": (
        "core/task.py Task.__init__ does not infer nout from a Tuple[...] return "
        "annotation of run(), so unpacking raises TypeError"
    ),
}


def _params(names: list[str]) -> list[Any]:
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=GAPS[name])] if name in GAPS else [],
        )
        for name in names
    ]


_NEEDS_BACKEND = ("fof_", "backend_")
CORE = sorted(p.stem for p in PROGRAMS.glob("*.py") if not p.stem.startswith(_NEEDS_BACKEND))
#: Programs that need a server and an agent: flows of flows, registration, the CLI.
BACKEND = sorted(p.stem for p in PROGRAMS.glob("*.py") if p.stem.startswith(_NEEDS_BACKEND))


def run_program(name: str, env: dict[str, str], cwd: Path, timeout: float = 60.0) -> str:
    """Run ``programs/<name>.py``; fail the test with its output unless it exits 0."""
    done = subprocess.run(
        [PYTHON, str(PROGRAMS / f"{name}.py")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{name}.py exited {done.returncode}:\n{output}"
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert not failed, output
    return output


def test_every_program_is_collected() -> None:
    assert len(CORE) >= 15
    assert len([name for name in BACKEND if name.startswith("fof_")]) >= 2
    assert set(GAPS) <= set(CORE) | set(BACKEND), "a gap names a missing program"


@pytest.mark.parametrize("name", _params(CORE))
def test_program(name: str, compat_env: dict[str, str], tmp_path: Path) -> None:
    output = run_program(name, compat_env, tmp_path)
    assert "ok   " in output


def test_log_lines_use_the_default_format(compat_env: dict[str, str], tmp_path: Path) -> None:
    # Prefect 1's default format: "[time] LEVEL - logger name | message" on stderr.
    output = run_program("context_logging", compat_env, tmp_path)
    assert "INFO - headwater.with_context_logger | processing 3 rows" in output


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.xdist_group("compat-backend")
@pytest.mark.parametrize("name", _params(BACKEND))
def test_backend_program(
    name: str, backend: str, compat_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(compat_env, HEADWATER_API_URL=backend)
    run_program(name, env, tmp_path, timeout=180.0)
