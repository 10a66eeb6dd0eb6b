"""``headwater.config``: layered configuration as a nested attribute dict.

Contract:
    :func:`load_configuration` builds a :class:`Config` from, in increasing precedence:

    1. the packaged defaults (``headwater/config.toml``);
    2. ``$HEADWATER_HOME/config.toml`` (``HEADWATER_HOME`` defaults to ``~/.headwater``),
       or the file named by ``HEADWATER_USER_CONFIG_PATH``;
    3. environment variables ``HEADWATER__SECTION__KEY=value``: double underscores nest,
       keys are lower-cased, values become booleans (``true``/``false``), integers,
       floats, JSON lists/objects, or else stay strings. ``HEADWATER_API_URL`` and
       ``HEADWATER_API_KEY`` are shorthands for ``server.api_url``/``server.api_key``.

    String values may refer to other keys as ``${section.key}``; ``home_dir`` is set from
    ``HEADWATER_HOME`` unless configured. The module-level :data:`config` is loaded once at
    import; :func:`reload_configuration` refreshes it in place (objects holding a
    reference see the new values), and :func:`set_temporary_config` overrides keys for a
    ``with`` block (meant for tests).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from headwater.utilities.collections import DotDict, as_nested_dict, merge_dicts

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
    """Parse an environment-variable string into a bool, int, float, list/dict or string.

    Args:
        value: the raw text.

    Returns:
        ``True``/``False`` for ``true``/``false`` (any case), an int or float when the
        text is a number, a list or dict when it is a JSON array or object, else the text.
    """
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        pass
    stripped = value.strip()
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
        parts = [p.lower() for p in name[len(marker) :].split("__") if p]
        if not parts:
            continue
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


def load_configuration(
    path: str | os.PathLike[str] | None = None,
    user_config_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build a fresh configuration from defaults, the user file and the environment.

    Args:
        path: the defaults file (default: the packaged ``config.toml``).
        user_config_path: the user file (default: ``HEADWATER_USER_CONFIG_PATH`` or
            ``$HEADWATER_HOME/config.toml``); a missing file is skipped.
        env: the environment to read (default: ``os.environ``).

    Returns:
        A new :class:`Config`; the global :data:`config` is not changed.

    Raises:
        ValueError: when a file is not valid TOML or a ``${...}`` reference is unknown.
    """
    environ = os.environ if env is None else env
    tree = _read_toml(Path(path) if path is not None else DEFAULT_CONFIG_PATH)
    if user_config_path is None:
        user_config_path = environ.get(f"{ENV_PREFIX}_USER_CONFIG_PATH") or os.path.join(
            os.path.abspath(
                os.path.expanduser(environ.get(f"{ENV_PREFIX}_HOME") or "~/.headwater")
            ),
            "config.toml",
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
    return config


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


config: Config = load_configuration()
"""The global configuration, loaded at import."""
