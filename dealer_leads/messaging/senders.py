"""Mail senders, the side-effect adapters passed to whatever sends e-mail: SMTP, or log only.

`send(message) -> Message-ID`. Failures come back as two named errors the cadence engine acts on:
TemporarySendError (timeouts, refused or dropped connections, 4xx replies, our own set-up:
authentication or TLS, which a fixed setting cures) and PermanentSendError (5xx replies to this
message, an address that cannot be sent to). The server's reply text is in the message.

A sender made with `reuse=True` keeps its connection for the next message (the worker's tick
sends a batch) and checks it first without a round trip: a relay that closed it (an idle
timeout, a 421 before closing) has made the socket readable, and is met with a fresh connection
before anything is sent; `close()` ends it. Otherwise one connection per message.
"""

from __future__ import annotations

import logging
import select
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol

from dealer_leads.messaging.errors import PermanentSendError, SendError, TemporarySendError

__all__ = [
    "LogSender",
    "MailSender",
    "PermanentSendError",
    "SendError",
    "SmtpSender",
    "TemporarySendError",
    "mail_sender_from_config",
]

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 20.0  # seconds for the connection and for each reply
SMTPS_PORT = 465  # implicit TLS; 587 and 25 use STARTTLS


class MailSender(Protocol):
    def send(self, message: EmailMessage) -> str: ...


def _message_id(message: EmailMessage) -> str:
    message_id = message.get("Message-ID", "")
    if not message_id:
        raise ValueError("the message has no Message-ID (build it with build_email)")
    return str(message_id)


def _recipients(message: EmailMessage) -> list[str]:
    fields = [str(v) for key in ("To", "Cc", "Bcc") for v in message.get_all(key, [])]
    addresses = [address for _, address in getaddresses(fields)]
    if not addresses or any("@" not in address for address in addresses):
        raise PermanentSendError(f"no valid recipient address in {fields!r}")
    return addresses


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


def _classified(code: int, reply: str, what: str) -> SendError:
    if 400 <= code < 500:
        return TemporarySendError(f"{what}: {reply}")
    return PermanentSendError(f"{what}: {reply}")


class SmtpSender:
    """Sends through an SMTP relay (STARTTLS when use_tls, login when a username is set)."""

    def __init__(
        self,
        host: str,
        port: int = 587,
        username: str = "",
        password: str = "",
        use_tls: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        reuse: bool = False,
    ):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.use_tls, self.timeout, self.reuse = use_tls, timeout, reuse
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> str:
        """Hand the message to the relay; returns its Message-ID."""
        message_id = _message_id(message)
        recipients = _recipients(message)
        smtp = self._open()
        try:
            self._deliver(smtp, message, recipients)
        except TemporarySendError:
            self.close()  # dropped, or stopped mid-transaction: never reuse it
            raise
        finally:
            if not self.reuse:
                self.close()
        return message_id

    def close(self) -> None:
        """End the connection kept for reuse, if any."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            _quit(smtp)

    def _open(self) -> smtplib.SMTP:
        """The kept connection if the relay has not closed it, else a new one."""
        if self._smtp is not None:
            if _still_open(self._smtp):
                return self._smtp
            self.close()
        try:
            self._smtp = self._connect()
        except (smtplib.SMTPException, OSError) as error:  # timeouts, refusals, TLS, DNS, login
            raise TemporarySendError(f"SMTP {self.host}:{self.port}: {error}") from error
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        """Connected, greeted, secured and signed in: any failure here is temporary."""
        if self.port == SMTPS_PORT:
            context = ssl.create_default_context()
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.use_tls and self.port != SMTPS_PORT:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(self, smtp: smtplib.SMTP, message: EmailMessage, recipients: list[str]) -> None:
        """MAIL, RCPT, DATA: the server's reply code decides temporary or permanent."""
        try:
            refused = smtp.send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = min(error.recipients.values(), key=lambda reply: reply[0])
            raise _classified(code, _reply(code, text), "recipient refused") from error
        except smtplib.SMTPResponseException as error:  # sender refused, data refused…
            reply = _reply(error.smtp_code, error.smtp_error)
            raise _classified(error.smtp_code, reply, "message refused") from error
        except smtplib.SMTPNotSupportedError as error:  # e.g. a UTF-8 address without SMTPUTF8
            raise PermanentSendError(f"message refused: {error}") from error
        except (smtplib.SMTPException, OSError) as error:  # dropped or timed out mid-way
            raise TemporarySendError(f"SMTP {self.host}:{self.port}: {error}") from error
        if refused:  # some recipients refused, others accepted: the message went
            log.warning("SMTP %s: some recipients refused: %s", self.host, refused)


def _still_open(smtp: smtplib.SMTP) -> bool:
    """Whether a kept connection can take the next message. Between transactions a relay says
    nothing, so a readable socket means it closed the connection or is closing it (421); a NOOP
    would tell the same at the cost of a round trip per message."""
    sock = smtp.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed under us
        return False
    return not readable


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye; once DATA was accepted a failing QUIT must not turn into a resend."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class LogSender:
    """'Log only' mode (MAIL_SERVER empty): writes the message to the log instead of sending."""

    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or log

    def send(self, message: EmailMessage) -> str:
        """Log the headers and the plain-text part; returns the Message-ID."""
        message_id = _message_id(message)
        _recipients(message)
        text_part = message.get_body(preferencelist=("plain",))
        body = text_part.get_content() if text_part is not None else ""
        self.logger.info(
            "e-mail (log only, MAIL_SERVER is empty)\nTo: %s\nFrom: %s\nReply-To: %s\n"
            "Subject: %s\nMessage-ID: %s\nList-Unsubscribe: %s\n\n%s",
            message["To"],
            message["From"],
            message.get("Reply-To", ""),
            message["Subject"],
            message_id,
            message.get("List-Unsubscribe", ""),
            body,
        )
        return message_id


def mail_sender_from_config(config: Mapping, *, reuse: bool = False) -> MailSender:
    """SmtpSender from the MAIL_* settings, or LogSender when MAIL_SERVER is empty; `reuse`
    keeps one connection for many messages (close the sender when done)."""
    if not config.get("MAIL_SERVER"):
        return LogSender()
    return SmtpSender(
        host=config["MAIL_SERVER"],
        port=int(config.get("MAIL_PORT") or 587),
        username=config.get("MAIL_USERNAME") or "",
        password=config.get("MAIL_PASSWORD") or "",
        use_tls=bool(config.get("MAIL_USE_TLS", True)),
        timeout=float(config.get("MAIL_TIMEOUT") or DEFAULT_TIMEOUT),
        reuse=reuse,
    )
