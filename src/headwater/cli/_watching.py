"""Printing a flow run's events live (``run --watch`` and ``logs --follow``).

Contract:
    :func:`follow` streams a flow run's events through
    :meth:`~headwater.client.Client.stream_flow_run_events` (which reconnects on its own)
    and prints states and logs with rich as they arrive; it returns the run's final state
    type, or None if the stream ended without one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SUCCESSFUL", "follow", "format_log"]

#: State types that count as success for the exit code.
SUCCESSFUL = frozenset({"Success", "Cached", "Mapped", "Skipped"})

_LEVEL_STYLE = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def _time(stamp: Any) -> str:
    text = str(stamp or "")
    return text.replace("T", " ")[:19]


def format_log(log: dict[str, Any]) -> str:
    """One log record as ``time LEVEL logger | message`` (plain text)."""
    level = str(log.get("level") or "INFO")
    return (
        f"{_time(log.get('timestamp'))} {level:<8} {log.get('name') or ''} | {log.get('message')}"
    )


def follow(client: Any, flow_run_id: str, *, states: bool = True, logs: bool = True) -> str | None:
    """Print a flow run's events until it finishes; return its final state type."""
    # deferred: rich costs tens of milliseconds, paid only when printing.
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    final: str | None = None
    for event in client.stream_flow_run_events(flow_run_id, states=states, logs=logs):
        kind = event.get("event")
        data = event.get("data") or {}
        if kind == "state":
            state = data.get("state") or {}
            kind_name = str(state.get("type"))
            style = "green" if kind_name in SUCCESSFUL else "red" if "Fail" in kind_name else "cyan"
            message = state.get("message")
            text = f"{_time(data.get('timestamp'))} [bold {style}]{escape(kind_name)}[/]"
            if message:
                text += f": {escape(str(message))}"
            console.print(text)
        elif kind == "log":
            style = _LEVEL_STYLE.get(str(data.get("level")), "")
            line = escape(format_log(data))
            console.print(f"[{style}]{line}[/]" if style else line)
        elif kind == "end":
            final = str(data.get("state_type"))
    if final is None:
        final = client.get_flow_run(flow_run_id).get("state_type")
    return final
