"""The plugin's own settings: the `[config]` table of the TOML file beside the plugin's
`.wasm` (or `[plugin.NAME.config]` in moat.toml), decoded from JSON. Always available::

    threshold = config.get("threshold", 5)
    phrases = config.get("phrases", {})      # a TOML table becomes a dict
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from . import _wit


class ConfigError(ValueError):
    """The host's answer was not JSON of the expected shape."""


def parse_value(key: str, text: Optional[str], default: Any = None) -> Any:
    """`text` (the host's JSON for `key`, or None when unset) decoded; `default` when
    unset. Separate from `get` so it can be unit-tested natively."""
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConfigError(f"config key `{key}`: {error}") from None


def get(key: str, default: Any = None) -> Any:
    """The value under `key` (a top-level key of the config table) decoded from JSON (a
    number, string, list or dict), or `default` when the operator did not set it."""
    return parse_value(key, _wit.imports("config").get(key), default)


def get_typed(key: str, kind: type, default: Any = None) -> Any:
    """Like `get`, but a value that is not an instance of `kind` (e.g. a string where a
    number was expected) raises `ConfigError`. `int` values are accepted for `float`."""
    value = get(key, None)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(
            f"config key `{key}`: expected {kind.__name__}, found {type(value).__name__}"
        )
    return value


def all() -> Dict[str, Any]:  # noqa: A001 - mirrors the WIT name
    """The whole config table as a dict (`{}` when the operator set nothing)."""
    table = parse_value("", _wit.imports("config").all(), {})
    if not isinstance(table, dict):
        raise ConfigError("config table: not a table")
    return table
