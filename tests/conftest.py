"""Test-wide settings shared by every tier.

Each test session gets its own HEADWATER_HOME so that nothing a test writes (results,
databases, configuration) lands in the user's real home, and no user configuration leaks
into the tests. This runs before any test module imports ``headwater``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_SESSION_HOME = tempfile.mkdtemp(prefix="headwater-test-home-")
os.environ["HEADWATER_HOME"] = _SESSION_HOME
for _key in [k for k in os.environ if k.startswith("HEADWATER__")]:
    del os.environ[_key]
os.environ.pop("HEADWATER_API_KEY", None)
os.environ.pop("HEADWATER_API_URL", None)
os.environ.pop("HEADWATER_DATABASE_URL", None)


@pytest.fixture(scope="session", autouse=True)
def _session_home() -> Iterator[str]:
    yield _SESSION_HOME
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)
