"""Secret tasks: a flow's access to local secrets and environment variables.

Contract:
    * :class:`SecretBase`: the base of secret tasks; they never checkpoint their value
      (no ``result=``, ``checkpoint`` is always off), so a secret is never written to a
      result store or the server.
    * :class:`HeadwaterSecret`: returns ``headwater.client.Secret(name).get()``, the local
      secret of that name (Prefect 1's ``PrefectSecret``).
    * :class:`EnvVarSecret`: returns an environment variable, optionally cast.
"""

from __future__ import annotations

from headwater.tasks.secrets.base import HeadwaterSecret, SecretBase
from headwater.tasks.secrets.env_var import EnvVarSecret

__all__ = ["EnvVarSecret", "HeadwaterSecret", "SecretBase"]
