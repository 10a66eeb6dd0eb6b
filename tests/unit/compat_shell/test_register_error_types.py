"""Registration errors are the exceptions Prefect 1 programs caught, and Headwater's own."""

from __future__ import annotations

import pytest

from headwater import Flow
from headwater.client import Client
from headwater.exceptions import (
    ClientError,
    HeadwaterException,
    ObjectNotFound,
    ProjectNameRequired,
    ProjectNotFound,
)


def test_project_not_found_is_a_client_error_and_a_value_error() -> None:
    error = ProjectNotFound("etl")
    assert isinstance(error, ObjectNotFound)
    assert isinstance(error, ClientError)
    assert isinstance(error, ValueError)
    assert error.status_code == 404
    assert error.project_name == "etl"
    assert str(error) == "Project 'etl' not found; create it with `headwater create project etl`"
    assert error.detail == str(error)


def test_project_name_required_is_a_type_error_and_a_value_error() -> None:
    assert issubclass(ProjectNameRequired, TypeError)
    assert issubclass(ProjectNameRequired, ValueError)
    assert issubclass(ProjectNameRequired, HeadwaterException)
    assert not issubclass(ProjectNameRequired, ClientError)


@pytest.mark.parametrize("project_name", [None, ""])
def test_register_without_a_project_fails_before_any_request(project_name: str | None) -> None:
    # Nothing listens on this address: the error must come before any request is sent.
    with Client(api_url="http://127.0.0.1:9/api", retries=0) as client:
        with pytest.raises(TypeError, match="'no-project' needs a project_name"):
            client.register(Flow("no-project"), project_name=project_name)
