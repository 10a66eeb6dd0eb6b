"""Configuration: packaged defaults, the user file, environment variables, reloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import headwater
from headwater.utilities.collections import DotDict, flatten_keys, merge_dicts
from headwater.utilities.configuration import (
    Config,
    config,
    load_configuration,
    reload_configuration,
    set_temporary_config,
    string_to_type,
)


def test_public_path_and_defaults() -> None:
    assert headwater.config is config
    assert isinstance(config, Config)
    assert config.flows.checkpointing is False
    assert config.tasks.defaults.max_retries == 0
    assert config.logging.level == "INFO"
    assert config.logging.log_to_backend is True
    assert config.logging.extra_loggers == []
    assert config.backend == "server"
    assert config.server.api_url == "http://127.0.0.1:4200/api"
    assert config.server.api_key == ""
    assert config.engine.executor.default_class
    assert config.home_dir == os.path.abspath(os.environ["HEADWATER_HOME"])
    assert config.results.dir == os.path.join(config.home_dir, "results")


def test_user_file_overrides_defaults(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[logging]\nlevel = "DEBUG"\n[custom]\npath = "${home_dir}/x"\n'
    )
    cfg = load_configuration(env={"HEADWATER_HOME": str(tmp_path)})
    assert cfg.logging.level == "DEBUG"
    assert cfg.logging.format  # untouched keys keep their defaults
    assert cfg.home_dir == str(tmp_path)
    assert cfg.custom.path == f"{tmp_path}/x"
    assert cfg.results.dir == f"{tmp_path}/results"


def test_explicit_user_config_path(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text("backend = 'elsewhere'\n")
    assert load_configuration(user_config_path=path, env={}).backend == "elsewhere"
    env = {"HEADWATER_USER_CONFIG_PATH": str(path)}
    assert load_configuration(env=env).backend == "elsewhere"


def test_environment_variables_win(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[logging]\nlevel = "DEBUG"\n')
    env = {
        "HEADWATER_HOME": str(tmp_path),
        "HEADWATER__LOGGING__LEVEL": "WARNING",
        "HEADWATER__FLOWS__CHECKPOINTING": "true",
        "HEADWATER__TASKS__DEFAULTS__MAX_RETRIES": "3",
        "HEADWATER__TASKS__DEFAULTS__RETRY_DELAY": "1.5",
        "HEADWATER__LOGGING__EXTRA_LOGGERS": '["dask", "boto3"]',
        "headwater__New_Section__Some_Key": "value",
        "HEADWATER__RESULTS__DIR": "/srv/results",
    }
    cfg = load_configuration(env=env)
    assert cfg.logging.level == "WARNING"
    assert cfg.flows.checkpointing is True
    assert cfg.tasks.defaults.max_retries == 3
    assert cfg.tasks.defaults.retry_delay == 1.5
    assert cfg.logging.extra_loggers == ["dask", "boto3"]
    assert cfg.new_section.some_key == "value"
    assert cfg.results.dir == "/srv/results"


def test_user_config_path_variables(tmp_path: Path) -> None:
    prefect1_style = tmp_path / "a.toml"
    prefect1_style.write_text("backend = 'from-double'\n")
    single = tmp_path / "b.toml"
    single.write_text("backend = 'from-single'\n")
    assert load_configuration(env={"HEADWATER__USER_CONFIG_PATH": str(prefect1_style)}).backend == (
        "from-double"
    )
    assert load_configuration(env={"HEADWATER_USER_CONFIG_PATH": str(single)}).backend == (
        "from-single"
    )
    both = {
        "HEADWATER__USER_CONFIG_PATH": str(prefect1_style),
        "HEADWATER_USER_CONFIG_PATH": str(single),
    }
    assert load_configuration(env=both).backend == "from-double"


def test_secret_names_keep_their_case() -> None:
    env = {
        "HEADWATER__CONTEXT__SECRETS__DB_Password": "hunter2",
        "headwater__Context__Secrets__SLACK_WEBHOOK_URL": "http://127.0.0.1:1/hook",
        "HEADWATER__CONTEXT__SECRETS__NESTED__Inner_Key": "x",
        "HEADWATER__CONTEXT__OTHER_KEY": "lowered",
    }
    cfg = load_configuration(env=env)
    assert cfg.context.secrets == {
        "DB_Password": "hunter2",
        "SLACK_WEBHOOK_URL": "http://127.0.0.1:1/hook",
        "NESTED": {"Inner_Key": "x"},
    }
    assert cfg.context.other_key == "lowered"


def test_context_starts_from_the_context_section(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setenv("HEADWATER__CONTEXT__SECRETS__API_TOKEN", "t0k")
    monkeypatch.setenv("HEADWATER__CONTEXT__REGION", "eu")
    try:
        reload_configuration()
        assert headwater.context.secrets == {"API_TOKEN": "t0k"}
        assert headwater.context.region == "eu"
        seen: list[object] = []
        worker = threading.Thread(target=lambda: seen.append(headwater.context.get("region")))
        worker.start()
        worker.join(timeout=10)
        assert seen == ["eu"]  # new threads start from the defaults too
        with headwater.context(region="us"):
            assert headwater.context.region == "us"
        assert headwater.context.region == "eu"
    finally:
        monkeypatch.delenv("HEADWATER__CONTEXT__SECRETS__API_TOKEN")
        monkeypatch.delenv("HEADWATER__CONTEXT__REGION")
        reload_configuration()
    assert "secrets" not in headwater.context
    assert "region" not in headwater.context


def test_api_shorthands() -> None:
    env = {"HEADWATER_API_URL": "http://h:1/api", "HEADWATER_API_KEY": "k"}
    cfg = load_configuration(env=env)
    assert cfg.server.api_url == "http://h:1/api"
    assert cfg.server.api_key == "k"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("FALSE", False),
        ("12", 12),
        ("-3", -3),
        ("1.25", 1.25),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("[not json", "[not json"),
        ("hello", "hello"),
        # Prefect 1 evaluated Python literals (its logging guide wrote lists this way).
        ("['mylib', 'other.lib']", ["mylib", "other.lib"]),
        ("{'a': 1, 'b': [2]}", {"a": 1, "b": [2]}),
        ("(1, 2)", (1, 2)),
        ("'quoted'", "quoted"),
        ("None", None),
        ("True", True),
        ("tRuE", True),
        (" 7 ", 7),
        ('{"on": true, "off": null}', {"on": True, "off": None}),
        ("", ""),
        ("01", "01"),
        ("inf", "inf"),
        ("2024-01-02", "2024-01-02"),
        ("a b", "a b"),
        ("__import__('os')", "__import__('os')"),
    ],
)
def test_string_to_type(raw: str, value: object) -> None:
    assert string_to_type(raw) == value


def test_bad_files_and_references(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ValueError, match="invalid configuration file"):
        load_configuration(user_config_path=bad, env={})
    ref = tmp_path / "ref.toml"
    ref.write_text('x = "${no.such.key}"\n')
    with pytest.raises(ValueError, match=r"unknown key \$\{no\.such\.key\}"):
        load_configuration(user_config_path=ref, env={})


def test_reload_configuration_updates_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    held = config
    monkeypatch.setenv("HEADWATER__LOGGING__LEVEL", "ERROR")
    try:
        assert reload_configuration() is held
        assert held.logging.level == "ERROR"
    finally:
        monkeypatch.delenv("HEADWATER__LOGGING__LEVEL")
        reload_configuration()
    assert held.logging.level == "INFO"


def test_set_temporary_config() -> None:
    with set_temporary_config({"flows.checkpointing": True, "brand.new.key": 1}) as cfg:
        assert cfg is config
        assert config.flows.checkpointing is True
        assert config.brand.new.key == 1
    assert config.flows.checkpointing is False
    assert "brand" not in config


def test_dotdict_and_merging() -> None:
    d = DotDict({"a": {"b": 1}})
    assert d.a.b == 1
    d.c = {"e": 2}
    assert isinstance(d.c, DotDict) and d.c.e == 2
    assert d.setdefault("f", {"g": 3}).g == 3
    copy = d.copy()
    copy.a.b = 9
    assert d.a.b == 1
    assert d.to_dict() == {"a": {"b": 1}, "c": {"e": 2}, "f": {"g": 3}}
    with pytest.raises(AttributeError, match="no key 'zz'"):
        _ = d.zz
    del d.c
    with pytest.raises(AttributeError):
        del d.c
    base = {"x": {"y": 1, "z": 2}, "k": 1}
    assert merge_dicts(base, {"x": {"y": 5}, "k": {"n": 1}}) == {
        "x": {"y": 5, "z": 2},
        "k": {"n": 1},
    }
    assert base == {"x": {"y": 1, "z": 2}, "k": 1}
    assert flatten_keys({"a": {"b": 1, "c": {}}, "d": 2}) == {"a.b": 1, "a.c": {}, "d": 2}


def test_flatten_seq() -> None:
    from headwater.utilities.collections import flatten_seq

    assert list(flatten_seq([1, [2, (3, [4])], "ab"])) == [1, 2, 3, 4, "ab"]
