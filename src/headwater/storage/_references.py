"""Whether a flow can be found again by name in the module or script that defines it.

Contract:
    :func:`find_flow_reference` returns ``(module name, attribute, source file)`` for a
    module-level global bound to the flow object, only when loading that module again
    will bind the same flow under that name; otherwise None, and the caller pickles the
    flow instead. For an imported module its globals at registration time are what a new
    import gives. For a script run as ``__main__`` they are not: loading it from storage
    skips its ``if __name__ == "__main__":`` block, and a name a loop binds ends on its
    last value. So a script global counts only when the script's source binds it exactly
    once at top level, outside loops and outside that block. Nothing here raises: an
    unreadable or unparsable source simply counts as no reference.
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Any

__all__ = ["find_flow_reference", "stable_script_names"]

# (path, mtime_ns, size) -> names a script binds once, outside loops and its main block
_CACHE: dict[tuple[str, int, int], frozenset[str]] = {}


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    names = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return names and main


def _target_names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


class _Bindings(ast.NodeVisitor):
    """Counts module-level bindings per name; loop bodies count as many."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._loop_depth = 0

    def _bind(self, names: list[str]) -> None:
        weight = 2 if self._loop_depth else 1
        for name in names:
            self.counts[name] = self.counts.get(name, 0) + weight

    # Scopes of their own: their names are not module globals (``global`` is rare
    # enough in flow scripts that it is not followed).
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._bind([node.name])

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._bind([node.name])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind([node.name])

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return

    def _visit_comprehension(self, node: ast.AST) -> None:
        return

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind(_target_names(target))
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._bind(_target_names(node.target))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._bind(_target_names(node.target))

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._bind(_target_names(node.target))

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._bind(_target_names(node.optional_vars))

    def visit_Import(self, node: ast.Import) -> None:
        self._bind([(a.asname or a.name).split(".")[0] for a in node.names])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._bind([a.asname or a.name for a in node.names])

    def _visit_loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        self._loop_depth += 1
        try:
            if isinstance(node, ast.For | ast.AsyncFor):
                self._bind(_target_names(node.target))
            for child in [*node.body, *node.orelse]:
                self.visit(child)
        finally:
            self._loop_depth -= 1

    visit_For = visit_AsyncFor = visit_While = _visit_loop

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind([node.name])
        for child in node.body:
            self.visit(child)


def stable_script_names(path: str) -> frozenset[str]:
    """Names the script at ``path`` binds once at top level, outside loops and main block.

    Returns:
        The names, or an empty set when the file cannot be read or parsed.
    """
    try:
        info = os.stat(path)
        key = (path, info.st_mtime_ns, info.st_size)
        if key in _CACHE:
            return _CACHE[key]
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    counter = _Bindings()
    main_block_names: set[str] = set()
    for statement in tree.body:
        if _is_main_guard(statement):
            guard = _Bindings()
            guard.visit(statement)
            main_block_names.update(guard.counts)
            continue
        counter.visit(statement)
    names = frozenset(
        name
        for name, count in counter.counts.items()
        if count == 1 and name not in main_block_names
    )
    _CACHE[key] = names
    return names


def find_flow_reference(flow: Any) -> tuple[str, str, str] | None:
    """A module-level name that will give back ``flow`` when its source is loaded again.

    Modules are searched with ``__main__`` first; only modules with a ``.py`` source
    file count.

    Returns:
        ``(module name, attribute, absolute source file)``, or None when the flow must be
        pickled to be found again.
    """
    modules = list(sys.modules.items())
    modules.sort(key=lambda item: item[0] != "__main__")
    for module_name, module in modules:
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        attributes = [attr for attr, value in list(namespace.items()) if value is flow]
        if not attributes:
            continue
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        file = os.path.abspath(file)
        if module_name == "__main__":
            stable = stable_script_names(file)
            attributes = [attr for attr in attributes if attr in stable]
        if attributes:
            return module_name, attributes[0], file
    return None
