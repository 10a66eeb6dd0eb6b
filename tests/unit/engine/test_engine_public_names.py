"""The public names of the engine foundation modules stay importable from their Prefect 1 paths."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "headwater.engine.state": [
        "FINISHED_STATE_TYPES",
        "State", "Pending", "Scheduled", "Paused", "Resume", "Retrying", "MetaState",
        "Submitted", "Queued", "ClientFailed", "Running", "Cancelling", "Finished", "Success",
        "Cached", "Mapped", "Skipped", "Failed", "TimedOut", "TriggerFailed",
        "ValidationFailed", "Cancelled", "Looped",
    ],
    "headwater.engine.signals": [
        "ENGINESIGNAL", "HeadwaterStateSignal", "FAIL", "SUCCESS", "SKIP", "RETRY",
        "TRIGGERFAIL", "VALIDATIONFAIL", "PAUSE", "LOOP", "signal_from_state",
    ],
    "headwater.engine.results": [
        "Result", "NoResult", "NoResultType", "LocalResult", "FSSpecResult", "S3Result",
        "GCSResult", "HeadwaterResult", "ServerResult", "result_from_ref",
    ],
    "headwater.engine.serializers": [
        "Serializer", "PickleSerializer", "JSONSerializer", "DateTimeSerializer",
        "serializer_from_ref",
    ],
    "headwater.triggers": [
        "all_successful", "all_finished", "always_run", "manual_only", "all_failed",
        "any_successful", "any_failed", "some_successful", "some_failed", "not_all_skipped",
    ],
    "headwater.exceptions": [
        "HeadwaterException", "ClientError", "ObjectNotFound", "AuthorizationError",
        "ConflictError", "ServerUnavailable", "FlowStorageError", "TaskTimeoutError",
    ],
    "headwater.utilities.context": ["Context", "context"],
    "headwater.utilities.configuration": [
        "Config", "config", "load_configuration", "reload_configuration",
        "set_temporary_config",
    ],
    "headwater.utilities.logging": [
        "get_logger", "add_log_handler", "remove_log_handler", "redirect_stdout_to_logger",
        "configure_logging",
    ],
    "headwater.utilities.collections": ["DotDict", "merge_dicts", "as_nested_dict"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    exported = set(getattr(mod, "__all__", []))
    for name in PUBLIC[module]:
        assert hasattr(mod, name), f"{module}.{name} is missing"
        assert name in exported, f"{module}.__all__ lacks {name}"


def test_foundation_imports_stay_light() -> None:
    code = (
        "import sys, headwater, headwater.engine.state, headwater.engine.signals, "
        "headwater.engine.results, headwater.triggers, headwater.utilities.logging\n"
        "heavy = {'dask', 'distributed', 'sqlalchemy', 'fastapi', 'uvicorn'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
