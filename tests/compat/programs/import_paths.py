"""Prefect 1's public import paths, renamed, each with the names programs import from it."""

import importlib
import sys

FAILURES = []

PATHS = {
    "headwater": [
        "Flow",
        "Task",
        "Parameter",
        "task",
        "tags",
        "case",
        "unmapped",
        "flatten",
        "mapped",
        "context",
        "config",
        "Client",
    ],
    "headwater.core": ["Flow", "Task", "Parameter", "Edge"],
    "headwater.core.flow": ["Flow"],
    "headwater.core.task": ["Task"],
    "headwater.core.edge": ["Edge"],
    "headwater.core.parameter": ["Parameter", "DateTimeParameter"],
    "headwater.utilities.edges": ["unmapped", "mapped", "flatten"],
    "headwater.utilities.tasks": ["task", "tags", "as_task", "defaults_from_attrs"],
    "headwater.utilities.context": ["Context"],
    "headwater.utilities.logging": ["get_logger"],
    "headwater.configuration": ["config"],
    "headwater.engine": ["FlowRunner", "TaskRunner", "signals", "state"],
    "headwater.engine.flow_runner": ["FlowRunner"],
    "headwater.engine.task_runner": ["TaskRunner"],
    "headwater.engine.state": [
        "State",
        "Pending",
        "Scheduled",
        "Paused",
        "Resume",
        "Retrying",
        "Submitted",
        "Queued",
        "Running",
        "Success",
        "Cached",
        "Mapped",
        "Skipped",
        "Failed",
        "TimedOut",
        "TriggerFailed",
        "Cancelled",
        "Looped",
    ],
    "headwater.engine.signals": [
        "FAIL",
        "SUCCESS",
        "SKIP",
        "RETRY",
        "LOOP",
        "PAUSE",
        "TRIGGERFAIL",
        "HeadwaterStateSignal",
        "signal_from_state",
    ],
    "headwater.engine.result": ["Result", "NoResult"],
    "headwater.engine.results": ["LocalResult", "HeadwaterResult", "S3Result", "GCSResult"],
    "headwater.engine.serializers": ["PickleSerializer", "JSONSerializer", "DateTimeSerializer"],
    "headwater.engine.cache_validators": [
        "all_inputs",
        "all_parameters",
        "duration_only",
        "never_use",
        "partial_inputs_only",
        "partial_parameters_only",
    ],
    "headwater.executors": ["LocalExecutor", "LocalDaskExecutor", "DaskExecutor"],
    "headwater.triggers": [
        "all_successful",
        "all_failed",
        "any_successful",
        "any_failed",
        "all_finished",
        "always_run",
        "manual_only",
        "not_all_skipped",
        "some_successful",
        "some_failed",
    ],
    "headwater.tasks.control_flow": ["case", "merge", "ifelse", "switch", "FilterTask"],
    "headwater.tasks.control_flow.case": ["case"],
    "headwater.tasks.control_flow.conditional": ["ifelse", "switch", "merge"],
    "headwater.tasks.control_flow.filter": ["FilterTask"],
    "headwater.tasks.core.function": ["FunctionTask"],
    "headwater.tasks.core.constants": ["Constant"],
    "headwater.tasks.core.collections": ["List", "Tuple", "Set", "Dict"],
    "headwater.tasks.headwater": [
        "create_flow_run",
        "wait_for_flow_run",
        "get_task_run_result",
        "StartFlowRun",
        "RenameFlowRun",
        "CancelFlowRun",
    ],
    "headwater.tasks.headwater.flow_run": [
        "StartFlowRun",
        "create_flow_run",
        "wait_for_flow_run",
        "get_task_run_result",
    ],
    "headwater.tasks.headwater.flow_run_rename": ["RenameFlowRun"],
    "headwater.tasks.headwater.flow_run_cancel": ["CancelFlowRun"],
    "headwater.storage": ["Local", "Module"],
    "headwater.run_configs": ["LocalRun", "UniversalRun"],
    "headwater.backend": ["FlowView", "FlowRunView", "TaskRunView"],
    "headwater.backend.flow": ["FlowView"],
    "headwater.backend.flow_run": ["FlowRunView", "watch_flow_run"],
    "headwater.backend.task_run": ["TaskRunView"],
    "headwater.client": ["Client"],
    "headwater.client.client": ["Client"],
    "headwater.exceptions": [
        "HeadwaterException",
        "ClientError",
        "AuthorizationError",
        "FlowStorageError",
    ],
}


for module_name, names in PATHS.items():
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"FAIL import {module_name}: {exc}")
        FAILURES.append(module_name)
        continue
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        print(f"FAIL import {module_name}: missing {', '.join(missing)}")
        FAILURES.append(module_name)
    else:
        print(f"ok   import {module_name}: {', '.join(names)}")

sys.exit(1 if FAILURES else 0)
