"""Publish artifacts from a running task: links and Markdown shown with the task run.

Contract (Prefect 1's ``prefect.backend.artifacts``):
    * Artifacts belong to the current task run (context ``task_run_id``) and only exist in
      backend runs (``running_with_backend`` in context). In a local ``flow.run()`` every
      function does nothing and the create functions return ``None``.
    * A create is retried up to 5 times, 1 s apart, while the server does not know the
      task run yet (its record may still be on its way), as Prefect 1 did.
    * Link artifacts hold ``{"link": link}``, Markdown artifacts ``{"markdown": text}``.
"""

from __future__ import annotations

import time
from typing import Any

from headwater.backend._common import default_client
from headwater.exceptions import ObjectNotFound
from headwater.utilities.context import context

__all__ = [
    "create_link_artifact",
    "create_markdown_artifact",
    "delete_artifact",
    "update_link_artifact",
    "update_markdown_artifact",
]

_NOT_FOUND_RETRIES = 5
_NOT_FOUND_DELAY = 1.0


def _context(key: str) -> Any:
    return context.get(key)


def _backend() -> bool:
    return bool(_context("running_with_backend"))


def _client() -> Any:
    return default_client()


def _create(kind: str, data: dict[str, Any]) -> str | None:
    if not _backend():
        return None
    task_run_id = _context("task_run_id")
    if not task_run_id:
        raise RuntimeError(
            f"create_{kind}_artifact must be called from inside a task run "
            "(no task_run_id in context)."
        )

    client = _client()
    for attempt in range(_NOT_FOUND_RETRIES + 1):
        try:
            return str(client.create_task_run_artifact(str(task_run_id), kind, data))
        except ObjectNotFound:
            if attempt == _NOT_FOUND_RETRIES:
                raise
            time.sleep(_NOT_FOUND_DELAY)
    return None  # pragma: no cover - the loop returns or raises


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def create_link_artifact(link: str) -> str | None:
    """Attach a link artifact to the current task run.

    Args:
        link: the URL (or path) to show.

    Returns:
        The artifact's id, or ``None`` outside a backend run.
    """
    return _create("link", {"link": _text("link", link)})


def create_markdown_artifact(markdown: str) -> str | None:
    """Attach a Markdown artifact to the current task run.

    Args:
        markdown: the Markdown text.

    Returns:
        The artifact's id, or ``None`` outside a backend run.
    """
    return _create("markdown", {"markdown": _text("markdown", markdown)})


def update_link_artifact(task_run_artifact_id: str, link: str) -> None:
    """Replace the link of an existing link artifact (nothing outside a backend run)."""
    link = _text("link", link)
    if _backend():
        _client().update_task_run_artifact(task_run_artifact_id, {"link": link})


def update_markdown_artifact(task_run_artifact_id: str, markdown: str) -> None:
    """Replace the text of an existing Markdown artifact (nothing outside a backend run)."""
    markdown = _text("markdown", markdown)
    if _backend():
        _client().update_task_run_artifact(task_run_artifact_id, {"markdown": markdown})


def delete_artifact(task_run_artifact_id: str) -> None:
    """Delete an artifact (nothing outside a backend run)."""
    if _backend():
        _client().delete_task_run_artifact(task_run_artifact_id)
