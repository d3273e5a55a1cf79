"""DNS lookups through the gateway's resolver (needs the `dns` capability). A failed
lookup raises `DnsError`; `error.kind` says why (`NOT_FOUND` means "not listed" for a
block list; `TIMEOUT` and `SERVER_FAILURE` mean "unknown", not "clean")."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from typing import List, Sequence, Union

from . import _wit


class RecordKind(enum.Enum):
    """The kind of record asked for."""

    A = "a"
    AAAA = "aaaa"
    TXT = "txt"
    MX = "mx"
    PTR = "ptr"


class DnsErrorKind(enum.Enum):
    """Why a lookup gave no answer."""

    NOT_FOUND = "not-found"
    TIMEOUT = "timeout"
    SERVER_FAILURE = "server-failure"
    INVALID_NAME = "invalid-name"
    DENIED = "denied"


class DnsError(Exception):
    """A lookup gave no answer; `kind` is a `DnsErrorKind`."""

    def __init__(self, kind: DnsErrorKind) -> None:
        super().__init__(f"dns: {kind.value}")
        self.kind = kind


@dataclass
class Question:
    """One question: a name (for PTR, an IP address) and a record kind."""

    name: str
    kind: RecordKind

    def _to_wit(self):
        module = _wit.imports("dns")
        return module.Question(name=self.name, kind=module.RecordKind[self.kind.name])


def lookup(question: Question) -> List[str]:
    """The answers to one question, as text (dotted quads, `"10 mx.example.org."`, ...)."""
    module = _wit.imports("dns")
    try:
        return list(module.lookup(question._to_wit()))
    except Exception as error:  # the generated `Err`
        value = _wit.error_value(error)
        if value is None:
            raise
        raise DnsError(DnsErrorKind[value.name]) from None


def lookup_all(questions: Sequence[Question]) -> List[Union[List[str], DnsError]]:
    """Many questions at once (the host runs them concurrently): per question, in
    order, its answers or the `DnsError` (returned, not raised)."""
    results = _wit.imports("dns").lookup_all([q._to_wit() for q in questions])
    answers: List[Union[List[str], DnsError]] = []
    for result in results:
        value = result.value
        if isinstance(value, list):
            answers.append(list(value))
        else:
            answers.append(DnsError(DnsErrorKind[value.name]))
    return answers


def lookup_a(name: str) -> List[ipaddress.IPv4Address]:
    """The IPv4 addresses of `name`."""
    return [ipaddress.IPv4Address(a) for a in lookup(Question(name, RecordKind.A))]


def lookup_aaaa(name: str) -> List[ipaddress.IPv6Address]:
    """The IPv6 addresses of `name`."""
    return [ipaddress.IPv6Address(a) for a in lookup(Question(name, RecordKind.AAAA))]


def lookup_txt(name: str) -> List[str]:
    """The TXT records of `name`, each record's strings joined."""
    return lookup(Question(name, RecordKind.TXT))


def lookup_ptr(ip: str) -> List[str]:
    """The reverse names of the address `ip`."""
    return lookup(Question(str(ip), RecordKind.PTR))
