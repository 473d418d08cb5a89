"""The SMTP sender against a real SMTP server (aiosmtpd) on loopback, and the log-only sender."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from contextlib import contextmanager
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from dealer_leads.messaging.email import build_email, reply_address
from dealer_leads.messaging.senders import (
    LogSender,
    PermanentSendError,
    SmtpSender,
    TemporarySendError,
    mail_sender_from_config,
)
from dealer_leads.messaging.templates import Rendered

HOST = "127.0.0.1"


class Collecting:
    """Accepts everything and keeps the envelopes."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK queued"


class RefusingRecipient(Collecting):
    def __init__(self, reply: str):
        super().__init__()
        self.reply = reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply


class RefusingData(RefusingRecipient):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return self.reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(handler, **options):
    controller = Controller(handler, hostname=HOST, port=free_port(), **options)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def message(to: str = "dana@example.com") -> EmailMessage:
    return build_email(
        rendered=Rendered("Your inquiry about the CR-V", "Hi Dana,\n\nIt's here.\n", "<p>Hi</p>"),
        to=to,
        from_addr="Maple Ridge Motors <leads@dealer.example>",
        reply_to=reply_address("leads@dealer.example", "abcdefgh23456789"),
        message_id_domain="dealer.example",
        unsubscribe_url="https://dealer.example/unsubscribe/tok",
        dealership_footer_text="Maple Ridge Motors · 100 King St W, Toronto",
        dealership_footer_html="Maple Ridge Motors &middot; 100 King St W, Toronto",
    )


def sender(port: int, **options) -> SmtpSender:
    return SmtpSender(HOST, port, use_tls=False, timeout=options.pop("timeout", 5), **options)


def test_message_delivered_with_envelope_and_headers():
    handler = Collecting()
    outgoing = message()
    with smtp_server(handler) as port:
        message_id = sender(port).send(outgoing)
    assert message_id == outgoing["Message-ID"]
    [envelope] = handler.envelopes
    assert envelope.mail_from == "leads@dealer.example"
    assert envelope.rcpt_tos == ["dana@example.com"]
    received = envelope.content.decode()
    assert f"Message-ID: {message_id}" in received
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in received
    assert "Reply-To: leads+abcdefgh23456789@dealer.example" in received
    assert "multipart/alternative" in received and "It's here." in received


class Counting(Collecting):
    """Counts connections (one EHLO each) and NOOPs; `closing` makes the relay hang up after
    each message, saying `closing` first when it is a reply (an idle timeout's 421)."""

    def __init__(self, closing: str | None = None, hang_up: bool = False):
        super().__init__()
        self.greetings = self.noops = 0
        self.closing, self.hang_up = closing, hang_up

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_NOOP(self, server, session, envelope, arg):
        self.noops += 1
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        if self.hang_up:
            asyncio.get_running_loop().call_later(0.05, self._hang_up, server.transport)
        return "250 OK queued"

    def _hang_up(self, transport):
        if self.closing:
            transport.write(f"{self.closing}\r\n".encode())
        transport.close()


def test_a_reusing_sender_sends_a_batch_over_one_connection_without_round_trips():
    handler = Counting()
    with smtp_server(handler) as port:
        mail = sender(port, reuse=True)
        sent = [mail.send(message(f"buyer{n}@example.com")) for n in range(3)]
        mail.close()
    assert [e.rcpt_tos for e in handler.envelopes] == [[f"buyer{n}@example.com"] for n in range(3)]
    assert len(set(sent)) == 3
    assert (handler.greetings, handler.noops) == (1, 0)


@pytest.mark.parametrize("closing", [None, "421 4.4.2 Idle timeout, closing connection"])
def test_a_connection_the_relay_closed_is_replaced_before_anything_is_sent(closing):
    handler = Counting(closing=closing, hang_up=True)
    with smtp_server(handler) as port:
        mail = sender(port, reuse=True)
        mail.send(message("first@example.com"))
        time.sleep(0.3)  # the relay hangs up between the two messages
        mail.send(message("second@example.com"))
        mail.close()
    assert [e.rcpt_tos for e in handler.envelopes] == [
        ["first@example.com"],
        ["second@example.com"],
    ]
    assert handler.greetings == 2


