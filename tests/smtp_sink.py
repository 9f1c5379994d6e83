#!/usr/bin/env python3
"""A real SMTP server for kisha's tests, on 127.0.0.1 (aiosmtpd 1.4.6).

Every accepted message is written byte for byte to OUT/N.eml, with a decoded
summary in OUT/N.json (subject, Message-ID, In-Reply-To, text and HTML parts),
before the server answers 250. The test switches behaviour at any time by
writing one word to OUT/mode:

  accept      250 (default)
  tempfail    451 to DATA (a transient refusal)
  reject      554 to DATA (a permanent refusal)
  stall       never answer DATA (the client times out mid-DATA)
  slow        accept DATA after 3 seconds

Options: --tls starttls|implicit makes a private CA and a certificate for
127.0.0.1 (OUT/ca.pem is what the client trusts); --auth USER:PASSWORD
requires AUTH LOGIN/PLAIN with those credentials.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(out):
    """A private CA and a leaf for 127.0.0.1 (CA:FALSE, as rustls requires)."""
    def run(*args):
        subprocess.run(args, check=True, capture_output=True, cwd=out)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kisha test CA",
        "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(out, "leaf.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "leaf.key", "-out", "leaf.csr")
    run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "leaf.pem", "-extfile", "leaf.ext")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(out, "leaf.pem"), os.path.join(out, "leaf.key"))
    return ctx


def summary(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = {}
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("text/plain", "text/html") and ctype not in parts:
            parts[ctype] = part.get_content()
    return {
        "subject": str(msg.get("Subject", "")),
        "message_id": str(msg.get("Message-ID", "")),
        "in_reply_to": str(msg.get("In-Reply-To", "")),
        "references": str(msg.get("References", "")),
        "from": str(msg.get("From", "")),
        "to": str(msg.get("To", "")),
        "content_type": msg.get_content_type(),
        "text": parts.get("text/plain", ""),
        "html": parts.get("text/html", ""),
        "raw_header_lines": [line for line in raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace").split("\r\n")],
    }


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    def mode(self):
        try:
            with open(os.path.join(self.out, "mode")) as f:
                return f.read().strip() or "accept"
        except FileNotFoundError:
            return "accept"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "tempfail":
            return "451 4.3.0 Temporary failure, try again later"
        if mode == "reject":
            return "554 5.7.1 Message rejected"
        if mode == "slow":
            await asyncio.sleep(3)
        if mode == "stall":
            # Keep what arrived, to compare with the retry, then never answer.
            with open(os.path.join(self.out, f"{time.time_ns()}.stalled"), "w") as f:
                json.dump(summary(envelope.original_content), f, ensure_ascii=False)
            await asyncio.sleep(3600)
        self.count += 1
        raw = envelope.original_content
        base = os.path.join(self.out, f"{time.time_ns()}-{self.count:04d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        data = summary(raw)
        data["envelope_from"] = envelope.mail_from
        data["envelope_to"] = list(envelope.rcpt_tos)
        with open(base + ".json.tmp", "w") as f:
            json.dump(data, f, ensure_ascii=False)
        os.rename(base + ".eml.tmp", base + ".eml")
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Message accepted for delivery"


def main():
    # The tests require AUTH without TLS on purpose (to test password hygiene).
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=["starttls", "implicit"])
    ap.add_argument("--auth")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    port = args.port or free_port()
    kwargs = {"hostname": "127.0.0.1", "port": port, "server_kwargs": {}}
    if args.tls == "starttls":
        kwargs["tls_context"] = make_certs(args.out)
        kwargs["require_starttls"] = True
    elif args.tls == "implicit":
        kwargs["ssl_context"] = make_certs(args.out)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
            # handled=False: aiosmtpd answers 235 or 535 itself (its default,
            # True, means "already answered" and leaves the client waiting).
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # aiosmtpd does not count implicit TLS as TLS here, so require it only for STARTTLS.
        kwargs["auth_require_tls"] = args.tls == "starttls"
    controller = Controller(Sink(args.out), **kwargs)
    controller.start()
    with open(os.path.join(args.out, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(args.out, "port.tmp"), os.path.join(args.out, "port"))
    try:
        # Exit with the test process: stdin closes when the parent goes.
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
