"""The plugin's persistent key-value store (needs the `kv` capability). Every function
raises `KvError` when the host refuses; `error.kind` says why. Counters are 8-byte
little-endian signed integers."""

from __future__ import annotations

import enum
from typing import List, Optional, Sequence, Tuple

from . import _wit


class KvErrorKind(enum.Enum):
    """Why a kv call failed."""

    QUOTA_EXCEEDED = "quota-exceeded"
    NOT_A_COUNTER = "not-a-counter"
    STORAGE = "storage"
    DENIED = "denied"
    """The operator did not grant this plugin the `kv` capability."""


class KvError(Exception):
    """A kv call failed; `kind` is a `KvErrorKind`."""

    def __init__(self, kind: KvErrorKind) -> None:
        super().__init__(f"kv: {kind.value}")
        self.kind = kind


def _call(name: str, *args):
    module = _wit.imports("kv")
    try:
        return getattr(module, name)(*args)
    except Exception as error:  # the generated `Err`
        value = _wit.error_value(error)
        if value is None:
            raise
        raise KvError(KvErrorKind[value.name]) from None


def get(key: str) -> Optional[bytes]:
    """The value under `key`, or None."""
    return _call("get", key)


def set(key: str, value: bytes) -> None:  # noqa: A001 - mirrors the WIT name
    """Stores `value` under `key`."""
    _call("set", key, bytes(value))


def delete(key: str) -> None:
    """Removes `key`; removing a missing key is not an error."""
    _call("delete", key)


def compare_and_swap(key: str, expected: Optional[bytes], value: Optional[bytes]) -> bool:
    """Stores `value` (None: removes the key) only if the key holds `expected` right now
    (None: absent); whether it did."""
    return _call("compare_and_swap", key, expected, value)


def expire(key: str, seconds: int) -> bool:
    """Removes `key` once `seconds` have passed, unless called again for it (0 cancels the
    expiry). Writes keep the expiry; `delete` ends it. Whether the key exists. The key
    goes at its deadline or within about a minute after it."""
    return _call("expire", key, seconds)


def increment(key: str, delta: int) -> int:
    """Adds `delta` to the counter under `key` (missing counts as 0); the new value."""
    return _call("increment", key, delta)


def decode_counter(value: Optional[bytes]) -> Optional[int]:
    """A stored counter's value (8-byte little-endian signed), None for None."""
    if value is None:
        return None
    if len(value) != 8:
        raise KvError(KvErrorKind.NOT_A_COUNTER)
    return int.from_bytes(value, "little", signed=True)


def get_int(key: str) -> Optional[int]:
    """The counter under `key`, or None when missing."""
    return decode_counter(get(key))


def get_many(keys: Sequence[str]) -> List[Optional[bytes]]:
    """The values under each of `keys`, in order (None for a missing key)."""
    return _call("get_many", list(keys))


def increment_many(deltas: Sequence[Tuple[str, int]]) -> List[int]:
    """Adds each delta to its counter in one atomic write; the new values in order."""
    return _call("increment_many", list(deltas))


def counters_get(ids: Sequence[int]) -> List[int]:
    """The id counters under `ids` (64-bit ids), in order; 0 for an id never added."""
    return _call("counters_get", list(ids))


def counters_add(deltas: Sequence[Tuple[int, int]], keyed: Sequence[Tuple[str, int]] = ()) -> None:
    """Adds each delta to its id counter and each of `keyed` to its string-keyed
    counter, all in one atomic write."""
    _call("counters_add", list(deltas), list(keyed))


def scan_prefix(prefix: str, start_after: Optional[str] = None, limit: int = 1000) -> List[Tuple[str, bytes]]:
    """Up to `limit` entries whose keys start with `prefix`, in key order, after
    `start_after`. The host returns at most 1000 entries and 1 MiB per call: page on with
    the last key until a page comes back empty."""
    return _call("scan_prefix", prefix, start_after, limit)
