"""Orchestration rules: small classes that accept or reject a proposed state.

Contract: each rule names the run kinds, current (``from_types``) and proposed
(``to_types``) state types it governs (``None`` = any) and returns ``None`` to let the
change through or a readable reason to reject it. :data:`RULES` is applied in order; the
first rejection wins. Rules see only state types, never the engine's classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from headwater.server.schemas.states import FINISHED, PENDING, RUNNING, SCHEDULED

__all__ = [
    "RULES",
    "CancellingOnlyFromRunning",
    "FinishedIsFinal",
    "NoResumeWhileCancelling",
    "Rule",
    "SubmitOnlyPending",
    "TaskRunsRunInsideRunningFlowRuns",
    "TransitionContext",
    "check",
]

RunKind = Literal["flow_run", "task_run"]


@dataclass(frozen=True)
class TransitionContext:
    """What a rule may look at.

    Attributes:
        kind: ``"flow_run"`` or ``"task_run"``.
        current: The run's current state type (``None`` for a run without state).
        proposed: The proposed state (JSON form).
        flow_run_state: For task runs, the state type of their flow run.
    """

    kind: RunKind
    current: str | None
    proposed: dict[str, Any]
    flow_run_state: str | None = None

    @property
    def proposed_type(self) -> str:
        """The proposed state's type."""
        return str(self.proposed["type"])


class Rule:
    """Base rule: governs ``kinds`` x ``from_types`` x ``to_types``."""

    kinds: ClassVar[frozenset[str]] = frozenset({"flow_run", "task_run"})
    from_types: ClassVar[frozenset[str] | None] = None
    to_types: ClassVar[frozenset[str] | None] = None

    def applies(self, ctx: TransitionContext) -> bool:
        """Whether this rule governs the transition."""
        if ctx.kind not in self.kinds:
            return False
        if self.from_types is not None and ctx.current not in self.from_types:
            return False
        return self.to_types is None or ctx.proposed_type in self.to_types

    def check(self, ctx: TransitionContext) -> str | None:
        """``None`` to accept, or the reason for rejecting."""
        raise NotImplementedError


class FinishedIsFinal(Rule):
    """A finished run stays finished, except for an explicit retry or reschedule.

    From a finished state only Scheduled, Pending or Retrying are allowed (a restart, a
    task retry, a reschedule by a service); a Cancelled run may not be retried, and a
    Looped task may run its next iteration.
    """

    from_types = FINISHED

    def check(self, ctx: TransitionContext) -> str | None:
        allowed = {"Scheduled", "Pending"}
        if ctx.current != "Cancelled":
            allowed.add("Retrying")
        if ctx.current == "Looped":
            # A looping task runs again after each Looped state.
            allowed.update({"Running", "Looped"})
        if ctx.proposed_type in allowed:
            return None
        return (
            f"The {ctx.kind.replace('_', ' ')} is already finished ({ctx.current}); "
            f"it cannot become {ctx.proposed_type}."
        )


class CancellingOnlyFromRunning(Rule):
    """Cancelling means "stop what is running": only a running run can be cancelling."""

    to_types = frozenset({"Cancelling"})

    def check(self, ctx: TransitionContext) -> str | None:
        if ctx.current in RUNNING:
            return None
        return f"Only a running run can become Cancelling (it is {ctx.current})."


class NoResumeWhileCancelling(Rule):
    """Once cancellation was requested the run may only finish."""

    from_types = frozenset({"Cancelling"})

    def check(self, ctx: TransitionContext) -> str | None:
        if ctx.proposed_type in FINISHED or ctx.proposed_type == "Cancelling":
            return None
        return f"The run is being cancelled; it cannot become {ctx.proposed_type}."


class SubmitOnlyPending(Rule):
    """A run is submitted once: only a pending, not yet submitted run can be Submitted."""

    to_types = frozenset({"Submitted"})

    def check(self, ctx: TransitionContext) -> str | None:
        if ctx.current == "Submitted":
            return "State update failed: this run has already been submitted."
        if ctx.current is None or ctx.current in PENDING or ctx.current in SCHEDULED:
            return None
        return f"State update failed: a {ctx.current} run cannot be submitted."


class TaskRunsRunInsideRunningFlowRuns(Rule):
    """A task run may start running only while its flow run is Running."""

    kinds = frozenset({"task_run"})
    to_types = frozenset({"Running"})

    def check(self, ctx: TransitionContext) -> str | None:
        if ctx.flow_run_state == "Running":
            return None
        return (
            "A task run can only run while its flow run is Running "
            f"(the flow run is {ctx.flow_run_state})."
        )


#: The rules every state change passes, in order.
RULES: tuple[Rule, ...] = (
    FinishedIsFinal(),
    CancellingOnlyFromRunning(),
    NoResumeWhileCancelling(),
    SubmitOnlyPending(),
    TaskRunsRunInsideRunningFlowRuns(),
)


def check(ctx: TransitionContext, rules: tuple[Rule, ...] = RULES) -> str | None:
    """Apply ``rules``; the first rejection reason, or ``None`` when all accept."""
    for rule in rules:
        if rule.applies(ctx):
            reason = rule.check(ctx)
            if reason is not None:
                return reason
    return None
