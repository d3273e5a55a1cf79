"""misbehave-python: a test plugin, written in Python with moat_sdk, that misbehaves on
purpose at the data stage, so the gateway's sandbox limits and error handling can be
tested end to end with a Python component (the Python twin of tests/plugins/misbehave).

The mode comes from the config key `mode` and may be overridden per message by the header
`X-Misbehave: MODE` (see modes.py): `none`, `loop`, `memory-bomb`, `panic` (raises an
exception), `stack-overflow`, `invalid-verdict` or `hoard-body`. An unknown mode answers
the symbol `MISBEHAVE_UNKNOWN_MODE`.

As the Rust one, it lets tests drive decisions before DATA (config `act_at = "STAGE"`
and `act = "reject"` or `"tempfail"`) and counts the outcome calls it gets in kv (when
granted), reporting the count in `MISBEHAVE_OK`'s detail.
"""

import misbehaviour
import modes
from moat_sdk import Action, Plugin, PluginInfo, Stage, Verdict, config, export_plugin, kv, log


class Misbehave(Plugin):
    def describe(self):
        return PluginInfo(
            "misbehave-python",
            "0.1.0",
            [Stage.CONNECT, Stage.HELO, Stage.MAIL_FROM, Stage.RCPT_TO, Stage.DATA, Stage.OUTCOME],
        )

    def on_connect(self, session):
        return act_at("connect")

    def on_helo(self, session):
        return act_at("helo")

    def on_mail_from(self, session):
        return act_at("mail_from")

    def on_rcpt_to(self, session, recipient):
        return act_at("rcpt_to")

    def on_outcome(self, session, decision, message):
        try:
            kv.increment("outcomes", 1)
        except kv.KvError:
            pass

    def on_data(self, session, message):
        name = modes.effective_mode_name(message.header("X-Misbehave"), configured_mode())
        mode = modes.parse(name)
        if mode == "none":
            try:
                outcomes = kv.get_int("outcomes") or 0
            except kv.KvError:
                outcomes = 0
            return Verdict().symbol("MISBEHAVE_OK", 0.0, f"behaved; outcomes seen: {outcomes}")
        if mode == "loop":
            misbehaviour.spin_forever()
        if mode == "memory-bomb":
            misbehaviour.exhaust_memory()
        if mode == "panic":
            raise RuntimeError("misbehave-python raised on purpose")
        if mode == "stack-overflow":
            depth = misbehaviour.overflow_stack()
            return Verdict().symbol("MISBEHAVE_OK", 0.0, f"stack survived {depth}")
        if mode == "invalid-verdict":
            return Verdict().symbol("not a valid name!", float("nan"), "invalid on purpose")
        if mode == "hoard-body":
            held = misbehaviour.hoard(message.body_text(), 16)
            return Verdict().symbol("MISBEHAVE_OK", 0.0, f"held {held} bytes")
        return Verdict().symbol("MISBEHAVE_UNKNOWN_MODE", 0.0, f"unknown mode {name!r}")


def act_at(stage):
    """The action configured for `stage` (`act_at`/`act`), as a verdict."""
    if config.get("act_at") != stage:
        return Verdict()
    action = Action.TEMPFAIL if config.get("act") == "tempfail" else Action.REJECT
    return Verdict().symbol("MISBEHAVE_ACT", 100.0, f"configured to act at {stage}").action(action)


def configured_mode():
    """The `mode` of the plugin's config, if set and a string."""
    try:
        mode = config.get("mode")
    except config.ConfigError as error:
        log.warn(f"ignoring the configured mode: {error}")
        return None
    return mode if isinstance(mode, str) else None


Filter = export_plugin(Misbehave)
