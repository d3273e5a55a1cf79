"""The class a plugin derives from, and what it says about itself."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, List, Optional

from . import _wit
from .message import Message
from .outcome import Decision, Label, LearnOutcome
from .session import Session
from .verdict import Verdict

SDK_VERSION = "0.1.0"
"""The version of this SDK."""

SDK_NAME = f"python-{SDK_VERSION}"
"""What the plugin reports to the host as the library it was built with (`sdk-version`),
so the operator sees it in `moat plugin list`."""


class Stage(enum.Enum):
    """The point of the SMTP conversation at which a plugin is called. The value is the
    name used in the operator's files (`stages = ["data"]`)."""

    CONNECT = "connect"
    """A client connected (`Plugin.on_connect`)."""
    HELO = "helo"
    """The client sent EHLO or HELO (`Plugin.on_helo`)."""
    MAIL_FROM = "mail_from"
    """The client sent MAIL FROM (`Plugin.on_mail_from`)."""
    RCPT_TO = "rcpt_to"
    """The client sent RCPT TO (`Plugin.on_rcpt_to`)."""
    DATA = "data"
    """The whole message was received (`Plugin.on_data`)."""
    OUTCOME = "outcome"
    """The decision was taken (`Plugin.on_outcome`)."""

    @classmethod
    def from_name(cls, name: str) -> "Stage":
        """The stage named as in the operator's files (`"mail_from"`); `ValueError` if
        there is none."""
        return cls(name)

    def _to_wit(self):
        return _wit.imports("types").Stage[self.name]


@dataclass
class PluginInfo:
    """What a plugin says about itself in `Plugin.describe`::

        PluginInfo("dnsbl", "1.0.0", [Stage.CONNECT], default_weight=2.0)
    """

    name: str
    """Lower-case letters, digits and `-`, e.g. `"dnsbl"`; unique per gateway."""
    version: str
    """The plugin's own version, e.g. `"1.2.0"`."""
    stages: List[Stage] = field(default_factory=lambda: [Stage.DATA])
    """The stages to be called at. The operator may narrow them, never widen them."""
    default_weight: float = 1.0
    """The weight of the plugin's symbols when the operator configures none."""

    def __post_init__(self) -> None:
        self.stages = list(self.stages)

    def _to_wit(self):
        return _wit.imports("types").PluginInfo(
            name=self.name,
            version=self.version,
            sdk_version=SDK_NAME,
            stages=[stage._to_wit() for stage in self.stages],
            default_weight=float(self.default_weight),
        )


class LearnError(Exception):
    """Raised by `Plugin.learn` when a message cannot be learnt; the host reports the
    message text."""


class Plugin:
    """A Moat filter plugin. Derive from it, implement `describe` and the `on_*` methods
    of the stages it lists, and export the class with `export_plugin`::

        class NoHelo(Plugin):
            def describe(self):
                return PluginInfo("no-helo", "1.0.0", [Stage.HELO])

            def on_helo(self, session):
                if not session.client.helo:
                    return Verdict().symbol("EMPTY_HELO", 2.0, "no HELO name")
                return Verdict()

        Filter = export_plugin(NoHelo)

    **Every call runs in a fresh sandbox**: a new instance of the class, fresh module
    globals as they were when the component was built. Nothing survives from one call to
    the next; keep state that must persist in `moat_sdk.kv`.

    An exception escaping a method (or running out of the time or memory budget) fails
    the call; the host then skips the plugin for that message or answers with a
    temporary failure, as the operator chose with `on_error`.
    """

    def describe(self) -> PluginInfo:
        """Name, version, stages and default weight; asked once, when the plugin loads."""
        raise NotImplementedError("a plugin must implement describe()")

    def on_connect(self, session: Session) -> Verdict:
        """A client connected; `session.client` has the IP, port and reverse DNS."""
        return Verdict()

    def on_helo(self, session: Session) -> Verdict:
        """The client sent EHLO/HELO; `session.client.helo` is set."""
        return Verdict()

    def on_mail_from(self, session: Session) -> Verdict:
        """The client sent MAIL FROM; `session.envelope.mail_from` is set."""
        return Verdict()

    def on_rcpt_to(self, session: Session, recipient: str) -> Verdict:
        """The client sent RCPT TO with `recipient` (not yet in
        `session.envelope.rcpt_to`). A rejecting verdict refuses only this recipient."""
        return Verdict()

    def on_data(self, session: Session, message: Message) -> Verdict:
        """The whole message arrived. Most content filters only implement this."""
        return Verdict()

    def on_outcome(
        self, session: Session, decision: Decision, message: Optional[Message]
    ) -> None:
        """The gateway decided on the message; learn from the decision here. `message`
        is present when the decision was taken at DATA."""

    def learn(self, message: Message, label: Label, forget: bool) -> LearnOutcome:
        """Train on a message the operator classified (`moat learn`), or forget it when
        `forget` is true. Raise `LearnError` when it cannot be learnt. The default
        answers `LearnOutcome.UNSUPPORTED`: the plugin does not learn."""
        return LearnOutcome.UNSUPPORTED
