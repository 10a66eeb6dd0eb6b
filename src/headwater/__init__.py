"""Headwater: a self-hosted workflow orchestrator with Prefect 1's authoring API."""

from headwater.utilities.configuration import config
from headwater.utilities.context import context

__version__ = "0.1.0"

__all__ = ["__version__", "config", "context"]
