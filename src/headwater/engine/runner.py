"""The runner base shared by :class:`FlowRunner` and :class:`TaskRunner`.

Contract:
    Every state change of a run goes through :meth:`Runner.handle_state_change`, which
    calls :meth:`Runner.call_runner_target_handlers` (the target's own state handlers:
    the task's or the flow's) and then the runner's ``state_handlers``. A backend
    subclass overrides ``call_runner_target_handlers`` to record each state on the server;
    an exception it raises propagates (that is how a refused state aborts a run). An
    exception raised by a *user* state handler instead turns the new state into
    ``Failed("Exception raised while calling state handlers: ...")``.

    :class:`ENDRUN` is raised inside a runner to stop a run early with a given state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from headwater.engine.signals import HeadwaterStateSignal
from headwater.engine.state import Failed, State

__all__ = ["ENDRUN", "Runner"]


class ENDRUN(Exception):
    """Stop the current run; ``state`` becomes its state.

    Args:
        state: the state the run ends in.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        super().__init__(state)


class Runner:
    """Base class of the runners.

    Args:
        state_handlers: ``fn(runner, old_state, new_state) -> State | None`` called after
            the target's handlers on every state change.
    """

    def __init__(self, state_handlers: Iterable[Callable[..., Any]] | None = None) -> None:
        self.state_handlers: list[Callable[..., Any]] = list(state_handlers or [])

    def _target(self) -> Any:
        raise NotImplementedError

    def _target_handlers(self) -> list[Callable[..., Any]]:
        return list(getattr(self._target(), "state_handlers", None) or [])

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """Call the target's state handlers (the task's or the flow's).

        Args:
            old_state: the state before the change.
            new_state: the proposed new state.

        Returns:
            The state after the handlers, which may have replaced it.
        """
        handlers = self._target_handlers()
        if not handlers:
            return new_state
        target = self._target()
        try:
            for handler in handlers:
                replaced = handler(target, old_state, new_state)
                if replaced is not None:
                    new_state = replaced
        except HeadwaterStateSignal as sig:  # a handler may choose the state by signal
            return sig.state
        except Exception as exc:
            return Failed(f"Exception raised while calling state handlers: {exc!r}", result=exc)
        return new_state

    def handle_state_change(self, old_state: State, new_state: State) -> State:
        """Apply a state change: target handlers, then the runner's handlers.

        Returns:
            The state the run is now in.
        """
        new_state = self.call_runner_target_handlers(old_state, new_state)
        if self.state_handlers:
            try:
                for handler in self.state_handlers:
                    replaced = handler(self, old_state, new_state)
                    if replaced is not None:
                        new_state = replaced
            except Exception as exc:
                return Failed(f"Exception raised while calling state handlers: {exc!r}", result=exc)
        return new_state
