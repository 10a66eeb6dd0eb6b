"""Local secrets: headwater.client.Secret and the secret tasks (HeadwaterSecret, EnvVarSecret)."""

from __future__ import annotations

import pytest

import headwater
from headwater import Flow, task
from headwater.client import Secret
from headwater.engine.results import LocalResult
from headwater.tasks.secrets import EnvVarSecret, HeadwaterSecret, SecretBase
from headwater.utilities.configuration import set_temporary_config


def test_secret_reads_the_context() -> None:
    with headwater.context(secrets={"TOKEN": "abc", "CREDS": '{"user": "u", "n": 1}'}):
        assert Secret("TOKEN").get() == "abc"
        assert Secret("TOKEN").exists() is True
        # A string holding JSON is parsed, as Prefect 1 did.
        assert Secret("CREDS").get() == {"user": "u", "n": 1}
        assert Secret("token").exists() is False  # names are case-sensitive
    assert Secret("TOKEN").exists() is False
    assert repr(Secret("TOKEN")) == "<Secret: TOKEN>"


def test_missing_secret_and_bad_names() -> None:
    with pytest.raises(ValueError, match="Local Secret 'NOPE' was not found"):
        Secret("NOPE").get()
    with headwater.context(secrets="not a mapping"):
        with pytest.raises(ValueError, match="'X' was not found"):
            Secret("X").get()
    with pytest.raises(TypeError, match="non-empty string"):
        Secret("")
    with pytest.raises(TypeError, match="non-empty string"):
        Secret(3)  # type: ignore[arg-type]


def test_use_local_secrets_has_no_effect() -> None:
    # Headwater's server keeps no secrets, so a server backend still reads local ones.
    with set_temporary_config({"cloud.use_local_secrets": False, "backend": "server"}):
        with headwater.context(secrets={"K": 1}):
            assert Secret("K").get() == 1


@task
def join(a: object, b: object, c: object) -> str:
    return f"{a}/{b}/{c}"


def test_secret_tasks_in_a_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_TEST_PORT", "5432")
    monkeypatch.setenv("HW_TEST_USER", "alice")
    with Flow("secrets") as flow:
        password = HeadwaterSecret("DB_PASSWORD")
        port = EnvVarSecret("port", env_var="HW_TEST_PORT", cast=int)
        user = EnvVarSecret("HW_TEST_USER")
        joined = join(password, port, user)
    assert password.name == "DB_PASSWORD" and user.name == "HW_TEST_USER"
    state = flow.run(context={"secrets": {"DB_PASSWORD": "hunter2"}})
    assert state.is_successful()
    assert state.result[port].result == 5432
    assert state.result[joined].result == "hunter2/5432/alice"


def test_secret_task_run_time_name_and_missing_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HW_TEST_UNSET", raising=False)
    with headwater.context(secrets={"A": "first", "B": "second"}):
        assert HeadwaterSecret("A").run() == "first"
        assert HeadwaterSecret("A").run(name="B") == "second"
        with pytest.raises(ValueError, match="a secret name must be provided"):
            HeadwaterSecret().run()
    assert EnvVarSecret("HW_TEST_UNSET").run() is None
    with pytest.raises(ValueError, match="Environment variable not set: HW_TEST_UNSET"):
        EnvVarSecret("HW_TEST_UNSET", raise_if_missing=True).run()


def test_secret_tasks_never_checkpoint(tmp_path: object) -> None:
    assert HeadwaterSecret("A").checkpoint is False
    assert EnvVarSecret("A").checkpoint is False
    assert isinstance(EnvVarSecret("A"), SecretBase)
    with pytest.raises(ValueError, match="results are not supported"):
        HeadwaterSecret("A", result=LocalResult(dir=str(tmp_path)))
    with pytest.raises(ValueError, match="checkpoint=True is not supported"):
        EnvVarSecret("A", checkpoint=True)
    with pytest.raises(TypeError, match="environment variable's name"):
        EnvVarSecret()
    with pytest.raises(TypeError, match="cast must be callable"):
        EnvVarSecret("A", cast="int")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a string"):
        HeadwaterSecret(5)  # type: ignore[arg-type]


def test_secret_values_are_not_written_when_checkpointing(tmp_path: object) -> None:
    with Flow("checkpointed", result=LocalResult(dir=str(tmp_path))) as flow:
        secret = HeadwaterSecret("PW")
        other = join(secret, 1, 2)
    with set_temporary_config({"flows.checkpointing": True}):
        state = flow.run(context={"secrets": {"PW": "s3cret"}})
    assert state.is_successful()
    assert state.result[secret].result == "s3cret"
    assert state.result[secret]._result.location is None
    assert state.result[other]._result.location is not None
