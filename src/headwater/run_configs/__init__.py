"""``headwater.run_configs``: how agents run a flow (``LocalRun``, ``UniversalRun``).

See :mod:`headwater.run_configs._base` for the contract.
"""

from __future__ import annotations

from headwater.run_configs._base import LocalRun, RunConfig, UniversalRun, run_config_from_ref

__all__ = ["LocalRun", "RunConfig", "UniversalRun", "run_config_from_ref"]
