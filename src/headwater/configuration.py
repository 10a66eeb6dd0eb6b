"""``headwater.configuration``: Prefect 1's ``prefect.configuration`` path.

Contract:
    A thin re-export of :mod:`headwater.utilities.configuration`: the same global
    :data:`config` object and the functions that build it. ``headwater.config`` and
    ``headwater.configuration.config`` are one object.
"""

from __future__ import annotations

from headwater.utilities.configuration import (
    Config,
    config,
    load_configuration,
    string_to_type,
)

__all__ = ["Config", "config", "load_configuration", "string_to_type"]
