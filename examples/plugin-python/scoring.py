"""The pyscore plugin's logic, free of host calls so it is unit-tested natively
(`python3 -m unittest discover -s tests`)."""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Dict, List, Mapping, Tuple

from moat_sdk import Symbol

# The phrases used when the operator configures none, with their scores.
DEFAULT_PHRASES: Dict[str, float] = {
    "free money": 3.0,
    "act now": 2.0,
    "limited time offer": 1.5,
    "you have won": 3.0,
    "click here": 1.0,
}

# Scores of the fixed symbols; the operator overrides them in `[config.scores]`.
DEFAULT_SCORES: Dict[str, float] = {
    "PYSCORE_MANY_URLS": 1.5,
    "PYSCORE_URL_IP_HOST": 1.0,
}

SUBJECT_SYMBOL = "PYSCORE_SUBJECT_PHRASE"
BODY_SYMBOL = "PYSCORE_BODY_PHRASE"

# At most this much of a body is searched for phrases: messages come from strangers, and
# a 25 MB body must not eat the call's time budget.
MAX_BODY_CHARS = 256 * 1024


def phrases_or_default(configured: object) -> Dict[str, float]:
    """The configured `phrases` table (phrase -> score) without entries that are not
    numbers, or the defaults when it is empty or not a table."""
    if not isinstance(configured, dict):
        return dict(DEFAULT_PHRASES)
    phrases = {
        str(phrase): float(score)
        for phrase, score in configured.items()
        if phrase and isinstance(score, (int, float)) and not isinstance(score, bool)
    }
    return phrases or dict(DEFAULT_PHRASES)


def matching_phrases(text: str, phrases: Mapping[str, float]) -> List[Tuple[str, float]]:
    """The phrases that occur in `text`, ignoring case, with their scores, in name order."""
    folded = text.casefold()
    return [
        (phrase, score)
        for phrase, score in sorted(phrases.items())
        if phrase and phrase.casefold() in folded
    ]


def phrase_symbols(
    subject: str, body: str, phrases: Mapping[str, float], body_factor: float
) -> List[Symbol]:
    """One symbol per phrase in the subject (its score) and per phrase in the body (its
    score times `body_factor`)."""
    symbols = [
        Symbol(SUBJECT_SYMBOL, score, f"subject contains '{phrase}'")
        for phrase, score in matching_phrases(subject, phrases)
    ]
    if body_factor:
        symbols += [
            Symbol(BODY_SYMBOL, score * body_factor, f"body contains '{phrase}'")
            for phrase, score in matching_phrases(body[:MAX_BODY_CHARS], phrases)
        ]
    return symbols


def url_host(url: str) -> str:
    """The host of `url`, lower-case, without brackets; '' when it has none."""
    try:
        return (urllib.parse.urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_ip_literal(host: str) -> bool:
    """Whether `host` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def url_symbols(urls: List[str], max_urls: int, scores: Mapping[str, float]) -> List[Symbol]:
    """`PYSCORE_MANY_URLS` when there are more than `max_urls` distinct URLs, and
    `PYSCORE_URL_IP_HOST` when any URL names its host by IP address."""
    symbols = []
    if len(urls) > max_urls:
        hosts = {url_host(url) for url in urls} - {""}
        symbols.append(
            Symbol(
                "PYSCORE_MANY_URLS",
                scores["PYSCORE_MANY_URLS"],
                f"{len(urls)} URLs to {len(hosts)} hosts (more than {max_urls})",
            )
        )
    ip_hosts = sorted({host for host in map(url_host, urls) if is_ip_literal(host)})
    if ip_hosts:
        shown = ", ".join(ip_hosts[:5])
        symbols.append(
            Symbol("PYSCORE_URL_IP_HOST", scores["PYSCORE_URL_IP_HOST"], f"URL host is an IP: {shown}")
        )
    return symbols
