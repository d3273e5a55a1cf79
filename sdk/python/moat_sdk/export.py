"""The bridge from componentize-py's generated `filter` export to a `Plugin` class."""

from __future__ import annotations

from typing import Type

from . import _wit
from .message import Message
from .outcome import Decision, Label
from .plugin import LearnError, Plugin
from .session import Session


def export_plugin(plugin: Type[Plugin]) -> type:
    """The class componentize-py exports for Moat's `filter` interface, wrapping
    `plugin`. Bind it to the name `Filter` at the top level of the app module::

        Filter = export_plugin(MyPlugin)

    Each call builds a fresh `plugin()`, converts the arguments to the SDK's types and
    the answer back.
    """
    if not (isinstance(plugin, type) and issubclass(plugin, Plugin)):
        raise TypeError("export_plugin takes a subclass of moat_sdk.Plugin")

    class Filter:
        def describe(self):
            return plugin().describe()._to_wit()

        def on_connect(self, session):
            return plugin().on_connect(Session._from_wit(session))._to_wit()

        def on_helo(self, session):
            return plugin().on_helo(Session._from_wit(session))._to_wit()

        def on_mail_from(self, session):
            return plugin().on_mail_from(Session._from_wit(session))._to_wit()

        def on_rcpt_to(self, session, recipient):
            return plugin().on_rcpt_to(Session._from_wit(session), recipient)._to_wit()

        def on_data(self, session, message):
            return plugin().on_data(Session._from_wit(session), Message(message))._to_wit()

        def on_outcome(self, session, decision, message):
            plugin().on_outcome(
                Session._from_wit(session),
                Decision._from_wit(decision),
                None if message is None else Message(message),
            )

        def learn(self, message, label, forget):
            try:
                outcome = plugin().learn(Message(message), Label._from_wit(label), forget)
            except LearnError as error:
                raise _wit.err(str(error)) from None
            return outcome._to_wit()

    Filter.__name__ = Filter.__qualname__ = "Filter"
    Filter.__doc__ = f"Moat `filter` export of {plugin.__module__}.{plugin.__qualname__}."
    return Filter

