"""``StringFormatter``: fill a ``str.format`` template from keywords and the run context.

Contract:
    ``StringFormatter(template=None, **kwargs)``; ``run(template=None, **format_kwargs)``
    returns ``template.format(**values)`` where ``values`` is the run context
    (:data:`headwater.context`: ``today``, ``flow_name``, ``parameters``...) with
    ``format_kwargs`` laid over it, so a keyword wins over a context value of the same
    name, as in Prefect 1. ``template`` comes from the constructor unless passed at run
    time (the constructor's default is ``""``). A missing template is a ``ValueError``, a
    non-string one a ``TypeError``, and a field found in neither the keywords nor the
    context a ``KeyError`` naming the field.
"""

from __future__ import annotations

from typing import Any

from headwater.core.task import Task
from headwater.utilities.context import context
from headwater.utilities.tasks import defaults_from_attrs

__all__ = ["StringFormatter"]


def _template_values(format_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The run context with ``format_kwargs`` laid over it (keywords win)."""
    with context(**format_kwargs) as data:
        return data.to_dict()


def _check_template(owner: str, template: object) -> str:
    """Return ``template`` as a string, or raise naming the problem."""
    if template is None:
        raise ValueError(f"{owner}: a `template` string must be provided")
    if not isinstance(template, str):
        raise TypeError(f"{owner}: `template` must be a string, got {type(template).__name__}")
    return template


class StringFormatter(Task):
    """A task that formats a string template with its keyword inputs and the context.

    Args:
        template: a :meth:`str.format` template such as ``"Hello {name}"``; it may also be
            given to ``run``.
        **kwargs: further :class:`~headwater.core.task.Task` options.

    Example:
        ```python
        greeting = StringFormatter(template="Hello {name}, today is {today}")
        with Flow("greet") as flow:
            message = greeting(name="team")
        ```
    """

    def __init__(self, template: str | None = None, **kwargs: Any) -> None:
        self.template = template or ""
        super().__init__(**kwargs)

    @defaults_from_attrs("template")
    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        """Format ``template`` with ``format_kwargs`` over the run context.

        Args:
            template: the template to format.
            **format_kwargs: values for the template's fields.

        Returns:
            The formatted string.

        Raises:
            ValueError: no template was given.
            TypeError: ``template`` is not a string.
            KeyError: a field is in neither ``format_kwargs`` nor the context.
        """
        text = _check_template("StringFormatter", template)
        values = _template_values(format_kwargs)
        try:
            return text.format(**values)
        except KeyError as exc:
            field = exc.args[0] if exc.args else ""
            raise KeyError(
                f"StringFormatter: template field {field!r} is neither a keyword input "
                "nor a value of the run context"
            ) from exc
