"""Shapes the server speaks: API bodies (``api``) and the state families table (``states``).

Contract: schemas import nothing else from the server; every other layer may import them.
"""

from headwater.server.schemas import api, states

__all__ = ["api", "states"]
