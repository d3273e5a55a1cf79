#!/usr/bin/env python3
"""Many concurrent smtplib sessions sending distinct messages for a while; prints one JSON
line per message the server accepted: {"id": QUEUE_ID, "sha256": digest of the bytes sent,
"message_id": its Message-ID}.
A session stops at its first error (e.g. the server was killed). Used by the durability test.

usage: load_send.py HOST PORT SESSIONS SECONDS [SIZE]
"""
import hashlib
import json
import os
import smtplib
import sys
import threading
import time

lock = threading.Lock()


def session(host, port, n, deadline, size):
    try:
        s = smtplib.SMTP(host, port, timeout=30)
        s.ehlo("load.example")
        i = 0
        while time.time() < deadline:
            i += 1
            body = (f"session {n} message {i} ".encode() + b"x" * size)[:size]
            msg = (f"From: load{n}@example.org\r\nTo: bob@example.test\r\nSubject: load {n}.{i}\r\n"
                   f"Message-ID: <{os.getpid()}.{n}.{i}@load.example>\r\n\r\n").encode() + body + b"\r\n"
            s.mail(f"load{n}@example.org")
            s.rcpt("bob@example.test")
            code, text = s.data(msg)
            if code != 250:
                return
            queue_id = text.decode().rsplit(" ", 1)[-1]
            with lock:
                print(json.dumps({"id": queue_id, "sha256": hashlib.sha256(msg).hexdigest(),
                                  "message_id": f"<{os.getpid()}.{n}.{i}@load.example>"}), flush=True)
        s.quit()
    except Exception:
        return


def main():
    host, port, sessions, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
    deadline = time.time() + seconds
    threads = [threading.Thread(target=session, args=(host, port, n, deadline, size)) for n in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
