"""A task with its own LocalResult, written under a directory the run config's env names."""

import os

import headwater
from headwater import Flow, task
from headwater.engine.results import LocalResult


@task(result=LocalResult(dir=os.environ.get("E2E_RESULT_DIR", "."), location="answer.pickle"))
def answer() -> int:
    return 42


@task
def where() -> dict:
    return {
        "cwd": os.getcwd(),
        "marker": os.environ.get("E2E_MARKER"),
        "ctx": headwater.context.get("flow_run_id"),
    }


with Flow("e2e-own-result") as flow:
    answer()
    where()
