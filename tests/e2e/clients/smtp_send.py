#!/usr/bin/env python3
"""Send one message with Python's smtplib (a real SMTP client) and print, as JSON lines,
each step's reply: {"step": "...", "code": N, "text": "..."}. Used by Moat's e2e tests.

usage: smtp_send.py HOST PORT --from A --rcpt B [--rcpt C] --file MSG
                    [--starttls | --ssl] [--login USER PASSWORD [--mech PLAIN|LOGIN]]
                    [--ehlo NAME] [--mail-option OPT ...] [--source ADDR]

--login uses smtplib's login(), which tries every offered mechanism in turn; with --mech
only that one is tried (one failed login, not one per mechanism). A refused login ends
the session after its "login" step.
"""
import argparse
import json
import ssl
import smtplib
import sys


def emit(step, code, text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    print(json.dumps({"step": step, "code": code, "text": text}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--rcpt", action="append", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--ssl", action="store_true", help="implicit TLS (port 465)")
    p.add_argument("--login", nargs=2, metavar=("USER", "PASSWORD"))
    p.add_argument("--mech", help="the one SASL mechanism to use with --login")
    p.add_argument("--ehlo", default="client.example")
    p.add_argument("--mail-option", action="append", default=[])
    p.add_argument("--source", help="local address to connect from, e.g. 127.0.0.2")
    a = p.parse_args()
    with open(a.file, "rb") as f:
        body = f.read()
    source = (a.source, 0) if a.source else None
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.ssl:
        s = smtplib.SMTP_SSL(timeout=60, source_address=source, context=ctx)
    else:
        s = smtplib.SMTP(timeout=60, source_address=source)
    s._host = a.host  # what starttls() checks the certificate name against
    code, text = s.connect(a.host, a.port)
    emit("connect", code, text)
    if code != 220:
        return 0
    code, text = s.ehlo(a.ehlo)
    emit("ehlo", code, text)
    if a.starttls:
        code, text = s.starttls(context=ctx)
        emit("starttls", code, text)
        code, text = s.ehlo(a.ehlo)
        emit("ehlo", code, text)
    if a.login:
        user, password = a.login
        try:
            if a.mech:
                s.user, s.password = user, password
                method = getattr(s, "auth_" + a.mech.lower())
                code, text = s.auth(a.mech, method)
            else:
                code, text = s.login(user, password)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        except smtplib.SMTPNotSupportedError as e:
            code, text = 0, str(e)
        emit("login", code, text)
        if code != 235:
            s.quit()
            return 0
    code, text = s.mail(a.sender, a.mail_option)
    emit("mail", code, text)
    accepted = 0
    for r in a.rcpt:
        code, text = s.rcpt(r)
        emit("rcpt", code, text)
        accepted += code == 250
    if accepted:
        try:
            code, text = s.data(body)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        emit("data", code, text)
    s.quit()


if __name__ == "__main__":
    sys.exit(main())
