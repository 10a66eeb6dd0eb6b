"""``headwater.config``: layered configuration as a nested attribute dict.

Contract:
    :func:`load_configuration` builds a :class:`Config` from, in increasing precedence:

    1. the packaged defaults (``headwater/config.toml``);
    2. ``$HEADWATER_HOME/config.toml`` (``HEADWATER_HOME`` defaults to ``~/.headwater``),
       or the file named by ``HEADWATER__USER_CONFIG_PATH`` (Prefect 1's
       ``PREFECT__USER_CONFIG_PATH``) or ``HEADWATER_USER_CONFIG_PATH``;
    3. environment variables ``HEADWATER__SECTION__KEY=value``: double underscores nest,
       keys are lower-cased, except the secret names under ``context.secrets``, which keep
       their case (``HEADWATER__CONTEXT__SECRETS__DB_PASSWORD`` is the secret
       ``DB_PASSWORD``). Values are parsed as Prefect 1 did (:func:`string_to_type`):
       ``true``/``false`` in any case become booleans, Python literals (numbers, lists,
       dicts, tuples, quoted strings, ``None``) are evaluated, JSON lists/objects are
       accepted too, and anything else stays a string. ``HEADWATER_API_URL`` and
       ``HEADWATER_API_KEY`` are shorthands for ``server.api_url``/``server.api_key``.

    The run context (:data:`headwater.context`) starts every thread from the ``context``
    section, as Prefect 1's did: ``headwater.context.secrets`` holds the local secrets.

    String values may refer to other keys as ``${section.key}``; ``home_dir`` is set from
    ``HEADWATER_HOME`` unless configured. The module-level :data:`config` is loaded once at
    import; :func:`reload_configuration` refreshes it in place (objects holding a
    reference see the new values), and :func:`set_temporary_config` overrides keys for a
    ``with`` block (meant for tests).

    :func:`configured_class` picks an implementation by the dotted name configured at
    ``<key>.default_class`` (the runners, the executor, the default storage), so a layer
    can name a class of a layer above it without importing it.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from headwater.utilities.collections import DotDict, as_nested_dict, merge_dicts
from headwater.utilities.context import _set_defaults

__all__ = [
    "Config",
    "config",
    "load_configuration",
    "reload_configuration",
    "set_temporary_config",
    "string_to_type",
]

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.toml"
ENV_PREFIX = "HEADWATER"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


class Config(DotDict):
    """Headwater's configuration: a nested dict with attribute access."""


def string_to_type(value: str) -> Any:
    """Parse an environment-variable string the way Prefect 1 did.

    Args:
        value: the raw text.

    Returns:
        ``True``/``False`` for ``true``/``false`` (any case); the value of a Python
        literal (``12``, ``1.5``, ``['a', 'b']``, ``{'k': 1}``, ``(1, 2)``, ``'text'``,
        ``None``); a list or dict for a JSON array or object (JSON's ``true``, ``false``
        and ``null`` are not Python literals); else the text unchanged.
    """
    stripped = value.strip()
    lowered = stripped.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if not stripped:
        return value
    try:
        return ast.literal_eval(stripped)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid configuration file {str(path)!r}: {exc}") from None


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    marker = f"{ENV_PREFIX}__"
    for name, raw in env.items():
        if not name.upper().startswith(marker):
            continue
        parts = [p for p in name[len(marker) :].split("__") if p]
        if not parts:
            continue
        # Secret names keep their case (Prefect 1 did the same): a secret is looked up by
        # the exact name the user gave it, e.g. Secret("SLACK_WEBHOOK_URL").
        keep = 2 if [p.lower() for p in parts[:2]] == ["context", "secrets"] else len(parts)
        parts = [p.lower() for p in parts[:keep]] + parts[keep:]
        node = overrides
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = string_to_type(raw)
    return overrides


def _lookup(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f"configuration refers to unknown key ${{{dotted}}}")
        node = node[part]
    return node


def _interpolate(tree: dict[str, Any], root: dict[str, Any]) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _interpolate(value, root)
        elif isinstance(value, str) and "${" in value:
            for _ in range(10):  # references may chain; ten levels is plenty
                new = _INTERPOLATION.sub(lambda m: str(_lookup(root, m.group(1))), value)
                if new == value:
                    break
                value = new
            tree[key] = value


def _default_user_config_path(environ: Mapping[str, str]) -> str:
    home = environ.get(f"{ENV_PREFIX}_HOME") or "~/.headwater"
    return os.path.join(os.path.abspath(os.path.expanduser(home)), "config.toml")


