#!/usr/bin/env python3
"""STARTTLS command injection probe (the CVE-2011-0411 class): EHLO, then `STARTTLS` and an
injected `MAIL FROM` in one write; after the TLS handshake, `RCPT TO` must get 503 (no
transaction open), proving the server discarded what was pipelined before TLS. Then a
proper transaction inside TLS must work. Prints the reply codes, one step per line.

usage: starttls_injection.py HOST PORT
"""
import socket
import ssl
import sys


def main():
    sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
    stream = sock.makefile("rb")

    def reply():
        while True:
            line = stream.readline().decode()
            if line[3:4] != "-":
                return line[:3]

    reply()
    sock.sendall(b"EHLO client.example\r\n")
    reply()
    sock.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
    print(reply())
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(sock, server_hostname="mx.test")
    stream = tls.makefile("rb")
    tls.sendall(b"RCPT TO:<b@example.test>\r\n")
    print(reply())
    tls.sendall(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n")
    print(reply(), reply(), reply())


if __name__ == "__main__":
    main()
