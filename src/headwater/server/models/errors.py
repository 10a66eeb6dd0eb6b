"""Domain errors raised by models and orchestration.

Contract: the API maps each class to one HTTP status in ``api/errors.py``; the message is
the readable ``detail`` and names the object concerned.
"""

from __future__ import annotations

__all__ = ["Conflict", "DomainError", "InvalidInput", "NotFound", "TooLarge"]


class DomainError(Exception):
    """Base class; ``str(error)`` is the readable detail."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """An object named in the request does not exist (404)."""

    status_code = 404


class Conflict(DomainError):
    """The request conflicts with the current data (409)."""

    status_code = 409


class InvalidInput(DomainError):
    """The request is well-formed but not acceptable (422)."""

    status_code = 422


class TooLarge(DomainError):
    """A payload exceeds a configured limit (413)."""

    status_code = 413
