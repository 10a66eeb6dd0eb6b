"""The public names of headwater and its public modules, pinned.

Each module's ``__all__`` must equal the list below: adding or removing a public name is
a deliberate change made here too (and in the changelog). Every listed name must resolve,
and the Prefect 1 import paths must reach the same objects as the top-level shortcuts.
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

PUBLIC: dict[str, list[str]] = {
    "headwater": [
        "Client", "DateTimeParameter", "Flow", "Parameter", "Task", "__version__", "apply_map",
        "case", "config", "context", "flatten", "mapped", "merge", "resource_manager", "signals", "tags",
        "task",
        "triggers", "unmapped",
    ],
    "headwater.core": [
        "DateTimeParameter", "Edge", "Flow", "Parameter", "Task", "flatten", "mapped",
        "unmapped",
    ],
    "headwater.core.edge": ["Edge", "EdgeAnnotation", "flatten", "mapped", "unmapped"],
    "headwater.engine": ["FlowRunner", "TaskRunner", "signals", "state"],
    "headwater.engine.flow_runner": ["FlowRunner"],
    "headwater.engine.task_runner": ["TaskRunner", "mappable_values"],
    "headwater.engine.state": [
        "FINISHED_STATE_TYPES",
        "Cached", "Cancelled", "Cancelling", "ClientFailed", "Failed", "Finished", "Looped",
        "Mapped", "MetaState", "Paused", "Pending", "Queued", "Resume", "Retrying", "Running",
        "Scheduled", "Skipped", "State", "Submitted", "Success", "TimedOut", "TriggerFailed",
        "ValidationFailed",
    ],
    "headwater.engine.signals": [
        "ENGINESIGNAL", "FAIL", "HeadwaterStateSignal", "LOOP", "PAUSE", "RETRY", "SKIP",
        "SUCCESS", "TRIGGERFAIL", "VALIDATIONFAIL", "signal_from_state",
    ],
    "headwater.engine.results": [
        "FSSpecResult", "GCSResult", "HeadwaterResult", "LocalResult", "NoResult",
        "NoResultType", "Result", "S3Result", "ServerResult", "UnresolvedResult",
        "result_from_ref",
    ],
    "headwater.engine.serializers": [
        "DateTimeSerializer", "JSONSerializer", "PickleSerializer", "Serializer",
        "serializer_from_ref",
    ],
    "headwater.triggers": [
        "all_failed", "all_finished", "all_successful", "always_run", "any_failed",
        "any_successful", "manual_only", "not_all_skipped", "some_failed", "some_successful",
    ],
    "headwater.executors": ["DaskExecutor", "Executor", "LocalDaskExecutor", "LocalExecutor"],
    "headwater.executors.base": ["Executor"],
    "headwater.executors.local": ["LocalExecutor"],
    "headwater.executors.dask": ["DaskExecutor", "LocalDaskExecutor"],
    "headwater.utilities.context": ["Context", "context"],
    "headwater.utilities.logging": [
        "ContextFilter", "add_log_handler", "configure_logging", "get_logger",
        "redirect_stdout_to_logger", "remove_log_handler",
    ],
    "headwater.utilities.configuration": [
        "Config", "config", "load_configuration", "reload_configuration",
        "set_temporary_config", "string_to_type",
    ],
    "headwater.utilities.collections": [
        "DotDict", "as_nested_dict", "flatten_keys", "flatten_seq", "merge_dicts",
    ],
    "headwater.utilities.tasks": [
        "apply_map", "as_task", "defaults_from_attrs", "flatten", "mapped", "tags", "task",
        "unmapped",
    ],
    "headwater.exceptions": [
        "AuthorizationError", "ClientError", "ConflictError", "FlowStorageError",
        "HeadwaterException", "ObjectNotFound", "ProjectNameRequired", "ProjectNotFound",
        "ServerUnavailable", "TaskTimeoutError",
    ],
    "headwater.tasks.control_flow": ["CompareValue", "FilterTask", "Merge", "case", "ifelse", "merge", "switch"],
    "headwater.tasks.core": ["Constant", "Dict", "FunctionTask", "List", "Set", "Tuple"],
    "headwater.tasks.headwater": [
        "CancelFlowRun", "RenameFlowRun", "StartFlowRun", "create_flow_run",
        "get_task_run_result", "wait_for_flow_run",
    ],
    "headwater.tasks.headwater.flow_run": [
        "StartFlowRun", "create_flow_run", "get_task_run_result", "wait_for_flow_run",
    ],
    "headwater.tasks.headwater.flow_run_rename": ["RenameFlowRun"],
    "headwater.tasks.headwater.flow_run_cancel": ["CancelFlowRun"],
    "headwater.backend": [
        "FlowRunLog", "FlowRunView", "FlowView", "TaskRunView", "delete_key", "get_key_value",
        "list_keys", "set_key_value", "watch_flow_run",
    ],
    "headwater.backend.kv_store": ["delete_key", "get_key_value", "list_keys", "set_key_value"],
    "headwater.backend.artifacts": [
        "create_link_artifact", "create_markdown_artifact", "delete_artifact",
        "update_link_artifact", "update_markdown_artifact",
    ],
    "headwater.artifacts": [
        "create_link", "create_link_artifact", "create_markdown", "create_markdown_artifact",
        "delete_artifact", "update_link", "update_link_artifact", "update_markdown",
        "update_markdown_artifact",
    ],
    # Prefect 1's module paths, renamed: thin re-exports of the objects above.
    "headwater.configuration": ["Config", "config", "load_configuration", "string_to_type"],
    "headwater.engine.result": ["NoResult", "NoResultType", "Result"],
    "headwater.engine.result.base": ["NoResult", "NoResultType", "Result"],
    "headwater.backend.flow": ["FlowView"],
    "headwater.backend.flow_run": ["FlowRunLog", "FlowRunView", "watch_flow_run"],
    "headwater.backend.task_run": ["TaskRunView"],
    "headwater.client.client": ["Client"],
    "headwater.client.secrets": ["Secret"],
    "headwater.tasks.secrets": ["EnvVarSecret", "HeadwaterSecret", "SecretBase"],
    "headwater.tasks.secrets.base": ["HeadwaterSecret", "SecretBase"],
    "headwater.tasks.secrets.env_var": ["EnvVarSecret"],
    "headwater.tasks.database": ["SQLiteQuery", "SQLiteScript"],
    "headwater.tasks.database.sqlite": ["SQLiteQuery", "SQLiteScript"],
    "headwater.tasks.templates": ["JinjaTemplate", "StringFormatter"],
    "headwater.tasks.templates.strings": ["StringFormatter"],
    "headwater.tasks.templates.jinja2": ["JinjaTemplate"],
    "headwater.tasks.shell": ["ShellTask"],
    "headwater.utilities.notifications": [
        "callback_factory", "slack_message_formatter", "slack_notifier",
    ],
}  # fmt: skip

# Names loaded lazily from a module that is optional in a given installation.
_LAZY_SOURCES = {("headwater", "Client"): "headwater.client"}


def _installed(module_name: str) -> bool:
    # A bare directory (namespace package) without __init__.py is not an installed module.
    spec = importlib.util.find_spec(module_name)
    return spec is not None and spec.origin is not None


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(getattr(module, "__all__", []))
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ has duplicates"
    assert sorted(exported) == sorted(PUBLIC[module_name])


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_public_name_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in PUBLIC[module_name]:
        source = _LAZY_SOURCES.get((module_name, name))
        if source is not None and not _installed(source):
            continue
        assert getattr(module, name) is not None, f"{module_name}.{name}"


def test_top_level_shortcuts_are_the_prefect1_path_objects() -> None:
    import headwater
    from headwater import core, executors, tasks, triggers, utilities
    from headwater.engine import signals
    from headwater.executors import dask, local

    assert headwater.Flow is core.Flow
    assert headwater.Task is core.Task
    assert headwater.Parameter is core.Parameter
    assert headwater.context is utilities.context.context
    assert headwater.config is utilities.configuration.config
    assert headwater.signals is signals
    assert headwater.triggers is triggers
    assert headwater.case is tasks.control_flow.case
    assert headwater.merge is tasks.control_flow.merge
    assert headwater.task is utilities.tasks.task
    assert headwater.unmapped is core.unmapped
    assert executors.LocalExecutor is local.LocalExecutor
    assert executors.LocalDaskExecutor is dask.LocalDaskExecutor
    assert executors.DaskExecutor is dask.DaskExecutor


def test_prefect1_module_paths_reach_the_same_objects() -> None:
    import headwater
    from headwater import backend, client, configuration, engine
    from headwater.backend import flow, flow_run, task_run
    from headwater.client import client as client_module
    from headwater.engine import result, results

    assert configuration.config is headwater.config
    assert result.Result is results.Result
    assert result.NoResult is results.NoResult
    assert result.base.Result is results.Result
    assert engine.result is result
    assert flow.FlowView is backend.FlowView
    assert flow_run.FlowRunView is backend.FlowRunView
    assert flow_run.watch_flow_run is backend.watch_flow_run
    assert task_run.TaskRunView is backend.TaskRunView
    from headwater import artifacts
    from headwater.backend import artifacts as backend_artifacts
    from headwater.backend import kv_store

    assert backend.set_key_value is kv_store.set_key_value
    assert backend.get_key_value is kv_store.get_key_value
    assert artifacts.create_link_artifact is backend_artifacts.create_link_artifact
    assert artifacts.create_link is backend_artifacts.create_link_artifact
    assert client_module.Client is client.Client is headwater.Client


def test_no_private_names_are_exported() -> None:
    for module_name, names in PUBLIC.items():
        leaked = [n for n in names if n.startswith("_") and n != "__version__"]
        assert leaked == [], module_name


def test_client_has_prefect1_schedule_calls() -> None:
    from headwater.client import Client

    for name in (
        "set_schedule_active",
        "set_schedule_inactive",
        "set_flow_group_schedule",
        "delete_flow_group_schedule",
        "get_flow_group_schedule",
        "update_flow_group_schedule",
        "backfill_flow_group",
    ):
        assert callable(getattr(Client, name, None)), name
