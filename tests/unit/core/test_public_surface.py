"""The public names of the graph and engine-runner modules, at their Prefect 1 paths."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "headwater": [
        "Client", "DateTimeParameter", "Flow", "Parameter", "Task", "__version__", "apply_map",
        "case",
        "config", "context", "flatten", "mapped", "merge", "resource_manager", "signals", "tags",
        "task",
        "triggers", "unmapped",
    ],
    "headwater.core": [
        "DateTimeParameter", "Edge", "Flow", "Parameter", "Task", "flatten", "mapped",
        "unmapped",
    ],
    "headwater.core.edge": ["Edge", "EdgeAnnotation", "flatten", "mapped", "unmapped"],
    "headwater.core.flow": ["Flow"],
    "headwater.core.task": ["Task"],
    "headwater.core.parameter": ["DateTimeParameter", "Parameter", "no_default"],
    "headwater.utilities.tasks": [
        "apply_map", "as_task", "defaults_from_attrs", "flatten", "mapped", "tags", "task",
        "unmapped",
    ],
    "headwater.tasks.core": ["Constant", "Dict", "FunctionTask", "List", "Set", "Tuple"],
    "headwater.tasks.control_flow": [
        "CompareValue", "FilterTask", "Merge", "case", "ifelse", "merge", "switch",
    ],
    "headwater.engine.runner": ["ENDRUN", "Runner"],
    "headwater.engine.flow_runner": ["FlowRunner"],
    "headwater.engine.task_runner": ["TaskRunner", "mappable_values"],
    "headwater.utilities.edges": ["flatten", "mapped", "unmapped"],
    "headwater.utilities.debug": ["raise_on_exception"],
    "headwater.engine.cache_validators": [
        "all_inputs", "all_parameters", "clear_caches", "duration_only", "never_use",
        "partial_inputs_only", "partial_parameters_only",
    ],
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_are_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        if name != "Client":  # loaded lazily with the client package
            assert getattr(module, name) is not None


def test_engine_runners_are_reachable_from_the_engine_package() -> None:
    from headwater import engine
    from headwater.engine.flow_runner import FlowRunner
    from headwater.engine.task_runner import TaskRunner

    assert engine.FlowRunner is FlowRunner and engine.TaskRunner is TaskRunner


def test_unknown_top_level_attribute_is_an_attribute_error() -> None:
    import headwater

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        headwater.Nope  # noqa: B018
