"""``headwater run --path/--module`` runs flows locally, without a server; global options.

Each test runs the installed ``headwater`` executable as a real subprocess. No server is
started: a local run needs none, and the address checks use a closed port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.testing import free_port

FLOWS = """
from headwater import Flow, Parameter, task


@task(log_stdout=True)
def greet(name):
    print(f"hello {name} locally")


@task
def explode():
    raise ValueError("exploded on purpose")


with Flow("local-greeter") as greeter:
    greet(Parameter("name", default="world"))

with Flow("local-exploder") as exploder:
    explode()

if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run")
"""


def _executable() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    return found


def hw(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("HEADWATER_API_URL", "HEADWATER_API_KEY")
    }
    environment.update(env)
    return subprocess.run(
        [_executable(), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "local_flows.py"
    path.write_text(FLOWS)
    return path


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


def test_run_path_runs_the_named_flow_with_parameters(flows_file: Path) -> None:
    done = hw("run", "-p", str(flows_file), "-n", "local-greeter", "--param", "name=ann")
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "hello ann locally" in output
    assert "Flow run succeeded" in done.stdout
    assert "must not run" not in output


def test_run_path_log_level(flows_file: Path) -> None:
    done = hw("run", "-p", str(flows_file), "-n", "local-greeter", "--log-level", "warning")
    assert done.returncode == 0, done.stderr
    assert "Beginning Flow run" not in done.stdout + done.stderr
    line = _one_error_line(hw("run", "-n", "local-greeter", "--log-level", "DEBUG"))
    assert "--log-level applies to --path/--module runs" in line


def test_run_path_exits_non_zero_when_the_flow_fails(flows_file: Path) -> None:
    done = hw("run", "--path", str(flows_file), "--name", "local-exploder")
    assert done.returncode == 1
    assert "Flow run failed" in done.stderr
    assert "exploded on purpose" in done.stdout + done.stderr


def test_run_path_choosing_among_several_flows(flows_file: Path, tmp_path: Path) -> None:
    line = _one_error_line(hw("run", "--path", str(flows_file)))
    assert "several flows" in line and "'local-greeter'" in line and "--name" in line
    line = _one_error_line(hw("run", "--path", str(flows_file), "--name", "nope"))
    assert "No flow named 'nope'" in line
    single = tmp_path / "single.py"
    single.write_text(FLOWS.split('with Flow("local-exploder")')[0])
    done = hw("run", "--path", str(single), "--params", '{"name": "solo"}')
    assert done.returncode == 0 and "hello solo locally" in done.stdout + done.stderr


def test_run_module_runs_locally(flows_file: Path) -> None:
    done = hw(
        "run",
        "-m",
        "local_flows",
        "-n",
        "local-greeter",
        PYTHONPATH=str(flows_file.parent),
    )
    assert done.returncode == 0, done.stderr
    assert "hello world locally" in done.stdout + done.stderr


def test_run_path_errors_are_one_line(flows_file: Path, tmp_path: Path) -> None:
    missing = _one_error_line(hw("run", "--path", str(tmp_path / "none.py")))
    assert "none.py does not exist" in missing
    bad_param = _one_error_line(
        hw("run", "--path", str(flows_file), "-n", "local-greeter", "--param", "other=1")
    )
    assert "other" in bad_param
    mixed = _one_error_line(hw("run", "--path", str(flows_file), "--project", "p"))
    assert "--project" in mixed and "locally" in mixed
    both = _one_error_line(hw("run", "--path", str(flows_file), "--module", "x"))
    assert "either --path or --module" in both
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('cannot load')\n")
    assert "RuntimeError: cannot load" in _one_error_line(hw("run", "--path", str(broken)))
    assert "No module named" in _one_error_line(hw("run", "--module", "no_such_mod_xyz"))
    nothing = _one_error_line(hw("run"))
    assert "--name" in nothing and "--path" in nothing


def test_group_api_url_reaches_subcommands_and_theirs_wins() -> None:
    first = f"http://127.0.0.1:{free_port()}/api"
    second = f"http://127.0.0.1:{free_port()}/api"
    line = _one_error_line(hw("--api-url", first, "get", "projects"))
    assert first in line and "Cannot reach" in line
    line = _one_error_line(hw("--api-url", first, "--api-key", "k", "run", "--name", "f"))
    assert first in line
    line = _one_error_line(hw("--api-url", first, "get", "projects", "--api-url", second))
    assert second in line


def test_group_options_are_restored_after_the_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from headwater.cli import cli

    monkeypatch.setenv("HEADWATER_API_URL", "http://127.0.0.1:9/before")
    monkeypatch.delenv("HEADWATER_API_KEY", raising=False)
    url = f"http://127.0.0.1:{free_port()}/api"
    result = CliRunner().invoke(cli, ["--api-url", url, "--api-key", "k", "get", "projects"])
    assert result.exit_code == 1
    assert url in result.output
    assert os.environ["HEADWATER_API_URL"] == "http://127.0.0.1:9/before"
    assert "HEADWATER_API_KEY" not in os.environ


def test_missing_required_option_is_a_usage_error() -> None:
    done = hw("register", "-p", "flows.py")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert errors == ["Error: Missing option '--project'."]
    done = hw("run", "--no-such-option")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "Error: No such option '--no-such-option'."
