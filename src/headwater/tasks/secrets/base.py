"""``SecretBase`` and ``HeadwaterSecret``: tasks whose result is a secret value.

Contract:
    Secret tasks refuse ``result=`` and ``checkpoint=True`` with a :class:`ValueError` and
    always run with checkpointing off, so their values are never persisted (not even by
    the backend's default result store). ``HeadwaterSecret(name)`` reads the local secret
    ``name`` (also the task's name by default); ``run(name=...)`` may name another secret
    at run time.
"""

from __future__ import annotations

from typing import Any

from headwater.core.task import Task

__all__ = ["HeadwaterSecret", "SecretBase"]


class SecretBase(Task):
    """Base class of the secret tasks: checkpointing is always off.

    Args:
        **kwargs: :class:`~headwater.core.task.Task` options, except ``result`` and
            ``checkpoint=True``.

    Raises:
        ValueError: when ``result`` or ``checkpoint=True`` is given.
    """

    def __init__(self, **kwargs: Any) -> None:
        name = kwargs.get("name") or type(self).__name__
        if kwargs.get("result") is not None:
            raise ValueError(
                f"Secret task {name!r}: results are not supported, secret values are "
                "never persisted."
            )
        if kwargs.get("checkpoint"):
            raise ValueError(
                f"Secret task {name!r}: checkpoint=True is not supported, secret values "
                "are never persisted."
            )
        kwargs["checkpoint"] = False
        super().__init__(**kwargs)


class HeadwaterSecret(SecretBase):
    """A task returning a local secret's value (Prefect 1's ``PrefectSecret``).

    Args:
        name: the secret's name; also the task's name unless ``kwargs`` names the task.
        **kwargs: further :class:`~headwater.core.task.Task` options.
    """

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Secret name must be a string, got {name!r}.")
        self.secret_name = name
        kwargs.setdefault("name", name)
        super().__init__(**kwargs)

    def run(self, name: str | None = None) -> Any:  # type: ignore[override]
        """Return the secret's value.

        Args:
            name: the secret's name, overriding the one given at initialization.

        Returns:
            The value of ``headwater.client.Secret(name).get()``.

        Raises:
            ValueError: when no name was given or no local secret has this name.
        """
        # deferred: the client package loads httpx (~100 ms); flows using secrets import this module.
        from headwater.client.secrets import Secret

        secret_name = name if name is not None else self.secret_name
        if secret_name is None:
            raise ValueError(f"Task {self.name!r}: a secret name must be provided.")
        return Secret(secret_name).get()
