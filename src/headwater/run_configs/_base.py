"""Run configurations: how an agent runs a flow's runs.

Contract:
    A run config carries ``labels`` (agents must serve all of them) and ``env``
    (variables set in the flow-run process); ``LocalRun`` adds ``working_dir`` (the
    process's working directory). ``to_ref()`` (alias ``serialize()``) gives the JSON
    form the server stores, ``{"type", "labels", "env", ...}``, and
    :func:`run_config_from_ref` rebuilds the object; an unknown ``type`` is a ValueError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LocalRun", "RunConfig", "UniversalRun", "run_config_from_ref"]


def _check_env(env: Mapping[str, Any] | None, owner: str) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise TypeError(f"{owner}: env must be a mapping of names to strings")
    out: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"{owner}: env names must be non-empty strings, got {key!r}")
        out[key] = "" if value is None else str(value)
    return out


def _check_labels(labels: Iterable[str] | None, owner: str) -> list[str]:
    if labels is None:
        return []
    if isinstance(labels, str):
        raise TypeError(f"{owner}: labels must be a list of strings, not the string {labels!r}")
    out = []
    for label in labels:
        if not isinstance(label, str) or not label:
            raise TypeError(f"{owner}: every label must be a non-empty string, got {label!r}")
        if label not in out:
            out.append(label)
    return out


class RunConfig:
    """Base class of run configurations.

    Args:
        env: environment variables for the flow-run process.
        labels: labels an agent must have to run the flow.
    """

    def __init__(
        self, env: Mapping[str, Any] | None = None, labels: Iterable[str] | None = None
    ) -> None:
        name = type(self).__name__
        self.env = _check_env(env, name)
        self.labels = _check_labels(labels, name)

    def to_ref(self) -> dict[str, Any]:
        """The JSON form stored by the server."""
        return {"type": type(self).__name__, "labels": list(self.labels), "env": dict(self.env)}

    def serialize(self) -> dict[str, Any]:
        """Same as :meth:`to_ref` (Prefect 1's name)."""
        return self.to_ref()

    @classmethod
    def from_ref(cls, ref: Mapping[str, Any]) -> RunConfig:
        """Rebuild from :meth:`to_ref`'s output."""
        return cls(env=ref.get("env"), labels=ref.get("labels"))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_ref() == other.to_ref()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_ref().items() if k != "type")
        return f"{type(self).__name__}({fields})"


class UniversalRun(RunConfig):
    """Runs on any agent that has the labels; only ``env`` and ``labels``.

    Args:
        env: environment variables for the flow-run process.
        labels: labels an agent must have to run the flow.
    """


class LocalRun(RunConfig):
    """Run as a local subprocess by a local agent.

    Args:
        env: environment variables for the flow-run process.
        working_dir: the process's working directory (must exist on the agent's machine).
        labels: labels an agent must have to run the flow.
    """

    def __init__(
        self,
        env: Mapping[str, Any] | None = None,
        working_dir: str | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        super().__init__(env=env, labels=labels)
        if working_dir is not None and (not isinstance(working_dir, str) or not working_dir):
            raise TypeError("LocalRun: working_dir must be a non-empty string path")
        self.working_dir = working_dir

    def to_ref(self) -> dict[str, Any]:
        """The JSON form stored by the server, with ``working_dir``."""
        ref = super().to_ref()
        ref["working_dir"] = self.working_dir
        return ref

    @classmethod
    def from_ref(cls, ref: Mapping[str, Any]) -> LocalRun:
        """Rebuild from :meth:`to_ref`'s output."""
        return cls(env=ref.get("env"), working_dir=ref.get("working_dir"), labels=ref.get("labels"))


_TYPES: dict[str, type[RunConfig]] = {"LocalRun": LocalRun, "UniversalRun": UniversalRun}


def run_config_from_ref(ref: Mapping[str, Any] | None) -> RunConfig | None:
    """The run config described by ``ref`` (None stays None).

    Raises:
        ValueError: ``ref`` names an unknown run-config type.
        TypeError: ``ref`` is not a mapping or holds badly typed fields.
    """
    if ref is None:
        return None
    if not isinstance(ref, Mapping):
        raise TypeError(f"A run-config reference must be a mapping, got {type(ref).__name__}")
    kind = ref.get("type")
    cls = _TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"Unknown run config type {kind!r} (known: {', '.join(sorted(_TYPES))})")
    return cls.from_ref(ref)
