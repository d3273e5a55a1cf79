"""What a stage call knows besides the message: the client, the envelope and the notes
earlier plugins left."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import List, Optional, Union

from .verdict import Annotation

IpAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@dataclass
class TlsInfo:
    """The TLS session, when the client used STARTTLS or implicit TLS."""

    version: str
    """Protocol version, e.g. `"TLSv1.3"`."""
    cipher: str
    """Negotiated cipher suite, e.g. `"TLS13_AES_256_GCM_SHA384"`."""


@dataclass
class ClientInfo:
    """What the gateway knows about the connected client."""

    ip: IpAddress = field(default_factory=lambda: ipaddress.ip_address("0.0.0.0"))
    """The client's IP address (an `ipaddress` object)."""
    port: int = 0
    """The client's TCP source port."""
    reverse_dns: Optional[str] = None
    """The verified reverse DNS name (PTR whose A/AAAA maps back), if any."""
    helo: Optional[str] = None
    """The name the client gave in EHLO/HELO, from the `helo` stage on."""
    tls: Optional[TlsInfo] = None
    """The TLS session, if the connection is encrypted."""
    authenticated_user: Optional[str] = None
    """The SMTP-AUTH identity, if the client authenticated (submission listeners)."""


@dataclass
class Envelope:
    """The SMTP envelope as far as it is known at the current stage."""

    mail_from: Optional[str] = None
    """The reverse path without angle brackets; None before MAIL FROM, `""` for the
    null sender (bounces)."""
    rcpt_to: List[str] = field(default_factory=list)
    """The recipients accepted so far."""


@dataclass
class Session:
    """Everything a stage call gets besides the message. The host fills in what is known
    at the stage. Every field has a default, so unit tests can build one."""

    id: str = ""
    """This SMTP session's id; put it in log lines to correlate them with the gateway's."""
    client: ClientInfo = field(default_factory=ClientInfo)
    """The connected client."""
    envelope: Envelope = field(default_factory=Envelope)
    """The envelope as far as it is known at this stage."""
    annotations: List[Annotation] = field(default_factory=list)
    """Notes left by the plugins that ran earlier for this message, in order."""

    def annotation(self, key: str) -> Optional[str]:
        """The value of the first annotation with this key, if an earlier plugin left one
        (the OCR plugin leaves the text it found in images under `ocr-text`)."""
        for annotation in self.annotations:
            if annotation.key == key:
                return annotation.value
        return None

    @classmethod
    def _from_wit(cls, session) -> "Session":
        client = session.client
        try:
            ip = ipaddress.ip_address(client.ip)
        except ValueError:
            # The host always sends a valid address; this only guards against a host bug.
            ip = ipaddress.ip_address("0.0.0.0")
        return cls(
            id=session.id,
            client=ClientInfo(
                ip=ip,
                port=client.port,
                reverse_dns=client.reverse_dns,
                helo=client.helo,
                tls=None
                if client.tls is None
                else TlsInfo(version=client.tls.version, cipher=client.tls.cipher),
                authenticated_user=client.authenticated_user,
            ),
            envelope=Envelope(
                mail_from=session.envelope.mail_from,
                rcpt_to=list(session.envelope.rcpt_to),
            ),
            annotations=[Annotation(a.key, a.value) for a in session.annotations],
        )
