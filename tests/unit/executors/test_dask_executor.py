"""DaskExecutor specifics: temporary clusters, cluster classes, keys, and unreachable schedulers."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from headwater.executors import DaskExecutor

pytestmark = pytest.mark.dask


def square(x: int) -> int:
    return x * x


def test_default_temporary_cluster_is_in_process_and_closed_afterwards() -> None:
    ex = DaskExecutor()
    with ex.start():
        cluster = ex.cluster
        assert type(cluster).__name__ == "LocalCluster"
        assert ex.client is not None
        assert ex.wait(ex.submit(square, 7)) == 49
    assert ex.client is None and ex.cluster is None
    assert cluster.status.name == "closed"


def test_cluster_class_as_import_string_with_kwargs_and_adapt() -> None:
    ex = DaskExecutor(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 2},
        adapt_kwargs={"minimum": 1, "maximum": 1},
    )
    with ex.start():
        assert ex.cluster._adaptive is not None
        assert ex.wait([ex.submit(square, i) for i in range(4)]) == [0, 1, 4, 9]


def test_cluster_class_as_callable() -> None:
    made: list[dict[str, Any]] = []

    def factory(**kwargs: Any) -> Any:
        from distributed import LocalCluster

        made.append(kwargs)
        return LocalCluster(
            processes=False, dashboard_address=":0", n_workers=1, threads_per_worker=1
        )

    ex = DaskExecutor(cluster_class=factory, cluster_kwargs={"marker": 1})
    with ex.start():
        assert ex.wait(ex.submit(square, 3)) == 9
    assert made == [{"marker": 1}]


def test_keys_are_named_after_the_task() -> None:
    ex = DaskExecutor()
    with ex.start():
        future = ex.submit(square, 2, extra_context={"task_full_name": "square[3]"})
        assert future.key.startswith("square[3]-")
        other = ex.submit(square, 2)
        assert other.key.startswith("square-")
        assert ex.wait([future, other]) == [4, 4]


def test_bad_cluster_class_string_is_a_clear_error() -> None:
    ex = DaskExecutor(cluster_class="distributed.NoSuchCluster")
    with pytest.raises(
        ValueError, match=r"cannot import cluster_class 'distributed\.NoSuchCluster'"
    ):
        with ex.start():
            pass
    assert ex.client is None


def test_unreachable_scheduler_is_a_connection_error_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    ex = DaskExecutor(address=address, client_kwargs={"timeout": "1s"})
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=address), ex.start():
        pass
    assert time.monotonic() - started < 20
    assert ex.client is None


def test_performance_report_is_written(tmp_path: Any) -> None:
    import importlib.util

    report = tmp_path / "report.html"
    ex = DaskExecutor(performance_report_path=str(report))
    if importlib.util.find_spec("bokeh") is None:
        with pytest.raises(ImportError, match="needs bokeh"), ex.start():
            pass
        assert ex.client is None
        return
    with ex.start():
        assert ex.wait(ex.submit(square, 5)) == 25
    assert report.exists() and report.stat().st_size > 0


def test_start_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="headwater.executors"), DaskExecutor().start():
        pass
    messages = [r.getMessage() for r in caplog.records if r.name == "headwater.executors"]
    assert any("Creating a temporary Dask cluster: LocalCluster(" in m for m in messages)
