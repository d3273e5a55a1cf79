#!/usr/bin/env python3
"""Talk SMTP command by command with Python's smtplib (a real client, with real TLS) and
print, as JSON lines, each step's reply: {"step": "...", "code": N, "text": "..."}; raw
commands are steps named "cmd" with the command in "cmd". Used by Moat's e2e tests for
conversations smtp_send.py cannot have (relay probes, AUTH out of order).

usage: smtp_talk.py HOST PORT [--ssl | --starttls] [--login USER PASSWORD]
                    [--source ADDR] [--cmd "MAIL FROM:<a@b>" ...]
"""
import argparse
import hashlib
import json
import smtplib
import ssl
import sys


def emit(step, code, text, **extra):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    print(json.dumps({"step": step, "code": code, "text": text, **extra}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--ssl", action="store_true")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--login", nargs=2, metavar=("USER", "PASSWORD"))
    p.add_argument("--cmd", action="append", default=[])
    p.add_argument("--source", help="local address to connect from, e.g. 127.0.0.2")
    a = p.parse_args()
    source = (a.source, 0) if a.source else None
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.ssl:
        s = smtplib.SMTP_SSL(timeout=60, context=ctx, source_address=source)
    else:
        s = smtplib.SMTP(timeout=60, source_address=source)
    s._host = a.host  # what starttls() checks the certificate name against
    code, text = s.connect(a.host, a.port)
    emit("connect", code, text)
    code, text = s.ehlo("client.example")
    emit("ehlo", code, text)
    if a.starttls:
        code, text = s.starttls(context=ctx)
        # The certificate served, for tests that check which one it is.
        der = s.sock.getpeercert(binary_form=True)
        emit("starttls", code, text, cert_sha256=hashlib.sha256(der).hexdigest())
        code, text = s.ehlo("client.example")
        emit("ehlo", code, text)
    if a.login:
        try:
            code, text = s.login(*a.login)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        emit("login", code, text)
    for cmd in a.cmd:
        code, text = s.docmd(cmd)
        emit("cmd", code, text, cmd=cmd)
    try:
        s.quit()
    except smtplib.SMTPServerDisconnected:
        pass


if __name__ == "__main__":
    sys.exit(main())
