"""Unit tests of the SDK's pure parts, run natively: `python3 -m unittest discover -s
tests` from sdk/python. The host calls need the gateway; they are tested with `moat
plugin test` on the example and test plugins."""

import ipaddress
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import moat_sdk  # noqa: E402
from moat_sdk import (  # noqa: E402
    Action,
    Annotation,
    Decision,
    Plugin,
    PluginInfo,
    ScoredSymbol,
    Session,
    Stage,
    Symbol,
    Thresholds,
    Verdict,
    export_plugin,
)
from moat_sdk import _wit, config, kv  # noqa: E402
from moat_sdk.scores import Scores  # noqa: E402


class VerdictTests(unittest.TestCase):
    def test_new_verdict_is_empty(self):
        self.assertTrue(Verdict().is_empty())
        self.assertFalse(Verdict().action(Action.TAG).is_empty())
        self.assertFalse(Verdict().annotate("k", "v").is_empty())

    def test_builder_keeps_order_and_last_action(self):
        verdict = (
            Verdict()
            .symbol("A", 1.0, "first")
            .symbol("B", -2.0, "second")
            .action(Action.REJECT)
            .action(Action.QUARANTINE)
        )
        self.assertEqual([s.name for s in verdict.symbols], ["A", "B"])
        self.assertEqual(verdict.demanded, Action.QUARANTINE)

    def test_of_and_add_collect_symbols(self):
        verdict = Verdict.of([Symbol("A", 1.0), Symbol("B", 1.0)]).add([Symbol("C", 0.5)])
        self.assertEqual(len(verdict.symbols), 3)
        self.assertIsNone(verdict.demanded)

    def test_annotations(self):
        verdict = Verdict().annotate("ocr-text", "hello")
        self.assertEqual(verdict.annotations, [Annotation("ocr-text", "hello")])


class SymbolTests(unittest.TestCase):
    def test_name_rule(self):
        self.assertTrue(Symbol.is_valid_name("GTUBE"))
        self.assertTrue(Symbol.is_valid_name("R_SPF_FAIL_2"))
        self.assertTrue(Symbol.is_valid_name("A" * 64))
        for bad in ["", "A" * 65, "lower", "WITH SPACE", "DASH-ED", "ÄRGER", "A\n"]:
            self.assertFalse(Symbol.is_valid_name(bad), bad)

    def test_validity_checks_score_and_detail(self):
        self.assertTrue(Symbol("OK", 1.0, "fine").is_valid())
        self.assertTrue(Symbol("OK", 2, "an int score").is_valid())
        self.assertFalse(Symbol("OK", float("nan")).is_valid())
        self.assertFalse(Symbol("OK", float("inf")).is_valid())
        self.assertFalse(Symbol("OK", 1.0, "x" * 1025).is_valid())
        # The limit is in bytes of UTF-8, as the host counts.
        self.assertFalse(Symbol("OK", 1.0, "é" * 513).is_valid())


class PluginInfoTests(unittest.TestCase):
    def test_defaults(self):
        info = PluginInfo("x", "2.0.0")
        self.assertEqual(info.stages, [Stage.DATA])
        self.assertEqual(info.default_weight, 1.0)

    def test_stages_from_any_iterable(self):
        info = PluginInfo("x", "1", (Stage.CONNECT, Stage.DATA), default_weight=0.5)
        self.assertEqual(info.stages, [Stage.CONNECT, Stage.DATA])

    def test_stage_names_are_the_config_names(self):
        self.assertEqual(
            [stage.value for stage in Stage],
            ["connect", "helo", "mail_from", "rcpt_to", "data", "outcome"],
        )
        self.assertIs(Stage.from_name("mail_from"), Stage.MAIL_FROM)
        with self.assertRaises(ValueError):
            Stage.from_name("mail-from")


class SessionTests(unittest.TestCase):
    def test_default_session(self):
        session = Session()
        self.assertEqual(session.client.ip, ipaddress.ip_address("0.0.0.0"))
        self.assertIsNone(session.envelope.mail_from)
        self.assertEqual(session.envelope.rcpt_to, [])

    def test_annotation_finds_the_first(self):
        session = Session(annotations=[Annotation("a", "1"), Annotation("a", "2")])
        self.assertEqual(session.annotation("a"), "1")
        self.assertIsNone(session.annotation("b"))


class DecisionTests(unittest.TestCase):
    def test_action_for(self):
        t = Thresholds(tag=5.0, quarantine=10.0, reject=15.0)
        self.assertEqual(t.action_for(4.9), Action.ACCEPT)
        self.assertEqual(t.action_for(5.0), Action.TAG)
        self.assertEqual(t.action_for(10.0), Action.QUARANTINE)
        self.assertEqual(t.action_for(20.0), Action.REJECT)

    def test_score_without(self):
        decision = Decision(
            action=Action.TAG,
            score=7.0,
            thresholds=Thresholds(5.0, 10.0, 15.0),
            symbols=[
                ScoredSymbol("me", "A", 2.0, 1.0, 2.0),
                ScoredSymbol("other", "B", 5.0, 1.0, 5.0),
            ],
        )
        self.assertEqual(decision.score_without("me"), 5.0)


class ConfigTests(unittest.TestCase):
    def test_parse_value(self):
        self.assertEqual(config.parse_value("k", None, 3), 3)
        self.assertEqual(config.parse_value("k", '{"a": 1.5}'), {"a": 1.5})
        self.assertEqual(config.parse_value("k", '"free money"'), "free money")
        with self.assertRaises(config.ConfigError):
            config.parse_value("k", "not json")


class ScoresTests(unittest.TestCase):
    def test_override_default_unknown(self):
        scores = Scores({"A": 1.0, "B": 2.0}, {"B": 5.0, "TYPO": 1.0})
        self.assertEqual(scores.score("A"), 1.0)
        self.assertEqual(scores.score("B"), 5.0)
        self.assertEqual(scores.score("NONE"), 0.0)
        self.assertEqual(scores.unknown_symbols(), ["TYPO"])


class NativeTests(unittest.TestCase):
    def test_host_calls_say_where_they_work(self):
        self.assertFalse(_wit.in_component())
        with self.assertRaises(RuntimeError):
            kv.get("x")

    def test_counter_decoding(self):
        self.assertEqual(kv.decode_counter((-3).to_bytes(8, "little", signed=True)), -3)
        self.assertIsNone(kv.decode_counter(None))
        with self.assertRaises(kv.KvError):
            kv.decode_counter(b"abc")

    def test_export_wants_a_plugin_class(self):
        class Quiet(Plugin):
            def describe(self):
                return PluginInfo("quiet", "0.1.0")

        self.assertEqual(export_plugin(Quiet).__name__, "Filter")
        with self.assertRaises(TypeError):
            export_plugin(object)

    def test_version(self):
        self.assertEqual(moat_sdk.SDK_NAME, f"python-{moat_sdk.__version__}")


if __name__ == "__main__":
    unittest.main()
