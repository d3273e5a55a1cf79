"""The message under inspection at the data stage: a handle to the host's parsed copy.
Each method copies that part across the sandbox boundary, so fetch what you need once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional


@dataclass
class Header:
    """A header field: the name as written, the value unfolded and decoded."""

    name: str
    value: str


@dataclass
class Address:
    """One address of an address field, as the gateway parsed it."""

    name: Optional[str]
    """The decoded display name, if any (for a bare address, the comment after it)."""
    address: str
    """The address as written."""
    local_part: str
    """What comes before its last `@`."""
    domain: str
    """What comes after its last `@`, lower-cased; empty if it has none."""
    group: Optional[str]
    """The group it is listed in, if any."""


@dataclass
class Attachment:
    """A MIME part that is not body text: an attachment or an inline image."""

    index: int
    """Index to pass to `Message.attachment_bytes`."""
    name: Optional[str]
    """The file name from Content-Disposition or Content-Type, if any."""
    content_type: str
    """The media type, lower-case, e.g. `"image/png"`."""
    size: int
    """The decoded size in bytes."""
    content_id: Optional[str]
    """The Content-ID without angle brackets, for parts referenced from HTML (`cid:`)."""


class Message:
    """A received message; valid only during the call it is passed to."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def headers(self) -> List[Header]:
        """Every header field, in message order."""
        return [Header(h.name, h.value) for h in self._handle.headers()]

    def header(self, name: str) -> Optional[str]:
        """The first header field with this name (case-insensitive), decoded."""
        return self._handle.header(name)

    def header_all(self, name: str) -> List[str]:
        """Every header field with this name (case-insensitive), in order."""
        return list(self._handle.header_all(name))

    def addresses(self, name: str) -> List[Address]:
        """The addresses of every field with this name (From, To, Cc, Reply-To, ...), as the
        gateway parsed them; entries without an address are left out."""
        return [
            Address(a.name, a.address, a.local_part, a.domain, a.group)
            for a in self._handle.addresses(name)
        ]

    def subject(self) -> Optional[str]:
        """The Subject header, decoded; None if absent."""
        return self._handle.header("Subject")

    def text_parts(self) -> List[str]:
        """The decoded text/plain parts, in order (converted to UTF-8)."""
        return list(self._handle.text_parts())

    def html_parts(self) -> List[str]:
        """The text/html parts converted to plain text, in order."""
        return list(self._handle.html_parts())

    def html_sources(self) -> List[str]:
        """The text/html parts as HTML source (decoded), in order."""
        return list(self._handle.html_sources())

    def body_text(self) -> str:
        """All body text in one string: the text parts, then the HTML parts as text, each
        separated by a blank line. What a content filter usually wants."""
        return self._handle.body_text()

    def urls(self) -> List[str]:
        """The distinct http(s) URLs in the text and HTML parts, in order of appearance."""
        return list(self._handle.urls())

    def attachments(self) -> List[Attachment]:
        """The non-text parts (attachments and inline images)."""
        return [
            Attachment(a.index, a.name, a.content_type, a.size, a.content_id)
            for a in self._handle.attachments()
        ]

    def attachment_bytes(self, index: int) -> Optional[bytes]:
        """The decoded bytes of an attachment; None if `index` is out of range."""
        return self._handle.attachment_bytes(index)

    def raw(self) -> bytes:
        """The message exactly as received (headers and body, CRLF line ends)."""
        return self._handle.raw()

    def size(self) -> int:
        """The size of the raw message in bytes."""
        return self._handle.size()
