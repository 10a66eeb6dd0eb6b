"""Client methods for projects (``/projects``)."""

from __future__ import annotations

from typing import Any

from headwater.client._base import route
from headwater.client._resource import Resource

__all__ = ["ProjectsMixin"]

_CREATE = route("POST", "/projects")
_LIST = route("GET", "/projects")
_BY_NAME = route("GET", "/projects/by-name/{name}")


class ProjectsMixin(Resource):
    """Create, read and list projects."""

    def create_project(self, project_name: str, project_description: str | None = None) -> str:
        """Create a project.

        Args:
            project_name: the unique project name.
            project_description: optional free text.

        Returns:
            The new project's id.

        Raises:
            ConflictError: a project with that name exists.
        """
        body = {"name": project_name, "description": project_description}
        return str(self._transport.json(_CREATE, json_body=body)["id"])

    def get_project(self, name: str) -> dict[str, Any]:
        """The project called ``name``.

        Raises:
            ObjectNotFound: there is no such project.
        """
        result: dict[str, Any] = self._transport.json(_BY_NAME, {"name": name})
        return result

    def get_projects(self) -> list[dict[str, Any]]:
        """Every project."""
        result: list[dict[str, Any]] = self._transport.json(_LIST)
        return result
