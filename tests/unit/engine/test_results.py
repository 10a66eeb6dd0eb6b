"""Results: local files, fsspec URLs, values in the location, the server store, references."""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

import headwater
from headwater.engine.results import (
    FSSpecResult,
    GCSResult,
    HeadwaterResult,
    LocalResult,
    NoResult,
    Result,
    S3Result,
    ServerResult,
    result_from_ref,
)
from headwater.engine.serializers import JSONSerializer
from headwater.exceptions import ObjectNotFound
from headwater.utilities.configuration import config

# --- base -----------------------------------------------------------------------------


def test_base_result_holds_a_value_only() -> None:
    res = Result(5)
    assert res.value == 5 and res.location is None
    with pytest.raises(NotImplementedError, match="Result cannot store"):
        res.write(1)
    with pytest.raises(NotImplementedError, match="Result cannot read"):
        res.read("x")


def test_no_result_is_a_singleton() -> None:
    assert NoResult.value is None
    assert NoResult.copy() is NoResult
    assert NoResult.write(3) is NoResult
    assert pickle.loads(pickle.dumps(NoResult)) is NoResult
    assert result_from_ref(None) is NoResult
    assert result_from_ref(NoResult.to_ref()) is NoResult
    assert NoResult != Result(None)
    assert repr(NoResult) == "<NoResult>"


def test_format_fills_templates_from_context_and_kwargs() -> None:
    res = Result(location="{flow_name}/{task_name}-{map_index}/{parameters[x]}.pkl")
    with headwater.context(flow_name="f", task_name="t", map_index=2, parameters={"x": "v"}):
        assert res.format().location == "f/t-2/v.pkl"
        assert res.format(task_name="other").location == "f/other-2/v.pkl"
    assert res.location.startswith("{flow_name}")  # the original is unchanged


def test_format_offers_date_values() -> None:
    formatted = Result(location="{today}/{date:%Y}/{today_nodash}").format()
    assert formatted.location is not None
    today, year, nodash = formatted.location.split("/")
    assert today.replace("-", "") == nodash and today.startswith(year)


def test_format_names_the_missing_value() -> None:
    with pytest.raises(ValueError, match="no value for 'task_slug'"):
        Result(location="{task_slug}.pkl").format()


def test_result_from_ref_rejects_bad_refs() -> None:
    with pytest.raises(ValueError, match="unknown result type: 'Nope'"):
        result_from_ref({"type": "Nope"})
    with pytest.raises(ValueError, match="invalid result reference"):
        result_from_ref({"location": "x"})


# --- LocalResult ----------------------------------------------------------------------


def test_local_write_read_exists(tmp_path: Path) -> None:
    res = LocalResult(dir=tmp_path)
    written = res.write({"a": 1})
    assert written is not res and res.location is None
    assert written.value == {"a": 1}
    assert written.location is not None and os.path.isabs(written.location)
    assert Path(written.location).parent == tmp_path
    assert res.exists(written.location)
    read = res.read(written.location)
    assert read.value == {"a": 1} and read.location == written.location
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary files left behind


def test_local_default_locations_are_unique(tmp_path: Path) -> None:
    res = LocalResult(dir=tmp_path)
    assert res.write(1).location != res.write(1).location


def test_local_location_template(tmp_path: Path) -> None:
    res = LocalResult(dir=tmp_path, location="{flow_name}/{task_slug}.pkl")
    with headwater.context(flow_name="flow", task_slug="t-1"):
        written = res.write([1, 2])
        assert res.exists("{flow_name}/{task_slug}.pkl")
    assert written.location == str(tmp_path / "flow" / "t-1.pkl")
    assert res.exists("{task_slug}.pkl", task_slug="flow/t-1")
    assert res.read("flow/t-1.pkl").value == [1, 2]


def test_local_missing_location(tmp_path: Path) -> None:
    res = LocalResult(dir=tmp_path)
    assert not res.exists("missing.pkl")
    with pytest.raises(FileNotFoundError, match=r"missing\.pkl"):
        res.read("missing.pkl")


def test_local_default_dir_comes_from_config() -> None:
    assert LocalResult().dir == os.path.abspath(config.results.dir)
    assert config.results.dir.startswith(os.environ["HEADWATER_HOME"])