def test_login_when_a_username_is_set():
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"relay-user", b"s3cret")
        return AuthResult(success=ok, handled=False)

    handler = Collecting()
    options = {"authenticator": authenticate, "auth_require_tls": False}
    with smtp_server(handler, **options) as port:
        sender(port, username="relay-user", password="s3cret").send(message())
        with pytest.raises(TemporarySendError, match="535"):  # our set-up: fix it, retries go
            sender(port, username="relay-user", password="wrong").send(message())
    assert len(handler.envelopes) == 1


def test_451_is_temporary_with_the_server_reply():
    with (
        smtp_server(RefusingData("451 4.3.0 Mailbox busy, try again later")) as port,
        pytest.raises(TemporarySendError, match="451 4.3.0 Mailbox busy"),
    ):
        sender(port).send(message())


def test_450_recipient_is_temporary():
    with (
        smtp_server(RefusingRecipient("450 4.2.1 Too many messages for this user")) as port,
        pytest.raises(TemporarySendError, match="450 4.2.1"),
    ):
        sender(port).send(message())


def test_550_recipient_is_permanent_with_the_server_reply():
    with (
        smtp_server(RefusingRecipient("550 5.1.1 No such user here")) as port,
        pytest.raises(PermanentSendError, match="550 5.1.1 No such user here"),
    ):
        sender(port).send(message())


def test_554_on_data_is_permanent():
    with (
        smtp_server(RefusingData("554 5.7.1 Message rejected as spam")) as port,
        pytest.raises(PermanentSendError, match="554 5.7.1"),
    ):
        sender(port).send(message())


def test_bad_recipient_is_permanent_without_connecting():
    broken = EmailMessage()
    broken["To"] = "nobody"
    broken["Message-ID"] = "<x@dealer.example>"
    with pytest.raises(PermanentSendError, match="recipient"):
        sender(free_port()).send(broken)


def test_nothing_listening_is_temporary():
    with pytest.raises(TemporarySendError, match="refused"):
        sender(free_port()).send(message())


def test_a_silent_server_times_out_as_temporary():
    with socket.socket() as silent:  # accepts connections (the kernel does) and never speaks
        silent.bind((HOST, 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(TemporarySendError, match="timed out"):
            sender(silent.getsockname()[1], timeout=0.5).send(message())
    assert time.monotonic() - started < 5


def test_starttls_required_but_not_offered_is_temporary():
    with smtp_server(Collecting()) as port, pytest.raises(TemporarySendError, match="STARTTLS"):
        SmtpSender(HOST, port, use_tls=True, timeout=5).send(message())


def test_log_sender_logs_instead_of_sending(caplog):
    outgoing = message()
    with caplog.at_level(logging.INFO, logger="dealer_leads.messaging.senders"):
        assert LogSender().send(outgoing) == outgoing["Message-ID"]
    [record] = caplog.records
    logged = record.getMessage()
    assert "log only" in logged and "To: dana@example.com" in logged
    assert "Subject: Your inquiry about the CR-V" in logged and "It's here." in logged


def test_sender_from_config():
    assert isinstance(mail_sender_from_config({"MAIL_SERVER": ""}), LogSender)
    smtp = mail_sender_from_config(
        {
            "MAIL_SERVER": "smtp.example.com",
            "MAIL_PORT": 2525,
            "MAIL_USERNAME": "u",
            "MAIL_PASSWORD": "p",
            "MAIL_USE_TLS": False,
        }
    )
    assert isinstance(smtp, SmtpSender)
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.use_tls) == (
        "smtp.example.com",
        2525,
        "u",
        "p",
        False,
    )
