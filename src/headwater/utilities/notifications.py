"""State handlers that notify people: ``callback_factory`` and ``slack_notifier``.

Contract:
    * ``callback_factory(fn, check)`` builds a state handler that calls
      ``fn(obj, new_state)`` whenever ``check(new_state)`` is true, and always returns
      ``new_state`` unchanged.
    * ``slack_notifier`` is a state handler posting a Slack-style JSON message (one
      attachment: the object, its new state, the state's message or exception) to the
      webhook URL held in the local secret ``SLACK_WEBHOOK_URL`` (or ``webhook_secret``).
      Like Prefect 1's, it is curried: ``slack_notifier(only_states=[Failed])`` returns a
      handler with those options, and ``slack_notifier`` itself is a handler too.
      ``ignore_states`` / ``only_states`` filter by state class (subclasses included).
      A webhook answering with an error status, or unreachable, raises
      :class:`ValueError` (the runner then fails the run, as with any handler error);
      the URL, which holds a token, is never put in the message.

    Prefect 1's ``gmail_notifier`` is not provided. httpx is imported only when a
    message is sent.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from headwater.utilities.context import context

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = ["callback_factory", "slack_message_formatter", "slack_notifier"]

StateHandler = Callable[[Any, "State", "State"], "State"]


def callback_factory(
    fn: Callable[[Any, State], Any], check: Callable[[State], bool]
) -> Callable[[Any, State, State], State]:
    """Build a state handler that calls ``fn`` for the states ``check`` accepts.

    Args:
        fn: called as ``fn(obj, new_state)`` with the task or flow and its new state;
            its return value is ignored.
        check: called with the new state; ``fn`` runs only when it returns true.

    Returns:
        A state handler for ``state_handlers=[...]``; it returns the new state unchanged.

    Raises:
        TypeError: when ``fn`` or ``check`` is not callable.
    """
    if not callable(fn) or not callable(check):
        raise TypeError("callback_factory(fn, check) needs two callables.")

    def state_handler(obj: Any, old_state: State, new_state: State) -> State:
        if check(new_state):
            fn(obj, new_state)
        return new_state

    return state_handler


def _describe(state: State) -> str:
    result = state.result
    if isinstance(result, BaseException):
        return f"```{result!r}```"
    return state.message or ""


def slack_message_formatter(
    tracked_obj: Any, state: State, backend_info: bool = True
) -> dict[str, Any]:
    """Build the JSON body of a Slack message about ``tracked_obj`` entering ``state``.

    Args:
        tracked_obj: the task or flow whose state changed (anything with a ``name``).
        state: its new state.
        backend_info: add the flow run's id and name when the run is a backend run.

    Returns:
        A dict with one Slack attachment (``fallback``, ``color``, ``title``, ``text``,
        ``fields``, ``footer``, ``ts``).
    """
    kind = type(tracked_obj).__name__
    name = getattr(tracked_obj, "name", repr(tracked_obj))
    state_name = type(state).__name__
    text = f"{kind} {name!r} is now in a {state_name} state"
    fields: list[dict[str, Any]] = [
        {"title": "Message", "value": _describe(state) or "(no message)", "short": False}
    ]
    if backend_info and context.get("running_with_backend") and context.get("flow_run_id"):
        fields.append({"title": "Flow run", "value": str(context["flow_run_id"]), "short": True})
        if context.get("flow_run_name"):
            fields.append(
                {"title": "Flow run name", "value": str(context["flow_run_name"]), "short": True}
            )
    attachment = {
        "fallback": text,
        "color": getattr(state, "color", "#000000"),
        "author_name": "Headwater",
        "title": state_name,
        "text": text,
        "fields": fields,
        "footer": "Headwater notification",
        "ts": int(time.time()),
    }
    return {"text": text, "attachments": [attachment]}


def _post(url: str, body: dict[str, Any], proxies: str | Mapping[str, str] | None) -> int:
    # deferred: httpx costs ~100 ms, paid only when a notification is sent.
    import httpx

    options: dict[str, Any] = {"timeout": 10.0}
    if isinstance(proxies, str):
        options["proxy"] = proxies
    elif proxies:
        # Prefect 1 took requests-style proxies ({"https": "http://proxy:3128"}); httpx
        # routes by URL pattern instead.
        options["mounts"] = {
            (scheme if scheme.endswith("://") else f"{scheme}://"): httpx.HTTPTransport(proxy=proxy)
            for scheme, proxy in proxies.items()
        }
    with httpx.Client(**options) as client:
        return client.post(url, json=body).status_code


class _Options(NamedTuple):
    ignore_states: Iterable[type[State]] | None
    only_states: Iterable[type[State]] | None
    webhook_secret: str | None
    backend_info: bool
    proxies: str | Mapping[str, str] | None


def _notify(tracked_obj: Any, old_state: State, new_state: State, options: _Options) -> State:
    ignored = tuple(options.ignore_states or ())
    only = tuple(options.only_states or ())
    if ignored and isinstance(new_state, ignored):
        return new_state
    if only and not isinstance(new_state, only):
        return new_state

    # deferred: httpx costs ~100 ms, paid only when a notification is sent.
    import httpx

    # deferred: the client package loads httpx, paid only when a notification is sent.
    from headwater.client.secrets import Secret

    secret_name = options.webhook_secret or "SLACK_WEBHOOK_URL"
    url = Secret(secret_name).get()
    if not isinstance(url, str) or not url:
        raise ValueError(f"The secret {secret_name!r} must hold the Slack webhook URL.")
    body = slack_message_formatter(tracked_obj, new_state, backend_info=options.backend_info)
    try:
        status = _post(url, body, options.proxies)
    except httpx.HTTPError as exc:
        raise ValueError(
            f"Failed to send the Slack message (webhook from secret {secret_name!r}): "
            f"{type(exc).__name__}"
        ) from None
    if status >= 400:
        raise ValueError(
            f"Failed to send the Slack message: the webhook from secret {secret_name!r} "
            f"answered HTTP {status}."
        )
    return new_state


@overload
def slack_notifier(
    tracked_obj: None = None,
    old_state: None = None,
    new_state: None = None,
    *,
    ignore_states: Iterable[type[State]] | None = None,
    only_states: Iterable[type[State]] | None = None,
    webhook_secret: str | None = None,
    backend_info: bool = True,
    proxies: str | Mapping[str, str] | None = None,
) -> StateHandler: ...


@overload
def slack_notifier(
    tracked_obj: Any,
    old_state: State,
    new_state: State,
    ignore_states: Iterable[type[State]] | None = None,
    only_states: Iterable[type[State]] | None = None,
    webhook_secret: str | None = None,
    backend_info: bool = True,
    proxies: str | Mapping[str, str] | None = None,
) -> State: ...


def slack_notifier(
    tracked_obj: Any = None,
    old_state: State | None = None,
    new_state: State | None = None,
    ignore_states: Iterable[type[State]] | None = None,
    only_states: Iterable[type[State]] | None = None,
    webhook_secret: str | None = None,
    backend_info: bool = True,
    proxies: str | Mapping[str, str] | None = None,
) -> State | StateHandler:
    """Post a Slack message about a state change (a curried state handler).

    Use it directly (``state_handlers=[slack_notifier]``) or with options
    (``state_handlers=[slack_notifier(only_states=[Failed])]``).

    Args:
        tracked_obj: the task or flow whose state changed.
        old_state: its previous state.
        new_state: its new state.
        ignore_states: state classes that never notify.
        only_states: when given, only these state classes notify.
        webhook_secret: the name of the local secret holding the webhook URL (default
            ``SLACK_WEBHOOK_URL``).
        backend_info: include the flow run's id and name in backend runs.
        proxies: a proxy URL, or requests-style ``{"https": "http://proxy:3128"}``.

    Returns:
        ``new_state`` unchanged; or, called without the three state-handler arguments, a
        handler bound to the given options.

    Raises:
        ValueError: when the secret is missing or the webhook refuses the message.
    """
    options = _Options(ignore_states, only_states, webhook_secret, backend_info, proxies)
    if tracked_obj is None and old_state is None and new_state is None:

        @functools.wraps(slack_notifier)
        def handler(obj: Any, old: State, new: State) -> State:
            return _notify(obj, old, new, options)

        return handler
    if old_state is None or new_state is None:
        raise TypeError(
            "slack_notifier takes (tracked_obj, old_state, new_state), or only keyword "
            "options to build a handler."
        )
    return _notify(tracked_obj, old_state, new_state, options)
