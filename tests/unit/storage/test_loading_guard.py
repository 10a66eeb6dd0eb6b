"""The loading guard: while a flow's script, module or pickle is loaded, ``flow.register()``
and ``flow.run()`` do nothing and say so (Prefect 1's ``prefect.context.loading_flow``)."""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater import Flow, context
from headwater.storage import Local, Module

# A script as Prefect 1 users wrote them: no ``if __name__ == "__main__":`` guard.
UNGUARDED = """
import os
from headwater import Flow, context, task

SEEN_LOADING = context.get("loading_flow")
SEEN_PATH = context.get("local_script_path")

@task
def mark():
    with open(os.environ["GUARD_MARKS"], "a") as out:
        out.write("ran\\n")

with Flow("{name}") as flow:
    mark()

REGISTERED = flow.register(project_name="never-reached")
STATE = flow.run()
"""


def _script(tmp_path: Path, name: str) -> Path:
    script = tmp_path / f"{name.replace('-', '_')}.py"
    script.write_text(UNGUARDED.format(name=name))
    return script


def _marks(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_stored_as_script_load_neither_registers_nor_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    marks = tmp_path / "marks.txt"
    monkeypatch.setenv("GUARD_MARKS", str(marks))
    # No server at this address: a registration attempt would fail loudly.
    monkeypatch.setenv("HEADWATER_API_URL", "http://127.0.0.1:9")
    script = _script(tmp_path, "guarded-script")
    storage = Local(path=str(script), stored_as_script=True)
    storage.flows["guarded-script"] = {"kind": "script", "path": str(script), "attribute": None}
    with caplog.at_level(logging.WARNING, logger="headwater"):
        flow = storage.get_flow("guarded-script")
    assert flow.name == "guarded-script"
    assert _marks(marks) == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "headwater.Flow"]
    assert len(warnings) == 2, warnings
    register_warning, run_warning = warnings
    assert "'guarded-script': flow.register()" in register_warning
    assert "not registered" in register_warning and str(script) in register_warning
    assert "'guarded-script': flow.run()" in run_warning and "not run" in run_warning
    assert "loading_flow" in run_warning
    # The guard is over once loading ends: the loaded flow runs normally.
    assert "loading_flow" not in context
    state = flow.run()
    assert state is not None and state.is_successful()
    assert _marks(marks) == ["ran"]


def test_context_loading_flow_is_true_while_the_script_executes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.storage._loading import run_script

    monkeypatch.setenv("GUARD_MARKS", str(tmp_path / "marks.txt"))
    script = _script(tmp_path, "seen-loading")
    namespace = run_script(str(script))
    assert namespace["SEEN_LOADING"] is True
    assert namespace["SEEN_PATH"] == str(script)
    assert namespace["REGISTERED"] is None
    assert namespace["STATE"] is None


def test_module_storage_falling_back_to_the_file_is_guarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.storage._loading import flow_from_module

    marks = tmp_path / "marks.txt"
    monkeypatch.setenv("GUARD_MARKS", str(marks))
    script = _script(tmp_path, "module-fallback")
    missing = f"not_importable_{uuid.uuid4().hex[:8]}"
    flow = flow_from_module(missing, "module-fallback", "flow", str(script))
    assert flow.name == "module-fallback"
    assert _marks(marks) == []


def test_module_storage_import_is_guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marks = tmp_path / "marks.txt"
    monkeypatch.setenv("GUARD_MARKS", str(marks))
    name = f"guarded_mod_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(UNGUARDED.format(name="imported-module"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        flow = Module(name).get_flow("imported-module")
        assert flow.name == "imported-module"
        assert _marks(marks) == []
        assert sys.modules[name].SEEN_LOADING is True
    finally:
        sys.modules.pop(name, None)


def test_outside_loading_run_and_register_are_not_guarded() -> None:
    flow = Flow("plain")
    state = flow.run()
    assert state is not None and state.is_successful()
    with context(loading_flow=True):
        assert flow.run() is None
        assert flow.register(project_name="x") is None
    assert flow.run() is not None


def test_cli_run_path_runs_an_unguarded_script_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.cli import cli

    marks = tmp_path / "marks.txt"
    monkeypatch.setenv("GUARD_MARKS", str(marks))
    monkeypatch.setenv("HEADWATER_API_URL", "http://127.0.0.1:9")
    script = _script(tmp_path, "cli-run")
    result = CliRunner().invoke(cli, ["run", "--path", str(script)])
    assert result.exit_code == 0, result.output
    assert "Flow run succeeded" in result.output
    # the module-level flow.run() was skipped while loading; the command ran it once
    assert _marks(marks) == ["ran"]
