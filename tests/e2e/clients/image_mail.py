#!/usr/bin/env python3
"""Writes a test message carrying images, built with Python's email package (CRLF line
endings, ready for SMTP).

  image_mail.py OUT --body TEXT [--attach IMG]... [--inline IMG]... [--data-uri IMG]...
                [--raw-image NAME:CONTENT_TYPE:HEXBYTES]

--attach adds an image as an attachment; --inline adds it to a multipart/related HTML
part referenced by cid:; --data-uri embeds it in the HTML as <img src="data:...">;
--raw-image adds an attachment with the given bytes (for corrupt or bomb images).
"""
import argparse
import base64
import mimetypes
import pathlib
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid


def image_type(path):
    kind = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return kind.split("/", 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--body", default="")
    parser.add_argument("--subject", default="pictures")
    parser.add_argument("--attach", action="append", default=[])
    parser.add_argument("--inline", action="append", default=[])
    parser.add_argument("--data-uri", action="append", default=[])
    parser.add_argument("--raw-image", action="append", default=[])
    args = parser.parse_args()

    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.test"
    msg["Subject"] = args.subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(args.body or " ")

    if args.inline or args.data_uri:
        html = "<html><body><p>" + args.body + "</p>"
        cids = []
        for path in args.inline:
            cid = make_msgid(domain="example.org")
            cids.append((cid, pathlib.Path(path)))
            html += '<img src="cid:' + cid[1:-1] + '">'
        for path in args.data_uri:
            path = pathlib.Path(path)
            maintype, subtype = image_type(path)
            data = base64.b64encode(path.read_bytes()).decode()
            html += '<img src="data:' + maintype + "/" + subtype + ";base64," + data + '">'
        html += "</body></html>"
        msg.add_alternative(html, subtype="html")
        html_part = msg.get_payload()[-1]
        for cid, path in cids:
            maintype, subtype = image_type(path)
            html_part.add_related(path.read_bytes(), maintype, subtype, cid=cid)

    for path in args.attach:
        path = pathlib.Path(path)
        maintype, subtype = image_type(path)
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype,
                           filename=path.name)
    for spec in args.raw_image:
        name, content_type, hexbytes = spec.split(":", 2)
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(bytes.fromhex(hexbytes), maintype=maintype, subtype=subtype,
                           filename=name)

    pathlib.Path(args.out).write_bytes(msg.as_bytes(policy=policy.SMTP))


if __name__ == "__main__":
    main()
