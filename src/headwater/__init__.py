"""Headwater: a self-hosted workflow orchestrator with Prefect 1's authoring API."""

__version__ = "0.1.0"
