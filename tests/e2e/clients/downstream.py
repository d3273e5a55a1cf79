#!/usr/bin/env python3
"""A small SMTP server for Moat's delivery tests: answers each recipient with a chosen
code, can refuse the first N connections, and logs every connection and transaction as
JSON lines (the message bytes exactly as received, dot-unstuffed, base64).

usage: downstream.py HOST PORT LOG [--rcpt ADDR=CODE TEXT ...] [--rcpt-default "CODE TEXT"]
                     [--refuse-first N] [--refuse-reply "421 4.3.2 busy"] [--no-pipelining]
                     [--silent] [--tls CERT KEY] [--auth USER:PASS] [--log-commands]
                     [--data-delay SECONDS]

Logged events: connect, refused, tls, auth, rcpt (address and code), message; with
--log-commands also mail (the reverse path), data (every DATA command, answered or not)
and quit.

PORT 0 picks a free port. Prints "ready PORT" on stdout once listening. Stops after
--lifetime seconds (default 300), so a test that forgets it cannot leave it running.
"""
import argparse
import asyncio
import base64
import json
import ssl
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("log")
    p.add_argument("--rcpt", action="append", default=[],
                   help="ADDR=CODE TEXT: the reply to RCPT TO:<ADDR>")
    p.add_argument("--rcpt-default", default="250 2.1.5 ok",
                   help="CODE TEXT: the reply to a RCPT TO no --rcpt names (a server that "
                        "knows its users: \"550 5.1.1 no such user\")")
    p.add_argument("--refuse-first", type=int, default=0,
                   help="answer the first N connections' greeting with --refuse-reply")
    p.add_argument("--refuse-reply", default="421 4.3.2 not now, try later")
    p.add_argument("--no-pipelining", action="store_true")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                   help="offer STARTTLS with this certificate and key (PEM)")
    p.add_argument("--auth", metavar="USER:PASS",
                   help="offer AUTH PLAIN (after STARTTLS) and accept only these credentials")
    p.add_argument("--log-commands", action="store_true",
                   help="also log MAIL (with its reverse path), every DATA and QUIT")
    p.add_argument("--silent", action="store_true",
                   help="accept connections and never say anything (a hung server)")
    p.add_argument("--data-delay", type=float, default=0,
                   help="wait this long after logging a message before answering its "
                        "end of data (a slow server; the message is logged first)")
    p.add_argument("--lifetime", type=float, default=300)
    a = p.parse_args()
    rules = {}
    for rule in a.rcpt:
        address, reply = rule.split("=", 1)
        rules[address.lower()] = reply
    state = {"connections": 0}
    log = open(a.log, "a", buffering=1)

    def record(**fields):
        log.write(json.dumps(fields) + "\n")

    async def session(reader, writer):
        state["connections"] += 1
        number = state["connections"]
        record(event="connect", connection=number)

        async def reply(line):
            writer.write((line + "\r\n").encode())
            await writer.drain()

        try:
            if a.silent:
                await reader.read()
                return
            if number <= a.refuse_first:
                await reply(a.refuse_reply)
                record(event="refused", connection=number)
                return
            await reply("220 downstream.test ESMTP test server")
            mail_from, rcpts, tried = None, [], []
            tls, user = False, None
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line[:4].upper()
                if verb == "EHLO":
                    caps = ["downstream.test", "8BITMIME", "SIZE 10485760", "SMTPUTF8",
                            "ENHANCEDSTATUSCODES"]
                    if not a.no_pipelining:
                        caps.append("PIPELINING")
                    if a.tls and not tls:
                        caps.append("STARTTLS")
                    if a.auth and tls:
                        caps.append("AUTH PLAIN")
                    for i, cap in enumerate(caps):
                        sep = " " if i == len(caps) - 1 else "-"
                        writer.write(f"250{sep}{cap}\r\n".encode())
                    await writer.drain()
                elif line.upper() == "STARTTLS" and a.tls and not tls:
                    await reply("220 2.0.0 ready to start TLS")
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    context.load_cert_chain(a.tls[0], a.tls[1])
                    await writer.start_tls(context)
                    tls = True
                    record(event="tls", connection=number)
                elif verb == "AUTH" and a.auth and tls:
                    parts = line.split(" ")
                    try:
                        _, name, password = base64.b64decode(parts[2]).decode().split("\0")
                    except Exception:
                        name, password = None, None
                    if len(parts) == 3 and parts[1].upper() == "PLAIN" \
                            and f"{name}:{password}" == a.auth:
                        user = name
                        record(event="auth", connection=number, user=name, ok=True)
                        await reply("235 2.7.0 authenticated")
                    else:
                        record(event="auth", connection=number, user=name, ok=False)
                        await reply("535 5.7.8 bad credentials")
                elif verb == "HELO":
                    await reply("250 downstream.test")
                elif verb == "MAIL":
                    mail_from = line[10:].split(">")[0].lstrip("<")
                    rcpts, tried = [], []
                    if a.log_commands:
                        record(event="mail", connection=number, mail_from=mail_from)
                    await reply("250 2.1.0 ok")
                elif verb == "RCPT":
                    address = line[8:].split(">")[0].lstrip("<")
                    tried.append(address)
                    answer = rules.get(address.lower(), a.rcpt_default)
                    record(event="rcpt", connection=number, address=address,
                           code=int(answer[:3]))
                    if answer.startswith("2"):
                        rcpts.append(address)
                    await reply(answer)
                elif verb == "DATA":
                    if a.log_commands:
                        record(event="data", connection=number)
                    if mail_from is None or not rcpts:
                        await reply("554 5.5.1 no valid recipients")
                        continue
                    await reply("354 go ahead")
                    data = bytearray()
                    while True:
                        chunk = await reader.readline()
                        if not chunk:
                            return
                        if chunk == b".\r\n":
                            break
                        if chunk.startswith(b"."):
                            chunk = chunk[1:]
                        data += chunk
                    record(event="message", connection=number, mail_from=mail_from,
                           rcpts=rcpts, tried=tried, tls=tls, user=user,
                           data=base64.b64encode(bytes(data)).decode())
                    if a.data_delay:
                        await asyncio.sleep(a.data_delay)
                    await reply("250 2.0.0 queued")
                    mail_from, rcpts, tried = None, [], []
                elif verb == "RSET":
                    mail_from, rcpts, tried = None, [], []
                    await reply("250 2.0.0 ok")
                elif verb == "NOOP":
                    await reply("250 2.0.0 ok")
                elif verb == "QUIT":
                    if a.log_commands:
                        record(event="quit", connection=number)
                    await reply("221 2.0.0 bye")
                    return
                else:
                    await reply("502 5.5.2 not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def run():
        server = await asyncio.start_server(session, a.host, a.port)
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        async with server:
            await asyncio.sleep(a.lifetime)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
