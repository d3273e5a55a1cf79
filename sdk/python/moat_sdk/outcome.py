"""What plugins that learn are told: the gateway's decision on a message (outcome stage)
and the operator's classification of a message (`moat learn`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import List

from . import _wit
from .verdict import Action


@dataclass
class ScoredSymbol:
    """One symbol as it entered the final score."""

    plugin: str
    name: str
    score: float
    weight: float
    contribution: float
    """`weight * score`: what it added to the total."""


@dataclass
class Thresholds:
    """The operator's score thresholds (`tag <= quarantine <= reject`)."""

    tag: float
    quarantine: float
    reject: float

    def action_for(self, score: float) -> Action:
        """The action these thresholds give `score`."""
        if score >= self.reject:
            return Action.REJECT
        if score >= self.quarantine:
            return Action.QUARANTINE
        if score >= self.tag:
            return Action.TAG
        return Action.ACCEPT


@dataclass
class Decision:
    """The combined decision on a message, handed to `Plugin.on_outcome`."""

    action: Action
    score: float
    thresholds: Thresholds
    symbols: List[ScoredSymbol] = field(default_factory=list)

    def score_without(self, plugin: str) -> float:
        """The score without the symbols of `plugin`: what the other plugins said. A
        learning plugin compares `thresholds.action_for(score_without(me))` with the
        action, so it never learns from its own vote alone."""
        return self.score - sum(s.contribution for s in self.symbols if s.plugin == plugin)

    @classmethod
    def _from_wit(cls, decision) -> "Decision":
        t = decision.thresholds
        return cls(
            action=Action._from_wit(decision.action),
            score=decision.score,
            thresholds=Thresholds(t.tag, t.quarantine, t.reject),
            symbols=[
                ScoredSymbol(s.plugin, s.name, s.score, s.weight, s.contribution)
                for s in decision.symbols
            ],
        )


class Label(enum.Enum):
    """The class a message is learnt as."""

    SPAM = "spam"
    HAM = "ham"

    @classmethod
    def _from_wit(cls, label) -> "Label":
        return cls[label.name]


class LearnOutcome(enum.Enum):
    """What a `learn` call did."""

    DONE = "done"
    """Learnt (or, when forgetting, unlearnt)."""
    UNCHANGED = "unchanged"
    """Already learnt with that label (or, when forgetting, never learnt)."""
    UNSUPPORTED = "unsupported"
    """The plugin does not learn."""

    def _to_wit(self):
        return _wit.imports("types").LearnOutcome[self.name]
