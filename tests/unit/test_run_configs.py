"""Run configurations: fields, JSON references and validation."""

from __future__ import annotations

import json

import pytest

from headwater.run_configs import LocalRun, RunConfig, UniversalRun, run_config_from_ref


def test_local_run_round_trip() -> None:
    config = LocalRun(env={"A": "1", "N": 2}, working_dir="/tmp", labels=["x", "y", "x"])
    ref = config.to_ref()
    assert ref == {
        "type": "LocalRun",
        "env": {"A": "1", "N": "2"},
        "working_dir": "/tmp",
        "labels": ["x", "y"],
    }
    assert config.serialize() == ref
    copy = run_config_from_ref(json.loads(json.dumps(ref)))
    assert isinstance(copy, LocalRun) and copy == config
    assert copy.working_dir == "/tmp" and copy.env == {"A": "1", "N": "2"}


def test_universal_run_round_trip_and_defaults() -> None:
    config = UniversalRun()
    assert config.to_ref() == {"type": "UniversalRun", "env": {}, "labels": []}
    assert run_config_from_ref(config.to_ref()) == config
    assert run_config_from_ref(UniversalRun(labels=["gpu"]).to_ref()).labels == ["gpu"]  # type: ignore[union-attr]
    assert isinstance(config, RunConfig)
    assert "UniversalRun(" in repr(config)


def test_none_stays_none() -> None:
    assert run_config_from_ref(None) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": "gpu"}, "not the string 'gpu'"),
        ({"labels": ["ok", ""]}, "non-empty string"),
        ({"env": ["A=1"]}, "env must be a mapping"),
        ({"env": {1: "x"}}, "env names"),
        ({"working_dir": ""}, "working_dir"),
    ],
)
def test_bad_fields_are_type_errors_naming_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        LocalRun(**kwargs)


def test_unknown_reference_types() -> None:
    with pytest.raises(ValueError, match="Unknown run config type 'KubernetesRun'"):
        run_config_from_ref({"type": "KubernetesRun"})
    with pytest.raises(TypeError, match="mapping"):
        run_config_from_ref(["LocalRun"])  # type: ignore[arg-type]


def test_equality_depends_on_type() -> None:
    assert LocalRun(labels=["a"]) != UniversalRun(labels=["a"])
    assert {LocalRun(labels=["a"]), LocalRun(labels=["a"])} == {LocalRun(labels=["a"])}
