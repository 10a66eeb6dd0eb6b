"""The Python examples of docs/schedules.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "schedules.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_schedules_doc_example_runs(index: int) -> None:
    namespace: dict[str, object] = {"__name__": f"schedules_doc_{index}"}
    exec(compile(BLOCKS[index], f"docs/schedules.md[python block {index}]", "exec"), namespace)
