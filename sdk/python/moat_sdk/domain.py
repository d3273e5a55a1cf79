"""Domain names as the Public Suffix List sees them, from the gateway's copy of the list."""

from typing import Optional

from . import _wit


def registrable(host: str) -> Optional[str]:
    """The registrable domain of `host` (the public suffix and one label more), lower-cased:
    `mail.example.co.uk` -> `example.co.uk`; None for an IP address, an empty name or a
    public suffix itself (`co.uk`)."""
    return _wit.imports("domain").registrable(host)
