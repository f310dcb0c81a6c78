"""Real local receivers for organiser alerts: an HTTP webhook (what Apprise's json:// scheme
posts to) and an SMTP server (what its mailto:// scheme talks to), both on 127.0.0.1.
I/O: one loopback listening socket each, for the life of the `with` block.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class WebhookReceiver:
    """Collects every JSON document POSTed to it; answers `status` (200 unless told otherwise)."""

    status: int = 200
    received: list[dict] = field(default_factory=list)

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                receiver.received.append(json.loads(self.rfile.read(length) or b"null"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        """The Apprise URL that posts here."""
        return f"json://127.0.0.1:{self._server.server_port}/alerts"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class SmtpReceiver:
    """An SMTP server (aiosmtpd) that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def __enter__(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller

        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
                receiver.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        with socket.socket() as probe:  # aiosmtpd cannot listen on port 0 and report it
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    @property
    def url(self) -> str:
        """The Apprise URL that mails here, in plain SMTP (no TLS on loopback)."""
        return (f"mailto://127.0.0.1:{self.port}?from=worker@example.org"
                "&to=organisers@example.org&mode=insecure")

    def texts(self) -> list[str]:
        """Subject plus plain-text body of each message."""
        out = []
        for message in self.messages:
            parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
            body = parts[0].get_payload(decode=True).decode() if parts else ""
            out.append(f"{message['Subject']}\n{body}")
        return out

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._controller.stop()
