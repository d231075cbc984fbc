"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """Every text part, decoded (the notices are HTML with the text in a <pre>)."""
        import html

        parts = [
            part.get_content()
            for part in self.message.walk()
            if part.get_content_maintype() == "text"
        ]
        return html.unescape("\n".join(parts))


@dataclass
class SmtpServer:
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _server, session, envelope):  # noqa: N802 - aiosmtpd's name
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                server.received.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), message)
                )
                return "250 OK"

        with socket.socket() as probe:  # aiosmtpd connects to its own port to start: no port 0
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def env(self, to: str = "ict@example.gov.vn") -> dict[str, str]:
        """The DTI settings that send the notices here."""
        return {
            "DTI_SMTP_HOST": "127.0.0.1",
            "DTI_SMTP_PORT": str(self.port),
            "DTI_MAIL_FROM": "dti-pipeline@example.gov.vn",
            "DTI_MAIL_TO": to,
        }

    def wait_for(self, predicate, timeout: float = 60) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.received):
                if predicate(message):
                    return message
            time.sleep(0.2)
        subjects = [m.subject for m in self.received]
        raise AssertionError(f"no such message after {timeout:.0f}s; received: {subjects}")

    def close(self) -> None:
        self._controller.stop()
