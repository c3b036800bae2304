#!/usr/bin/env python3
"""A real SMTP server for Parley's SMTP client tests (Tests/ParleyOutboundTests), built on aiosmtpd.

Listens on 127.0.0.1 on a free port, prints `PORT <n>` on stdout once it accepts connections, and writes
every message it accepts as one JSON file into --out:

    {"mail_from", "rcpt_tos", "mail_options", "data_base64", "tls", "auth_user", "peer",
     "subject", "from", "to", "text", "html", "content_type"}

(`peer` is the client's address and port: one per connection.)

`subject`, `text` and `html` are decoded with Python's `email` package (RFC 2047 words, quoted-printable,
base64), so the tests can check what a mail client would show. Recipients whose address starts with
`reject` are refused with `550 5.1.1`.

Options: --tls-cert/--tls-key offer STARTTLS (--require-starttls refuses MAIL before it; --implicit-tls
wraps the whole connection instead); --auth-user/--auth-password accept AUTH PLAIN and LOGIN for that one
user (only over TLS unless --auth-allow-plaintext). --close-after-message closes each connection right after
accepting a message (as a server that dropped an idle session would). --mute accepts connections and never says a
word (for timeout tests). --scripted JSON replaces aiosmtpd with a fake server that answers each command verb with the
raw text given for it (`{"greeting": "220 hi", "EHLO": "502 no", "HELO": "250 ok", "DATA_END": "554 no"}`;
unlisted verbs get 250, DATA gets 354), for misbehaving servers; it appends every command line it receives
to commands.log in --out.

The script is stopped with SIGTERM by the test that started it, and also exits when its stdin reaches end of
file, so a sink never outlives a test process that died without stopping it.
"""

import argparse
import asyncio
import base64
import email
import email.policy
import json
import os
import signal
import ssl
import sys
import threading
import uuid

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir, close_after_message=False):
        self.out_dir = out_dir
        self.close_after_message = close_after_message

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("reject"):
            return "550 5.1.1 <%s>: recipient rejected by the test sink" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "data_base64": base64.b64encode(raw).decode("ascii"),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth_user": _auth_user(session),
            "peer": "%s:%s" % tuple(session.peer[:2]) if session.peer else None,
        }
        record.update(_parse(raw))
        name = "%s.json" % uuid.uuid4().hex
        temporary = os.path.join(self.out_dir, "." + name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(record, handle, ensure_ascii=False)
        os.replace(temporary, os.path.join(self.out_dir, name))
        if self.close_after_message:
            # Runs after aiosmtpd wrote the 250 below (in this same step), and before it reads another command:
            # the client sees its message accepted, then the connection end, never a command of the next one
            # answered. (aiosmtpd's idle timeout would do the same, but only as reliably as both processes are
            # scheduled on time: a client starved for longer than the timeout mid-transaction lost its session.)
            asyncio.get_running_loop().call_soon(lambda: server.transport and server.transport.close())
        return "250 2.0.0 OK queued as %s" % name


def _auth_user(session):
    login = getattr(session, "login_data", None)
    if isinstance(login, bytes):
        return login.decode("utf-8", "replace")
    return login


def _parse(raw):
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        fields = {
            "subject": str(message.get("Subject", "")),
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "content_type": message.get_content_type(),
            "text": None,
            "html": None,
        }
        for part in message.walk():
            if part.is_multipart():
                continue
            kind = part.get_content_type()
            if kind == "text/plain" and fields["text"] is None:
                fields["text"] = part.get_content()
            elif kind == "text/html" and fields["html"] is None:
                fields["html"] = part.get_content()
        return fields
    except Exception as error:  # the raw bytes are still recorded for the test to look at
        return {"parse_error": repr(error)}


def _authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode("utf-8")
            and auth_data.password == password.encode("utf-8")
        ):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    return authenticate


def scripted(replies, out_dir):
    defaults = {"greeting": "220 scripted.parley.test ESMTP", "EHLO": "250 scripted.parley.test",
                "DATA": "354 go ahead", "DATA_END": "250 accepted", "QUIT": "221 bye"}
    defaults.update(replies)

    async def session(reader, writer):
        def say(text):
            writer.write((text + "\r\n").encode("utf-8"))

        say(defaults["greeting"])
        await writer.drain()
        with open(os.path.join(out_dir, "commands.log"), "a", encoding="utf-8") as log:
            while True:
                line = await reader.readline()
                if not line:
                    break
                command = line.decode("utf-8", "replace").rstrip("\r\n")
                log.write(command + "\n")
                log.flush()
                verb = command.split(" ", 1)[0].split(":", 1)[0].upper()
                say(defaults.get(verb, "250 ok"))
                await writer.drain()
                if verb == "DATA" and defaults["DATA"].startswith("354"):
                    while (await reader.readline()) not in (b".\r\n", b""):
                        pass
                    say(defaults["DATA_END"])
                    await writer.drain()
                if verb == "QUIT":
                    break
        writer.close()

    return session


async def mute(reader, writer):
    await reader.read()
    writer.close()


async def serve(arguments):
    if arguments.scripted is not None:
        handler = scripted(json.loads(arguments.scripted), arguments.out)
        server = await asyncio.start_server(handler, host="127.0.0.1", port=0)
        print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()
        return
    if arguments.mute:
        server = await asyncio.start_server(mute, host="127.0.0.1", port=0)
        print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()
        return
    context = None
    if arguments.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(arguments.tls_cert, arguments.tls_key)
    options = {
        "hostname": "sink.parley.test",
        "enable_SMTPUTF8": True,
        "data_size_limit": arguments.size_limit,
    }
    if context is not None and not arguments.implicit_tls:
        options["tls_context"] = context
        options["require_starttls"] = arguments.require_starttls
    if arguments.auth_user:
        options["authenticator"] = _authenticator(arguments.auth_user, arguments.auth_password or "")
        options["auth_require_tls"] = not arguments.auth_allow_plaintext
    sink = Sink(arguments.out, close_after_message=arguments.close_after_message)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, loop=loop, **options),
        host="127.0.0.1",
        port=0,
        ssl=context if arguments.implicit_tls else None,
    )
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    async with server:
        await server.serve_forever()


def _exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory that receives one JSON file per message")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth-user")
    parser.add_argument("--auth-password")
    parser.add_argument("--auth-allow-plaintext", action="store_true")
    parser.add_argument("--size-limit", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--mute", action="store_true")
    parser.add_argument("--close-after-message", action="store_true", help="close each connection once a message is accepted")
    parser.add_argument("--scripted", help="JSON object: command verb -> raw reply text")
    arguments = parser.parse_args()
    if (arguments.require_starttls or arguments.implicit_tls) and not arguments.tls_cert:
        parser.error("TLS options need --tls-cert and --tls-key")
    # A parent that blocks signals (the Swift test runner does) passes its mask on; SIGTERM must work here.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    try:
        asyncio.run(serve(arguments))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
