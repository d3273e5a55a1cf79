"""Each symbol's default score, overridable by the operator in the config table
`scores` (`[config.scores] SYMBOL = 1.5`), as the bundled plugins do::

    SCORES = {"MONEY_SUBJECT": 3.0, "MONEY_BODY": 1.0}
    scores = Scores.configured(SCORES)
    scores.score("MONEY_SUBJECT")
"""

from __future__ import annotations

from typing import Dict, List, Mapping

from . import config, log


class Scores:
    """The score of each symbol: its default unless the operator overrides it."""

    def __init__(self, defaults: Mapping[str, float], overrides: Mapping[str, float]) -> None:
        self.defaults: Dict[str, float] = dict(defaults)
        self.overrides: Dict[str, float] = dict(overrides)

    @classmethod
    def configured(cls, defaults: Mapping[str, float]) -> "Scores":
        """The defaults with the overrides of the config table `scores`; a bad table or a
        name not among the defaults is logged and ignored."""
        try:
            table = config.get("scores", {})
        except config.ConfigError as error:
            log.warn(f"ignoring the configured scores: {error}")
            table = {}
        overrides = {}
        if isinstance(table, dict):
            for name, value in table.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    overrides[name] = float(value)
                else:
                    log.warn(f"config `scores`: {name} is not a number")
        else:
            log.warn("ignoring the configured scores: not a table")
        scores = cls(defaults, overrides)
        for unknown in scores.unknown_symbols():
            log.warn(f"config `scores` names an unknown symbol: {unknown}")
        return scores

    def score(self, symbol: str) -> float:
        """The override, else the default, else 0."""
        return self.overrides.get(symbol, self.defaults.get(symbol, 0.0))

    def unknown_symbols(self) -> List[str]:
        """Overridden names that are not among the defaults."""
        return [name for name in self.overrides if name not in self.defaults]
