"""Unit tests of the plugin's logic, run natively (no component, no host)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import unittest

import scoring


class PhraseTests(unittest.TestCase):
    def test_defaults_when_unset_or_not_a_table(self):
        self.assertEqual(scoring.phrases_or_default({}), scoring.DEFAULT_PHRASES)
        self.assertEqual(scoring.phrases_or_default("free money"), scoring.DEFAULT_PHRASES)

    def test_configured_phrases_replace_the_defaults(self):
        phrases = scoring.phrases_or_default({"cheap pills": 4, "bad": "x", "": 1.0})
        self.assertEqual(phrases, {"cheap pills": 4.0})

    def test_matches_ignoring_case(self):
        phrases = {"free money": 3.0, "Act Now": 2.0}
        self.assertEqual(
            scoring.matching_phrases("FREE MONEY inside - act now!", phrases),
            [("Act Now", 2.0), ("free money", 3.0)],
        )

    def test_subject_and_body_symbols(self):
        symbols = scoring.phrase_symbols(
            "Act now", "You could get free money.", {"act now": 2.0, "free money": 3.0}, 0.5
        )
        self.assertEqual(
            [(s.name, s.score) for s in symbols],
            [("PYSCORE_SUBJECT_PHRASE", 2.0), ("PYSCORE_BODY_PHRASE", 1.5)],
        )
        self.assertTrue(all(s.is_valid() for s in symbols))

    def test_body_factor_zero_skips_the_body(self):
        symbols = scoring.phrase_symbols("", "free money", {"free money": 3.0}, 0)
        self.assertEqual(symbols, [])


class UrlTests(unittest.TestCase):
    scores = scoring.DEFAULT_SCORES

    def test_few_urls_say_nothing(self):
        urls = ["https://example.org/a", "https://example.org/b"]
        self.assertEqual(scoring.url_symbols(urls, 10, self.scores), [])

    def test_many_urls(self):
        urls = [f"http://host{i % 3}.example/{i}" for i in range(12)]
        [symbol] = scoring.url_symbols(urls, 10, self.scores)
        self.assertEqual(symbol.name, "PYSCORE_MANY_URLS")
        self.assertEqual(symbol.detail, "12 URLs to 3 hosts (more than 10)")

    def test_ip_hosts(self):
        urls = ["http://192.0.2.7/login", "http://[2001:db8::1]/x", "https://example.org"]
        [symbol] = scoring.url_symbols(urls, 10, self.scores)
        self.assertEqual(symbol.name, "PYSCORE_URL_IP_HOST")
        self.assertIn("192.0.2.7", symbol.detail)
        self.assertIn("2001:db8::1", symbol.detail)

    def test_odd_urls_do_not_raise(self):
        self.assertEqual(scoring.url_host("http://[::1"), "")
        self.assertFalse(scoring.is_ip_literal(""))


if __name__ == "__main__":
    unittest.main()
