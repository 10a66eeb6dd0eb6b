"""Local storage pickles every flow of a script run as ``__main__`` (as Prefect 1 did).

Flows bound once at top level, generated in a loop and kept in a container, or bound only
to a name the script's ``__main__`` block rebinds, are all pickled under
``$HEADWATER_HOME/flows/<slug>/<hash>.pickle`` and load back in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import cloudpickle

from headwater import Flow
from headwater.storage import Local, storage_from_ref

GENERATED = """
import json, sys
from headwater import Flow, task
from headwater.storage import Local
import {helper}

@task
def load_table(table):
    return {helper}.PREFIX + table

FLOWS = {{}}
for table in ["users", "orders"]:
    with Flow(f"gen-load-{{table}}") as flow:
        load_table(table)
    FLOWS[table] = flow

with Flow("gen-single") as single:
    load_table("single")

if __name__ == "__main__":
    refs = {{}}
    for table, flow in FLOWS.items():
        storage = Local()
        storage.add_flow(flow)
        refs[flow.name] = storage.build().to_ref()
    storage = Local()
    storage.add_flow(single)
    refs["gen-single"] = storage.build().to_ref()
    json.dump(refs, sys.stdout)
"""

LOAD_AND_RUN = """
import json, sys
from headwater.storage import storage_from_ref
refs = json.loads(sys.stdin.read())
for name, ref in refs.items():
    flow = storage_from_ref(ref).get_flow(name)
    state = flow.run()
    assert state.is_successful(), (name, state)
    print(name, sorted(r.result for r in state.result.values() if isinstance(r.result, str)))
"""


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, HEADWATER_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")


def test_flows_generated_in_a_loop_are_pickled_and_load_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    helper = f"hw_gen_helper_{uuid.uuid4().hex[:8]}"
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / f"{helper}.py").write_text("PREFIX = 'loaded '\n")
    script = scripts / "generated.py"
    script.write_text(GENERATED.format(helper=helper))
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=60,
        check=True,
    )
    refs = json.loads(done.stdout)
    for name in ("gen-load-users", "gen-load-orders"):
        entry = refs[name]["flows"][name]
        assert entry["kind"] == "pickle", entry
        path = Path(entry["path"])
        assert path.is_absolute() and path.is_file()
        assert path.parent == home / "flows" / name
        assert path.suffix == ".pickle" and len(path.stem) == 20
        assert entry["import_path"] == str(scripts)
    # Bound once at top level and never rebound: pickled too, never loaded by script.
    assert refs["gen-single"]["flows"]["gen-single"]["kind"] == "pickle"
    # A fresh process elsewhere, without the script's folder on its path.
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_RUN],
        input=json.dumps(refs),
        capture_output=True,
        text=True,
        env=_env(home),
        cwd=tmp_path,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "gen-load-users ['loaded users']" in loaded.stdout
    assert "gen-load-orders ['loaded orders']" in loaded.stdout
    assert "gen-single ['loaded single']" in loaded.stdout


def test_a_name_rebound_in_the_main_block_is_not_a_reference(tmp_path: Path) -> None:
    script = tmp_path / "rebound.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            from headwater import Flow
            from headwater.storage import Local

            flow = Flow("first")

            if __name__ == "__main__":
                storage = Local()
                storage.add_flow(flow)
                flow = Flow("second")
                storage.add_flow(flow)
                json.dump(storage.build().to_ref(), sys.stdout)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "home"),
        timeout=60,
        check=True,
    )
    ref = json.loads(done.stdout)
    assert {name: e["kind"] for name, e in ref["flows"].items()} == {
        "first": "pickle",
        "second": "pickle",
    }
    storage = storage_from_ref(ref)
    assert storage.get_flow("first").name == "first"
    assert storage.get_flow("second").name == "second"


def test_pickle_name_is_a_content_hash_and_the_storage_pickles_lean(tmp_path: Path) -> None:
    def make(name: str) -> Flow:
        return Flow(name)

    storage = Local(directory=str(tmp_path))
    big = make("big one")
    big.storage = storage
    storage.add_flow(big)
    storage.add_flow(make("other"))
    entry = storage.flows["big one"]
    assert Path(entry["path"]).parent == tmp_path / "big-one"
    storage.build()
    # The pickled flow carries its storage, but not the flow objects it holds.
    loaded = storage_from_ref(storage.to_ref()).get_flow("big one")
    assert isinstance(loaded.storage, Local) and loaded.storage._flows == {}
    assert cloudpickle.loads(cloudpickle.dumps(storage))._pickled == {}
