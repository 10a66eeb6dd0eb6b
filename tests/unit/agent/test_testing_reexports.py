"""headwater.testing offers the agent harness too, loaded only when asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_agent_harness_is_reexported_lazily() -> None:
    code = (
        "import sys, headwater.testing as t\n"
        "assert 'headwater.testing_agent' not in sys.modules\n"
        "import headwater.testing_agent as a\n"
        "assert t.temporary_agent is a.temporary_agent\n"
        "assert t.wait_for_flow_run_state is a.wait_for_flow_run_state\n"
        "assert {'temporary_agent', 'wait_for_flow_run_state'} <= set(t.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_unknown_name_is_a_clear_attribute_error() -> None:
    import headwater.testing

    with pytest.raises(AttributeError, match="no attribute 'temporary_nothing'"):
        _ = headwater.testing.temporary_nothing  # type: ignore[attr-defined]