def load_configuration(
    path: str | os.PathLike[str] | None = None,
    user_config_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build a fresh configuration from defaults, the user file and the environment.

    Args:
        path: the defaults file (default: the packaged ``config.toml``).
        user_config_path: the user file (default: ``HEADWATER__USER_CONFIG_PATH``, else
            ``HEADWATER_USER_CONFIG_PATH``, else ``$HEADWATER_HOME/config.toml``); a
            missing file is skipped.
        env: the environment to read (default: ``os.environ``).

    Returns:
        A new :class:`Config`; the global :data:`config` is not changed.

    Raises:
        ValueError: when a file is not valid TOML or a ``${...}`` reference is unknown.
    """
    environ = os.environ if env is None else env
    tree = _read_toml(Path(path) if path is not None else DEFAULT_CONFIG_PATH)
    if user_config_path is None:
        user_config_path = (
            environ.get(f"{ENV_PREFIX}__USER_CONFIG_PATH")
            or environ.get(f"{ENV_PREFIX}_USER_CONFIG_PATH")
            or _default_user_config_path(environ)
        )
    tree = merge_dicts(tree, _read_toml(Path(os.path.expanduser(os.fspath(user_config_path)))))
    shorthands: dict[str, Any] = {}
    if environ.get(f"{ENV_PREFIX}_API_URL"):
        shorthands["api_url"] = environ[f"{ENV_PREFIX}_API_URL"]
    if environ.get(f"{ENV_PREFIX}_API_KEY") is not None:
        shorthands["api_key"] = environ[f"{ENV_PREFIX}_API_KEY"]
    if shorthands:
        tree = merge_dicts(tree, {"server": shorthands})
    tree = merge_dicts(tree, _env_overrides(environ))
    if not tree.get("home_dir"):
        home = environ.get(f"{ENV_PREFIX}_HOME") or "~/.headwater"
        tree["home_dir"] = os.path.abspath(os.path.expanduser(home))
    _interpolate(tree, tree)
    return Config(tree)


def reload_configuration(**kwargs: Any) -> Config:
    """Reload :data:`config` in place from the files and environment.

    Args:
        **kwargs: passed to :func:`load_configuration`.

    Returns:
        The (same) global :data:`config` object.
    """
    fresh = load_configuration(**kwargs)
    dict.clear(config)
    config.update(fresh)
    _install_context_defaults(config)
    return config


def _install_context_defaults(cfg: Mapping[str, Any]) -> None:
    # Prefect 1 started its context from the configuration's [context] section; local
    # secrets (context.secrets) reach tasks and Secret.get() this way.
    section = cfg.get("context")
    _set_defaults(as_nested_dict(section) if isinstance(section, Mapping) else {})


@contextmanager
def set_temporary_config(temp_config: Mapping[str, Any]) -> Iterator[Config]:
    """Override configuration keys for the duration of a ``with`` block.

    Args:
        temp_config: dotted keys and values, e.g. ``{"flows.checkpointing": True}``.

    Yields:
        The global :data:`config`, restored on exit.
    """
    saved = as_nested_dict(config)
    try:
        for dotted, value in temp_config.items():
            node: DotDict = config
            parts = dotted.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), DotDict):
                    node[part] = DotDict()
                node = node[part]
            node[parts[-1]] = value
        yield config
    finally:
        dict.clear(config)
        config.update(saved)


def configured_class(key: str, default: type | str) -> type:
    """The class named by configuration ``<key>.default_class``, else ``default``.

    Args:
        key: the dotted configuration section, e.g. ``"engine.flow_runner"``.
        default: the class (or its dotted name) used when the key is unset.

    Raises:
        ValueError: when the configured (or default) name cannot be imported or is not
            a class.
    """
    node: Any = config
    for part in (*key.split("."), "default_class"):
        node = node.get(part) if isinstance(node, dict) else None
    if not node or not isinstance(node, str):
        node = default
    if isinstance(node, type):
        return node
    if isinstance(default, type) and node == f"{default.__module__}.{default.__qualname__}":
        return default
    module_name, _, name = node.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"configuration {key}.default_class = {node!r} cannot be loaded: {exc}"
        ) from None
    if not isinstance(found, type):
        raise ValueError(f"configuration {key}.default_class = {node!r} is not a class")
    return found


config: Config = load_configuration()
"""The global configuration, loaded at import."""
_install_context_defaults(config)
