"""Shared utilities: the run context, configuration, logging and small collections.

Contract:
    Submodules are imported on use; this package imports nothing heavy.
"""
