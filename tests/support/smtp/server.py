"""A real SMTP server on loopback for the SMTP mailer tests (aiosmtpd, pinned
in infra/test-tools.sh).

    python server.py --mode starttls|tls|plain --out DIR [--user U --password P]

Prints `listening <port>` once it accepts connections, then serves until
killed. Each accepted message is parsed with Python's own `email` package (an
independent reader of what lettre wrote) and saved, before the server answers
250, as DIR/<n>.json: envelope, headers, text, attachments (base64), whether
the session was TLS and who authenticated. Replies as a busy or strict
server would:

- a recipient whose local part starts with `busy` gets 451 (try later);
- one starting with `reject` gets 550 (no such mailbox).

The certificate (server.pem, server.key; CA ca.pem) is for 127.0.0.1 and
localhost, valid until 2126; made with openssl (EC P-256): a self-signed CA
with basicConstraints CA:TRUE, and a server certificate it signed with
subjectAltName IP:127.0.0.1,DNS:localhost and extendedKeyUsage serverAuth.
The CA key was discarded.
"""

import argparse
import asyncio
import base64
import email
import email.policy
import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HERE = os.path.dirname(os.path.abspath(__file__))


class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("busy"):
            return "451 4.3.0 Mailbox busy, try again later"
        if local.startswith("reject"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        attachments = []
        text = None
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_filename():
                attachments.append(
                    {
                        "filename": part.get_filename(),
                        "content_type": part.get_content_type(),
                        "content_base64": base64.b64encode(part.get_payload(decode=True)).decode(),
                    }
                )
            elif part.get_content_type() == "text/plain" and text is None:
                text = part.get_content()
        auth = session.auth_data
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {name: str(value) for name, value in message.items()},
            "text": text,
            "attachments": attachments,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
        }
        self.count += 1
        path = os.path.join(self.out, f"{self.count:04}.json")
        with open(path + ".tmp", "w") as file:
            json.dump(record, file)
        os.rename(path + ".tmp", path)
        return "250 OK queued"


def tls_context():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(HERE, "server.pem"), os.path.join(HERE, "server.key"))
    return context


async def main():
    # aiosmtpd's advice for real servers (AUTH without STARTTLS on the
    # implicit-TLS and plain test servers) is noise here.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["starttls", "tls", "plain"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        # handled=False: aiosmtpd then answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    handler = Handler(args.out)
    context = tls_context() if args.mode != "plain" else None
    options = {"hostname": "127.0.0.1", "ident": "konnecs-test-smtp"}
    if args.user is not None:
        options.update(authenticator=authenticator, auth_required=True)
    if args.mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif args.mode == "tls":
        # The whole session is TLS: aiosmtpd only knows STARTTLS sessions as such.
        options.update(auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, loop=loop, **options),
        host="127.0.0.1",
        port=0,
        ssl=context if args.mode == "tls" else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
