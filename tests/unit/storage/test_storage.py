"""Local and Module storage: round trips through their JSON references, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from headwater import Flow, task
from headwater.exceptions import FlowStorageError
from headwater.storage import Local, Module, Storage, storage_from_ref

FLOW_SCRIPT = """
from headwater import Flow, task
from headwater.storage import Local

@task
def double(x):
    return 2 * x

with Flow("{name}") as flow:
    double(21)

if __name__ == "__main__":
    import json, sys
    storage = Local()
    storage.add_flow(flow)
    json.dump(storage.build().to_ref(), sys.stdout)
else:
    import os
    # Loading from storage must skip the __main__ block but run the rest.
    os.environ["LOADED_AS"] = __name__
"""


@task
def _inc(x: int) -> int:
    return x + 1


def _roundtrip(storage: Storage) -> Storage:
    ref = json.loads(json.dumps(storage.to_ref()))
    assert ref == storage.serialize()
    return storage_from_ref(ref)


def _run_flow(flow: Flow) -> object:
    state = flow.run()
    assert state.is_successful()
    return state


def test_script_run_as_main_is_pickled_and_loads_without_executing_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "my_flow.py"
    script.write_text(FLOW_SCRIPT.format(name="scripted"))
    home = tmp_path / "home"
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=dict(os.environ, HEADWATER_HOME=str(home)),
    ).stdout
    ref = json.loads(out)
    assert ref["type"] == "Local"
    entry = ref["flows"]["scripted"]
    assert entry["kind"] == "pickle"
    assert entry["import_path"] == str(script.resolve().parent)
    assert Path(entry["path"]).parent == home / "flows" / "scripted"
    monkeypatch.delenv("LOADED_AS", raising=False)
    flow = storage_from_ref(ref).get_flow("scripted")
    assert flow.name == "scripted"
    # the pickle is loaded: the script's module-level code did not run again
    assert "LOADED_AS" not in os.environ
    _run_flow(flow)


def test_stored_as_script_without_path_uses_the_main_script(tmp_path: Path) -> None:
    script = tmp_path / "as_script.py"
    script.write_text(
        FLOW_SCRIPT.format(name="by-script").replace("Local()", "Local(stored_as_script=True)")
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    ref = json.loads(out)
    assert ref["flows"]["by-script"] == {
        "kind": "script",
        "path": str(script.resolve()),
        "attribute": "flow",
    }
    flow = storage_from_ref(ref).get_flow("by-script")
    assert flow.name == "by-script"
    _run_flow(flow)


def test_explicit_script_path(tmp_path: Path) -> None:
    script = tmp_path / "explicit.py"
    script.write_text(FLOW_SCRIPT.format(name="explicit"))
    storage = Local(path=str(script), stored_as_script=True)
    flow = Flow("explicit")
    assert "explicit" not in storage
    storage.add_flow(flow)
    assert "explicit" in storage
    loaded = _roundtrip(storage.build()).get_flow("explicit")
    assert loaded.name == "explicit" and loaded is not flow


def test_flow_in_importable_module_records_module_and_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"hw_storage_mod_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FLOW_SCRIPT.format(name="in-module"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    try:
        storage = Local()
        storage.add_flow(module.flow)
        entry = storage.flows["in-module"]
        assert entry["kind"] == "module"
        assert entry["module"] == name and entry["attribute"] == "flow"
        assert storage.describe("in-module") == f"module {name}:flow"
        assert _roundtrip(storage).get_flow("in-module") is module.flow
    finally:
        sys.modules.pop(name, None)


def test_unimportable_module_falls_back_to_its_recorded_file(tmp_path: Path) -> None:
    script = tmp_path / "elsewhere.py"
    script.write_text(FLOW_SCRIPT.format(name="fallback"))
    ref = {
        "type": "Local",
        "flows": {
            "fallback": {
                "kind": "module",
                "module": "no_such_module_here",
                "attribute": "flow",
                "file": str(script),
            }
        },
    }
    assert storage_from_ref(ref).get_flow("fallback").name == "fallback"


def test_flow_built_in_a_function_is_pickled_under_the_directory(tmp_path: Path) -> None:
    def make() -> Flow:
        with Flow("made-inside") as flow:
            _inc(1)
        return flow

    storage = Local(directory=str(tmp_path / "flows"))
    storage.add_flow(make())
    entry = storage.flows["made-inside"]
    assert entry["kind"] == "pickle"
    assert entry["path"].startswith(str(tmp_path / "flows"))
    storage.build()
    assert Path(entry["path"]).is_file()
    loaded = _roundtrip(storage).get_flow("made-inside")
    _run_flow(loaded)


def test_explicit_pickle_path(tmp_path: Path) -> None:
    def make() -> Flow:
        return Flow("pickled")

    target = tmp_path / "one.pickle"
    storage = Local(path=str(target))
    storage.add_flow(make())
    storage.build()
    assert _roundtrip(storage).get_flow("pickled").name == "pickled"


def test_module_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"hw_module_storage_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FLOW_SCRIPT.format(name="by-module"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = __import__(name)
        storage = Module(name)
        storage.add_flow(module.flow)
        copy = _roundtrip(storage.build())
        assert isinstance(copy, Module) and copy.module == name
        assert copy.get_flow("by-module") is module.flow
        with pytest.raises(FlowStorageError, match="No flow named 'other'"):
            copy.get_flow("other")
    finally:
        sys.modules.pop(name, None)


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "gone.py"
    script.write_text(FLOW_SCRIPT.format(name="gone"))
    storage = Local(path=str(script), stored_as_script=True)
    storage.add_flow(Flow("gone"))
    ref = storage.to_ref()
    script.unlink()
    with pytest.raises(FlowStorageError, match=r"gone\.py does not exist"):
        storage_from_ref(ref).get_flow("gone")


def test_script_without_the_flow_names_what_it_found(tmp_path: Path) -> None:
    script = tmp_path / "other.py"
    script.write_text(FLOW_SCRIPT.format(name="something-else"))
    storage = Local(path=str(script), stored_as_script=True)
    storage.add_flow(Flow("wanted"))
    with pytest.raises(FlowStorageError, match=r"No flow named 'wanted'.*'something-else'"):
        storage.get_flow("wanted")


def test_script_that_raises_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("raise RuntimeError('boom')\n")
    storage = Local(path=str(script), stored_as_script=True)
    storage.add_flow(Flow("broken"))
    with pytest.raises(FlowStorageError, match="failed while loading: RuntimeError: boom"):
        storage.get_flow("broken")


def test_missing_module_and_attribute_are_clear_errors() -> None:
    with pytest.raises(FlowStorageError, match="Cannot import module 'no_such_mod_xyz'"):
        Module("no_such_mod_xyz").get_flow("f")
    ref = {
        "type": "Local",
        "flows": {"f": {"kind": "module", "module": "json", "attribute": "flow"}},
    }
    with pytest.raises(FlowStorageError, match="has no attribute 'flow'"):
        storage_from_ref(ref).get_flow("f")


def test_missing_pickle_and_unknown_flow(tmp_path: Path) -> None:
    ref = {"type": "Local", "flows": {"p": {"kind": "pickle", "path": str(tmp_path / "x")}}}
    storage = storage_from_ref(ref)
    with pytest.raises(FlowStorageError, match="cannot be read"):
        storage.get_flow("p")
    with pytest.raises(FlowStorageError, match="'q' is not in this Local storage"):
        storage.get_flow("q")


def test_bad_references() -> None:
    with pytest.raises(FlowStorageError, match="Unknown storage type 'S3'"):
        storage_from_ref({"type": "S3"})
    with pytest.raises(FlowStorageError, match="must be an object"):
        storage_from_ref(["Local"])  # type: ignore[arg-type]
    with pytest.raises(FlowStorageError, match="no module name"):
        storage_from_ref({"type": "Module"})
    with pytest.raises(ValueError, match="module name"):
        Module("")


def test_same_name_twice_is_refused() -> None:
    storage = Local(directory="/nonexistent")
    storage.add_flow(Flow("twice"))
    with pytest.raises(ValueError, match="already holds a flow named 'twice'"):
        storage.add_flow(Flow("twice"))


def test_stored_as_script_needs_a_path_outside_main() -> None:
    def make() -> Flow:
        return Flow("nowhere")

    with pytest.raises(ValueError, match="needs path="):
        Local(stored_as_script=True).add_flow(make())


def test_script_flows_can_import_their_neighbours(tmp_path: Path) -> None:
    helper = f"hw_helper_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{helper}.py").write_text("VALUE = 41\n")
    script = tmp_path / "uses_helper.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from headwater import Flow
            import {helper}
            flow = Flow("neighbour-{{}}".format({helper}.VALUE))
            """
        )
    )
    storage = Local(path=str(script), stored_as_script=True)
    storage.add_flow(Flow("neighbour-41"))
    try:
        assert storage.get_flow("neighbour-41").name == "neighbour-41"
    finally:
        sys.modules.pop(helper, None)
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))
