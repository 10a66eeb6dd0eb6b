"""``headwater.client.secrets``: secrets read from the local configuration.

Contract:
    ``Secret(name).get()`` returns the value of the secret ``name`` from
    ``headwater.context.secrets``: the configuration's ``context.secrets`` section (set in
    ``config.toml`` or as ``HEADWATER__CONTEXT__SECRETS__<NAME>``, the name keeping its
    case), plus whatever a ``with headwater.context(secrets={...})`` block adds. A string
    value that is valid JSON is returned parsed (``'{"user": "x"}'`` gives a dict), as in
    Prefect 1. A missing secret raises :class:`ValueError` naming it.

    Headwater's server has no secret store, so secrets are always local: Prefect 1's
    ``cloud.use_local_secrets`` setting is accepted and has no effect. Reading a secret
    sends nothing to the server; secret tasks never checkpoint their values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from headwater.utilities.context import context

__all__ = ["Secret"]


class Secret:
    """A named secret, read from the local secrets in the run context.

    Args:
        name: the secret's name, case-sensitive (``"SLACK_WEBHOOK_URL"``).

    Raises:
        TypeError: when ``name`` is not a non-empty string.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Secret name must be a non-empty string, got {name!r}.")
        self.name = name

    def _local(self) -> dict[str, Any]:
        secrets = context.get("secrets")
        return dict(secrets) if isinstance(secrets, Mapping) else {}

    def exists(self) -> bool:
        """Return whether a local secret of this name is set."""
        return self.name in self._local()

    def get(self) -> Any:
        """Return the secret's value.

        Returns:
            The value; a string holding JSON is parsed.

        Raises:
            ValueError: when no local secret has this name.
        """
        secrets = self._local()
        if self.name not in secrets:
            raise ValueError(
                f"Local Secret {self.name!r} was not found: set it in the configuration's "
                f"[context.secrets] section, as HEADWATER__CONTEXT__SECRETS__{self.name}, or "
                "with headwater.context(secrets={...})."
            )
        value = secrets[self.name]
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def __repr__(self) -> str:
        return f"<Secret: {self.name}>"
