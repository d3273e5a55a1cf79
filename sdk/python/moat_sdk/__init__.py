"""Write Moat filter plugins in Python, built into WebAssembly components with
componentize-py.

    from moat_sdk import Plugin, PluginInfo, Stage, Verdict, export_plugin

    class Money(Plugin):
        def describe(self):
            return PluginInfo("money", "0.1.0", [Stage.DATA])

        def on_data(self, session, message):
            if "free money" in (message.subject() or "").lower():
                return Verdict().symbol("MONEY_SUBJECT", 3.0, "subject offers free money")
            return Verdict()

    Filter = export_plugin(Money)

Capabilities live in submodules: `moat_sdk.config`, `log`, `clock`, `domain`, `kv`, `dns`, `ocr`,
`sender_auth` and `scores`. See sdk/python/README.md.
"""

from . import clock, config, dns, domain, kv, log, ocr, scores, sender_auth
from .export import export_plugin
from .message import Attachment, Header, Message
from .outcome import Decision, Label, LearnOutcome, ScoredSymbol, Thresholds
from .plugin import SDK_NAME, SDK_VERSION, LearnError, Plugin, PluginInfo, Stage
from .session import ClientInfo, Envelope, Session, TlsInfo
from .verdict import Action, Annotation, Symbol, Verdict

__version__ = SDK_VERSION

__all__ = [
    "Action",
    "Annotation",
    "Attachment",
    "ClientInfo",
    "Decision",
    "Envelope",
    "Header",
    "Label",
    "LearnError",
    "LearnOutcome",
    "Message",
    "Plugin",
    "PluginInfo",
    "SDK_NAME",
    "SDK_VERSION",
    "ScoredSymbol",
    "Session",
    "Stage",
    "Symbol",
    "Thresholds",
    "TlsInfo",
    "Verdict",
    "clock",
    "domain",
    "config",
    "dns",
    "export_plugin",
    "kv",
    "log",
    "ocr",
    "scores",
    "sender_auth",
]
