"""Client configuration: explicit argument > environment > configuration > default."""

from __future__ import annotations

import pytest

from headwater.client import DEFAULT_API_URL, Client, resolve_api_key, resolve_api_url
from headwater.utilities.configuration import set_temporary_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADWATER_API_URL", raising=False)
    monkeypatch.delenv("HEADWATER_API_KEY", raising=False)


def test_default_url_and_no_key() -> None:
    with set_temporary_config({"server.api_url": "", "server.api_key": ""}):
        assert resolve_api_url() == DEFAULT_API_URL == "http://127.0.0.1:4200/api"
        assert resolve_api_key() is None


def test_configuration_is_used_when_environment_is_silent() -> None:
    with set_temporary_config({"server.api_url": "http://cfg:1/api/", "server.api_key": "ck"}):
        assert resolve_api_url() == "http://cfg:1/api"
        assert resolve_api_key() == "ck"


def test_environment_beats_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_API_URL", "http://env:2/api")
    monkeypatch.setenv("HEADWATER_API_KEY", "ek")
    with set_temporary_config({"server.api_url": "http://cfg:1/api", "server.api_key": "ck"}):
        assert resolve_api_url() == "http://env:2/api"
        assert resolve_api_key() == "ek"


def test_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_API_URL", "http://env:2/api")
    monkeypatch.setenv("HEADWATER_API_KEY", "ek")
    client = Client(api_url="http://arg:3/api/", api_key="ak")
    try:
        assert client.api_url == "http://arg:3/api"
        assert client.api_key == "ak"
        assert client.api_server == client.api_url
    finally:
        client.close()


def test_prefect1_api_server_argument() -> None:
    with Client(api_server="http://old:4/api") as client:
        assert client.api_url == "http://old:4/api"


def test_empty_environment_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_API_URL", "")
    with set_temporary_config({"server.api_url": "http://cfg:1/api"}):
        assert resolve_api_url() == "http://cfg:1/api"
