"""Template tasks of the core Task Library (Prefect 1's ``prefect.tasks.templates``).

Contract:
    :class:`StringFormatter` formats a ``str.format`` template; :class:`JinjaTemplate`
    renders a Jinja template. Both see the run context merged under their keyword
    arguments, so ``{today}`` or ``{flow_name}`` work without being passed. Jinja is
    optional: importing this package never imports it, and ``JinjaTemplate`` raises an
    ``ImportError`` naming the ``jinja2`` package when it is not installed.
"""

from __future__ import annotations

from headwater.tasks.templates.jinja2 import JinjaTemplate
from headwater.tasks.templates.strings import StringFormatter

__all__ = ["JinjaTemplate", "StringFormatter"]
