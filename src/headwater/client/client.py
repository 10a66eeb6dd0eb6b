"""``headwater.client.client``: Prefect 1's ``prefect.client.client`` path.

Contract:
    Re-exports :class:`Client` (the object :mod:`headwater.client` exports).
"""

from __future__ import annotations

from headwater.client._client import Client

__all__ = ["Client"]
