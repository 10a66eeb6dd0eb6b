"""``JinjaTemplate``: render a Jinja template from keywords and the run context.

Contract:
    ``JinjaTemplate(template=None, **kwargs)``; ``run(template=None, **format_kwargs)``
    renders ``template`` with the run context (:data:`headwater.context`) and
    ``format_kwargs`` laid over it (keywords win), as in Prefect 1. ``template`` comes from
    the constructor unless passed at run time (default ``""``). Jinja is optional: it is
    imported only when a ``JinjaTemplate`` is created or run, and its absence is an
    ``ImportError`` naming the ``jinja2`` package. A missing template is a
    ``ValueError``, a non-string one a ``TypeError``; Jinja's own errors propagate.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from headwater.core.task import Task
from headwater.tasks.templates.strings import _check_template, _template_values
from headwater.utilities.tasks import defaults_from_attrs

__all__ = ["JinjaTemplate"]

_MISSING = (
    "JinjaTemplate needs the 'jinja2' package, which is not installed; "
    "install it with `pip install jinja2`"
)


def _require_jinja2() -> None:
    """Fail early, without importing Jinja, when it is not installed."""
    if importlib.util.find_spec("jinja2") is None:
        raise ImportError(_MISSING, name="jinja2")


def _import_jinja2() -> ModuleType:
    """Import Jinja on first use (it is not needed to build or import flows)."""
    try:
        return importlib.import_module("jinja2")
    except ImportError as exc:
        raise ImportError(_MISSING, name="jinja2") from exc


class JinjaTemplate(Task):
    """A task that renders a Jinja template with its keyword inputs and the context.

    Args:
        template: a Jinja template such as ``"Hello {{ name }}"``; it may also be given
            to ``run``.
        **kwargs: further :class:`~headwater.core.task.Task` options.

    Raises:
        ImportError: the ``jinja2`` package is not installed.
    """

    def __init__(self, template: str | None = None, **kwargs: Any) -> None:
        _require_jinja2()
        self.template = template or ""
        super().__init__(**kwargs)

    @defaults_from_attrs("template")
    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        """Render ``template`` with ``format_kwargs`` over the run context.

        Args:
            template: the Jinja template to render.
            **format_kwargs: variables for the template.

        Returns:
            The rendered text.

        Raises:
            ImportError: the ``jinja2`` package is not installed.
            ValueError: no template was given.
            TypeError: ``template`` is not a string.
        """
        text = _check_template("JinjaTemplate", template)
        jinja2 = _import_jinja2()
        rendered: str = jinja2.Template(text).render(**_template_values(format_kwargs))
        return rendered
