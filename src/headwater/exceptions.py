"""Every public exception Headwater raises on purpose.

Contract:
    All derive from :class:`HeadwaterException`. Client errors carry the HTTP
    ``status_code`` (None when no response was received) and the server's readable
    ``detail``; their ``str()`` is a one-line message naming what failed. Graph
    construction errors are plain ``ValueError``/``TypeError`` and are not listed here.
    Registration errors also derive from the built-in exception Prefect 1 raised for the
    same mistake, so programs catching ``ValueError``/``TypeError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "AuthorizationError",
    "ClientError",
    "ConflictError",
    "FlowStorageError",
    "HeadwaterException",
    "ObjectNotFound",
    "ProjectNameRequired",
    "ProjectNotFound",
    "ServerUnavailable",
    "TaskTimeoutError",
]


class HeadwaterException(Exception):
    """Base class of Headwater's exceptions."""


class ClientError(HeadwaterException):
    """The server refused a request, or could not be reached.

    Args:
        message: a readable one-line description.
        status_code: the HTTP status code, or None when no response was received.
        detail: the server's ``detail`` text (defaults to ``message``).
    """

    def __init__(
        self, message: str = "", status_code: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail if detail is not None else message


class ObjectNotFound(ClientError):
    """The requested object does not exist (HTTP 404)."""


class ProjectNotFound(ObjectNotFound, ValueError):
    """A flow was registered into a project that does not exist (HTTP 404).

    It is a :class:`ValueError` too, the exception Prefect 1 raised in this case.

    Args:
        project_name: the missing project.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(
            f"Project {project_name!r} not found; create it with "
            f"`headwater create project {project_name}`",
            status_code=404,
        )
        self.project_name = project_name


class ProjectNameRequired(HeadwaterException, TypeError, ValueError):
    """A flow was registered without a ``project_name``.

    A :class:`TypeError`, as in Prefect 1 (a required argument is missing), and a
    :class:`ValueError` for code written against earlier Headwater releases.
    """


class AuthorizationError(ClientError):
    """The request was not authorized (HTTP 401/403): the API key is missing or wrong."""


class ConflictError(ClientError):
    """The request conflicts with the current state of an object (HTTP 409)."""


class ServerUnavailable(ClientError):
    """The server could not be reached, even after retrying."""


class FlowStorageError(HeadwaterException):
    """A flow could not be stored in, or loaded from, its storage."""


class TaskTimeoutError(HeadwaterException):
    """A task ran longer than its ``timeout``."""
