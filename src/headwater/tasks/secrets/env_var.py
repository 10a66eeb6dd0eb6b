"""``EnvVarSecret``: a secret task reading an environment variable.

Contract:
    ``EnvVarSecret(name, env_var=None, cast=None, raise_if_missing=False)`` returns the
    value of ``env_var`` (default: ``name``) in the environment of the process running the
    task, passed through ``cast`` when given; a missing variable gives ``None``, or a
    :class:`ValueError` naming it with ``raise_if_missing=True``. Like every secret task it
    never checkpoints its value.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from headwater.tasks.secrets.base import SecretBase

__all__ = ["EnvVarSecret"]


class EnvVarSecret(SecretBase):
    """A task returning an environment variable's value.

    Args:
        name: the task's name, and the variable's name unless ``env_var`` is given.
        env_var: the environment variable to read.
        cast: a callable applied to the value when the variable is set (e.g. ``int``).
        raise_if_missing: fail the task when the variable is not set, instead of
            returning ``None``.
        **kwargs: further :class:`~headwater.core.task.Task` options.

    Raises:
        TypeError: when neither ``name`` nor ``env_var`` is a string, or ``cast`` is not
            callable.
    """

    def __init__(
        self,
        name: str | None = None,
        env_var: str | None = None,
        cast: Callable[[str], Any] | None = None,
        raise_if_missing: bool = False,
        **kwargs: Any,
    ) -> None:
        variable = env_var if env_var is not None else name
        if not isinstance(variable, str) or not variable:
            raise TypeError(
                f"EnvVarSecret needs the environment variable's name (name= or env_var=), "
                f"got {variable!r}."
            )
        if cast is not None and not callable(cast):
            raise TypeError(f"EnvVarSecret {variable!r}: cast must be callable, got {cast!r}.")
        self.env_var = variable
        self.cast = cast
        self.raise_if_missing = raise_if_missing
        kwargs.setdefault("name", name if name is not None else variable)
        super().__init__(**kwargs)

    def run(self) -> Any:
        """Return the variable's value (cast when a ``cast`` was given).

        Raises:
            ValueError: when the variable is not set and ``raise_if_missing`` is true.
        """
        value = os.environ.get(self.env_var)
        if value is None:
            if self.raise_if_missing:
                raise ValueError(f"Environment variable not set: {self.env_var}")
            return None
        return self.cast(value) if self.cast is not None else value
