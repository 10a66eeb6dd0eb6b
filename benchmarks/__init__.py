"""Headwater's benchmarks: one module per area, run together by ``python -m benchmarks``.

Each public module ``benchmarks/<name>.py`` exposes ``run() -> list[dict]`` returning rows
``{"benchmark", "value", "unit", "target"}``; see ``benchmarks/__main__.py`` and
``benchmarks/README.md``.
"""
