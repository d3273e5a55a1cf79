"""What a plugin answers for a stage call: named, scored findings, an optional action it
demands, and notes for the plugins after it."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from typing import Iterable, List, Optional

from . import _wit


class Action(enum.Enum):
    """What happens to a message (or, before DATA, to the SMTP command being answered)."""

    ACCEPT = "accept"
    """Deliver as is."""
    TAG = "tag"
    """Deliver with X-Spam headers and the score report added."""
    QUARANTINE = "quarantine"
    """Keep in quarantine for the operator to release or delete; the client gets 250."""
    REJECT = "reject"
    """Refuse with 550 (before DATA: 554/550 to the command)."""
    TEMPFAIL = "tempfail"
    """Refuse temporarily with 451/450; the client will retry."""

    def _to_wit(self):
        return _wit.imports("types").Action[self.name]

    @classmethod
    def _from_wit(cls, action) -> "Action":
        return cls[action.name]


_SYMBOL_NAME = re.compile(r"[A-Z0-9_]{1,64}")


@dataclass
class Annotation:
    """A key -> text note for the plugins that run after this one for the same message
    (and the operator's report). The key is lower-case kebab case, at most 64 bytes; the
    value at most 256 KiB."""

    key: str
    value: str

    def _to_wit(self):
        return _wit.imports("types").Annotation(key=self.key, value=self.value)


@dataclass
class Symbol:
    """One named finding, as rspamd names them.

    The operator weighs each symbol: its contribution to the message's score is
    `weight * score`. **The host rejects the whole verdict** (the call fails) if a symbol
    breaks these rules: `name` is 1 to 64 characters from `A-Z`, `0-9` and `_`; `score`
    is finite; `detail` is at most 1 KiB (UTF-8).
    """

    name: str
    score: float
    detail: str = ""

    MAX_NAME_LEN = 64
    """The longest symbol name the host accepts."""
    MAX_DETAIL_LEN = 1024
    """The longest detail the host accepts, in bytes of UTF-8."""

    @staticmethod
    def is_valid_name(name: str) -> bool:
        """Whether the host accepts `name`: 1 to 64 characters from `A-Z`, `0-9`, `_`."""
        return _SYMBOL_NAME.fullmatch(name) is not None

    def is_valid(self) -> bool:
        """Whether the host will accept this symbol: a valid name, a finite score and a
        detail of at most 1 KiB."""
        return (
            Symbol.is_valid_name(self.name)
            and isinstance(self.score, (int, float))
            and math.isfinite(self.score)
            and len(self.detail.encode("utf-8")) <= Symbol.MAX_DETAIL_LEN
        )

    def _to_wit(self):
        return _wit.imports("types").Symbol(
            name=self.name, score=float(self.score), detail=self.detail
        )


@dataclass
class Verdict:
    """A plugin's answer for one stage call, built with chained calls::

        Verdict().symbol("GTUBE", 100.0, "body contains the GTUBE test string") \\
                 .action(Action.REJECT) \\
                 .annotate("gtube", "yes")

    An empty `Verdict()` says nothing. A symbol name may appear more than once (one
    finding per matched phrase, say); at most 100 symbols.
    """

    symbols: List[Symbol] = field(default_factory=list)
    demanded: Optional[Action] = None
    annotations: List[Annotation] = field(default_factory=list)

    def symbol(self, name: str, score: float, detail: str = "") -> "Verdict":
        """Adds a finding `name` with the plugin's `score` for it and a short `detail`."""
        self.symbols.append(Symbol(name, score, detail))
        return self

    def add(self, symbols: Iterable[Symbol]) -> "Verdict":
        """Adds these findings."""
        self.symbols.extend(symbols)
        return self

    def action(self, action: Action) -> "Verdict":
        """Demands `action` regardless of the score (honoured only where the operator set
        `allow_hard_action` for this plugin). A later call replaces an earlier one."""
        self.demanded = action
        return self

    def annotate(self, key: str, value: str) -> "Verdict":
        """Leaves a note under `key` for the plugins that run after this one, readable
        there with `Session.annotation(key)`."""
        self.annotations.append(Annotation(key, value))
        return self

    def is_empty(self) -> bool:
        """Whether the verdict says nothing: no symbols, no action, no annotations."""
        return not self.symbols and self.demanded is None and not self.annotations

    @classmethod
    def of(cls, symbols: Iterable[Symbol]) -> "Verdict":
        """A verdict holding these findings and nothing else."""
        return cls(symbols=list(symbols))

    def _to_wit(self):
        return _wit.imports("types").Verdict(
            symbols=[s._to_wit() for s in self.symbols],
            action=None if self.demanded is None else self.demanded._to_wit(),
            annotations=[a._to_wit() for a in self.annotations],
        )
