"""pyscore: an example Moat plugin written in Python with moat_sdk.

At the data stage it scores configured phrases in the Subject (PYSCORE_SUBJECT_PHRASE)
and, at a fraction of their score, in the body text (PYSCORE_BODY_PHRASE), and it flags
messages with many URLs (PYSCORE_MANY_URLS) or URLs whose host is an IP address
(PYSCORE_URL_IP_HOST). componentize-py builds this module (`app`) into the component;
the `Filter` name at the bottom is what it exports.
"""

import scoring
from moat_sdk import Plugin, PluginInfo, Stage, Verdict, config, export_plugin, log
from moat_sdk.scores import Scores

VERSION = "0.1.0"


class PyScore(Plugin):
    def describe(self):
        return PluginInfo("pyscore", VERSION, [Stage.DATA])

    def on_data(self, session, message):
        phrases = scoring.phrases_or_default(setting("phrases", {}))
        body_factor = setting("body_factor", 0.5, (int, float))
        max_urls = setting("max_urls", 10, int)

        verdict = Verdict()
        verdict.add(
            scoring.phrase_symbols(
                message.subject() or "", message.body_text(), phrases, body_factor
            )
        )
        scores = Scores.configured(scoring.DEFAULT_SCORES)
        fixed = {name: scores.score(name) for name in scoring.DEFAULT_SCORES}
        verdict.add(scoring.url_symbols(message.urls(), max_urls, fixed))
        return verdict


def setting(key, default, kinds=None):
    """The config value under `key`, or `default` when unset or of the wrong type (which
    is logged: a mistyped setting must not fail every message)."""
    try:
        value = config.get(key, default)
    except config.ConfigError as error:
        log.warn(f"ignoring config `{key}`: {error}")
        return default
    if kinds is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
        log.warn(f"ignoring config `{key}`: {value!r} has the wrong type")
        return default
    return value


Filter = export_plugin(PyScore)
