"""resource_manager: setup before a block, cleanup after it whatever happened."""

from __future__ import annotations

from typing import Any

import pytest

from headwater import Flow, resource_manager, task

EVENTS: list[str] = []


@resource_manager
class Pool:
    def __init__(self, size: int, fail_setup: bool = False) -> None:
        self.size = size
        self.fail_setup = fail_setup

    def setup(self) -> str:
        if self.fail_setup:
            raise RuntimeError("no pool")
        EVENTS.append("setup")
        return f"pool({self.size})"

    def cleanup(self, resource: str) -> None:
        EVENTS.append(f"cleanup {resource}")


@task
def use(resource: Any, n: int) -> str:
    EVENTS.append(f"use {n}")
    return f"{resource}:{n}"


@task
def fail(resource: Any) -> None:
    raise RuntimeError("bad")


def test_setup_block_cleanup_order_and_results() -> None:
    EVENTS.clear()
    with Flow("pool") as flow:
        with Pool(4) as pool:
            a = use(pool, 1)
            b = use(pool, 2, upstream_tasks=[a])
    state = flow.run()
    assert state.is_successful()
    assert state.result[b].result == "pool(4):2"
    assert EVENTS == ["setup", "use 1", "use 2", "cleanup pool(4)"]
    assert flow.reference_tasks() == {b}


def test_cleanup_runs_after_a_failure_and_the_flow_still_fails() -> None:
    EVENTS.clear()
    with Flow("pool-failure") as flow:
        with Pool(size=2) as pool:
            broken = fail(pool)
    state = flow.run()
    assert state.result[broken].is_failed()
    assert EVENTS == ["setup", "cleanup pool(2)"]
    assert state.is_failed()


def test_failed_setup_skips_cleanup() -> None:
    EVENTS.clear()
    with Flow("no-setup") as flow:
        with Pool(1, fail_setup=True) as pool:
            use(pool, 1)
    state = flow.run()
    cleanup = flow.get_tasks(name="Pool.cleanup")[0]
    assert state.result[cleanup].is_skipped()
    assert EVENTS == []


def test_misuse_is_reported() -> None:
    with pytest.raises(ValueError, match=r"'Pool' must be used inside a `with Flow"):
        Pool(1)
    with Flow("args"), pytest.raises(TypeError, match=r"resource manager 'Pool'"):
        Pool(1, 2, 3)
    with pytest.raises(TypeError, match=r"needs a cleanup\(\) method"):

        @resource_manager
        class Half:
            def setup(self) -> None:
                pass

    @resource_manager(name="named")
    class Named:
        def setup(self) -> int:
            return 1

        def cleanup(self, resource: int) -> None:
            pass

    assert Named.name == "named"
