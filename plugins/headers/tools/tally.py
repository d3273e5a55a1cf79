#!/usr/bin/env python3
"""Tally symbols by message class from `moat check --json` output.

Usage: moat check --config C --json CORPUS_DIR | tally.py [--plugin NAME] [--show SYMBOL]

A message's class comes from its file name: `spam-*`, `hard-ham-*` or any other `*ham-*`
(easy ham). For each symbol it prints how many spam, ham and hard ham it fires on, and
the ham and spam whose summed score (from --plugin only, if given) reaches 2.5 and 5.
--show SYMBOL lists the files the symbol fires on, with its detail.
"""

import argparse
import collections
import json
import os
import sys


def message_class(path):
    name = os.path.basename(path)
    if name.startswith("spam"):
        return "spam"
    if name.startswith("hard-ham"):
        return "hard"
    return "easy"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="JSON lines files (default: stdin)")
    parser.add_argument("--plugin", help="count only this plugin's symbols")
    parser.add_argument("--show", action="append", default=[], help="list hits of SYMBOL")
    args = parser.parse_args()

    totals = collections.Counter()
    hits = collections.defaultdict(collections.Counter)
    over = collections.Counter()
    scores = {}
    shown = []
    streams = [open(f, encoding="utf-8") for f in args.files] or [sys.stdin]
    for stream in streams:
        for line in stream:
            report = json.loads(line)
            cls = message_class(report["file"])
            totals[cls] += 1
            score = 0.0
            for symbol in report.get("symbols", []):
                if args.plugin and symbol.get("plugin") != args.plugin:
                    continue
                hits[symbol["name"]][cls] += 1
                scores[symbol["name"]] = symbol.get("score")
                score += symbol.get("contribution", 0.0)
                if symbol["name"] in args.show:
                    shown.append((symbol["name"], cls, report["file"], symbol.get("detail", "")))
            for limit in (2.5, 5.0):
                if score >= limit:
                    over[(cls, limit)] += 1

    spam, easy, hard = totals["spam"], totals["easy"], totals["hard"]
    print(f"messages: {spam} spam, {easy} easy ham, {hard} hard ham")
    print(f"{'symbol':34} {'score':>6} {'spam':>6} {'%':>6} {'ham':>5} {'hard':>5}")
    for name in sorted(hits, key=lambda n: -hits[n]["spam"]):
        count = hits[name]
        pct = 100.0 * count["spam"] / spam if spam else 0.0
        ham = count["easy"] + count["hard"]
        score = scores.get(name)
        score = f"{score:6.2f}" if isinstance(score, (int, float)) else "     ?"
        print(f"{name:34} {score} {count['spam']:6} {pct:5.1f}% {ham:5} {count['hard']:5}")
    for limit in (2.5, 5.0):
        ham = over[("easy", limit)] + over[("hard", limit)]
        print(
            f"score >= {limit}: {over[('spam', limit)]} spam, "
            f"{ham} ham ({over[('hard', limit)]} hard)"
        )
    for name, cls, path, detail in shown:
        print(f"{name} {cls} {os.path.basename(path)}: {detail}")


if __name__ == "__main__":
    main()