def test_local_dir_must_be_a_directory(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        LocalResult(dir=file)
    created = tmp_path / "new" / "dir"
    LocalResult(dir=created)
    assert created.is_dir()
    LocalResult(dir=tmp_path / "unvalidated", validate_dir=False)
    assert not (tmp_path / "unvalidated").exists()


def test_local_ref_round_trip(tmp_path: Path) -> None:
    written = LocalResult(dir=tmp_path, serializer=JSONSerializer()).write({"k": "v"})
    ref = written.to_ref()
    assert ref == {
        "type": "LocalResult",
        "location": written.location,
        "serializer": {"type": "JSONSerializer"},
        "dir": str(tmp_path),
    }
    back = result_from_ref(ref)
    assert isinstance(back, LocalResult) and back.value is None
    assert back.read(ref["location"]).value == {"k": "v"}


# --- FSSpecResult ---------------------------------------------------------------------


def test_fsspec_memory_round_trip() -> None:
    bucket = f"memory://bucket-{uuid.uuid4().hex}"
    res = FSSpecResult(f"{bucket}/{{task_slug}}.pkl")
    written = res.write({"x": 1}, task_slug="t")
    assert written.location == f"{bucket}/t.pkl"
    assert res.exists(f"{bucket}/{{task_slug}}.pkl", task_slug="t")
    assert res.read(written.location).value == {"x": 1}
    back = result_from_ref(written.to_ref())
    assert isinstance(back, FSSpecResult)
    assert back.read(written.location).value == {"x": 1}


def test_fsspec_dir_prefix_and_missing() -> None:
    prefix = f"memory://p-{uuid.uuid4().hex}/results"
    res = FSSpecResult(dir=prefix)
    written = res.write(3)
    assert written.location is not None and written.location.startswith(prefix + "/")
    assert res.read(written.location.rsplit("/", 1)[1]).value == 3
    assert not res.exists("nothing.pkl")
    with pytest.raises(FileNotFoundError, match=r"nothing\.pkl"):
        res.read("nothing.pkl")
    with pytest.raises(ValueError, match="location URL or a dir"):
        FSSpecResult()


def test_fsspec_local_files(tmp_path: Path) -> None:
    res = FSSpecResult(f"file://{tmp_path}/deep/{{task_name}}.bin")
    written = res.write(b"data", task_name="t")
    assert (tmp_path / "deep" / "t.bin").exists()
    assert res.read(written.location or "").value == b"data"


def test_bucket_results_build_urls() -> None:
    assert S3Result("bkt", location="a/{task_slug}.pkl")._url("k.pkl") == "s3://bkt/k.pkl"
    assert GCSResult("bkt").dir == "gcs://bkt"
    ref = S3Result("bkt", location="s3://bkt/x.pkl").to_ref()
    assert ref["type"] == "S3Result" and "storage_options" not in ref
    assert isinstance(result_from_ref(ref), FSSpecResult)


# --- HeadwaterResult ------------------------------------------------------------------


def test_headwater_result_keeps_the_value_in_the_location() -> None:
    written = HeadwaterResult().write({"id": "abc", "n": [1, 2]})
    assert written.location == '{"id": "abc", "n": [1, 2]}'
    back = result_from_ref(written.to_ref())
    assert back.read(back.location or "").value == {"id": "abc", "n": [1, 2]}
    assert HeadwaterResult().exists("[1]")
    assert not HeadwaterResult().exists("{nope")


def test_headwater_result_rejects_non_json() -> None:
    with pytest.raises(TypeError, match="cannot serialize object"):
        HeadwaterResult().write(object())


# --- ServerResult ---------------------------------------------------------------------


class FakeClient:
    """Stands in for headwater.client.Client's two result methods."""

    store: dict[str, bytes] = {}

    def upload_result(self, task_run_id: str, data: bytes) -> str:
        self.store[task_run_id] = data
        return f"stored/{task_run_id}"

    def download_result(self, task_run_id: str) -> bytes:
        try:
            return self.store[task_run_id]
        except KeyError:
            raise ObjectNotFound(f"no result for task run {task_run_id}", 404) from None


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    client.store = {}
    monkeypatch.setattr(ServerResult, "_client", lambda self: client)
    return client


def test_server_result_round_trip(fake_client: FakeClient) -> None:
    with headwater.context(task_run_id="tr-1"):
        written = ServerResult().write({"v": 1})
    assert written.location == "task-runs/tr-1/result"
    assert "tr-1" in fake_client.store
    back = result_from_ref(written.to_ref())
    assert isinstance(back, ServerResult)
    assert back.read(written.location).value == {"v": 1}
    assert back.exists(written.location)
    assert ServerResult().write(2, task_run_id="tr-2").location == "task-runs/tr-2/result"


def test_server_result_errors(fake_client: FakeClient) -> None:
    with pytest.raises(ValueError, match="needs a task_run_id"):
        ServerResult().write(1)
    assert not ServerResult().exists("task-runs/none/result")
    with pytest.raises(FileNotFoundError, match="task-runs/none/result"):
        ServerResult().read("task-runs/none/result")


def test_equality_and_copy(tmp_path: Path) -> None:
    res = LocalResult(dir=tmp_path, location="x.pkl")
    dup = res.copy()
    assert dup == res and dup is not res
    assert Result(1) != Result(2)
    assert Result(1) != HeadwaterResult(1)
    assert "location='x.pkl'" in repr(res)


def test_result_objects_pickle(tmp_path: Path) -> None:
    res: Any = LocalResult(dir=tmp_path).write(1)
    assert pickle.loads(pickle.dumps(res)) == res
