"""Orchestration: every state change of flow runs and task runs passes through here.

Contract: agents, services, API routes and tests change states only with
:func:`set_flow_run_state`, :func:`set_task_run_state` (or its batched form
:func:`set_task_run_states`) and :func:`cancel_flow_run`; the
rules are the small classes in :mod:`headwater.server.orchestration.rules`.
"""

from headwater.server.orchestration._batch import StateItem, StateItemOutcome, set_task_run_states
from headwater.server.orchestration._core import (
    CancelOutcome,
    SetStateResult,
    cancel_flow_run,
    set_flow_run_state,
    set_task_run_state,
)
from headwater.server.orchestration.resumption import RESTARTABLE, restart_flow_run
from headwater.server.orchestration.rules import RULES, Rule, TransitionContext

__all__ = [
    "RESTARTABLE",
    "RULES",
    "CancelOutcome",
    "Rule",
    "SetStateResult",
    "StateItem",
    "StateItemOutcome",
    "TransitionContext",
    "cancel_flow_run",
    "restart_flow_run",
    "set_flow_run_state",
    "set_task_run_state",
    "set_task_run_states",
]
