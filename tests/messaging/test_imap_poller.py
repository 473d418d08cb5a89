"""The IMAP poll against a real Dovecot on loopback: messages APPENDed, polled twice, a worker
restart, flags, moving, UIDVALIDITY, too-large messages. Without the dovecot binary these skip
visibly, unless REQUIRE_DOVECOT=1 (CI) turns the skip into a failure."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime

import mail_corpus as corpus
import pytest
from sqlalchemy import func, select

from bench.mailbox_support import DovecotServer, dovecot_binary
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import InboundPayload, Lead
from dealer_leads.messaging.imap_poller import ImapSettings, MailboxError, poll
from dealer_leads.messaging.mailbox_jobs import poll_mailbox
from dealer_leads.messaging.mailbox_services import receive_email
from dealer_leads.messaging.models import MailboxState

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def require_dovecot() -> None:
    """Skip without the dovecot binary, or fail when REQUIRE_DOVECOT=1."""
    if dovecot_binary() is None:
        message = "dovecot not installed (apt-get install dovecot-imapd): IMAP tests need it"
        if os.environ.get("REQUIRE_DOVECOT") == "1":
            pytest.fail(f"{message}, and REQUIRE_DOVECOT=1 is set", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def dovecot():
    """A private Dovecot with an empty mailbox."""
    require_dovecot()
    server = DovecotServer().start()
    yield server
    server.stop()


def test_imap_over_tls(app_factory):
    require_dovecot()
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed: the TLS test makes its certificate with it")
    server = DovecotServer(use_ssl=True).start()
    try:
        server.append([corpus.plain_inquiry()])
        app = app_factory(**server.settings())
        with app.app_context():
            assert poll_mailbox().handled == 1
            assert count(Lead) == 1
        untrusted = app_factory(**server.settings(IMAP_SSL_CA_FILE=""))
        with untrusted.app_context():
            assert poll_mailbox() is None  # an unknown certificate is refused, not trusted
    finally:
        server.stop()


@pytest.fixture
def mailbox_app(app_factory, dovecot):
    def make(**overrides):
        return app_factory(**dovecot.settings(**overrides))

    return make


def corpus_messages() -> list[bytes]:
    return [
        corpus.adf_as_text(email="a@example.com"),
        corpus.adf_as_html(email="b@example.com"),
        corpus.adf_as_attachment(email="c@example.com"),
        corpus.adf_quoted_printable_latin1(),
        corpus.plain_inquiry(),
        corpus.form_mailer(),
        corpus.out_of_office(corpus.DEALER),
        corpus.bounce("gone@example.com", "<nothing@dealer.example>"),
    ]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def kinds() -> list[str]:
    rows = db.session.scalars(select(InboundPayload).order_by(InboundPayload.id))
    return [(row.response or {}).get("kind") for row in rows]


def test_two_polls_and_a_restart_process_each_message_once(mailbox_app, dovecot):
    dovecot.append(corpus_messages())
    app = mailbox_app()
    with app.app_context():
        first = poll_mailbox()
        assert first.handled == 8
        assert kinds() == [
            "adf", "adf", "adf", "adf", "inquiry", "inquiry", "auto_reply", "bounce"
        ]  # fmt: skip
        assert count(Lead) == 6
        assert poll_mailbox().handled == 0  # nothing new
    assert all("\\Seen" in f and "\\Flagged" in f for f in dovecot.flags().values())
    dovecot.append([corpus.plain_inquiry(sender="New Person <new@example.com>")])
    restarted = mailbox_app()  # a new worker process: the position comes from the database
    with restarted.app_context():
        assert poll_mailbox().handled == 1
        assert count(InboundPayload) == 9 and count(Lead) == 7
        state = db.session.scalar(select(MailboxState))
        assert state.last_uid == 9 and state.uidvalidity > 0
    assert dovecot.count("INBOX") == 9  # never deleted


def test_processed_messages_can_be_moved(mailbox_app, dovecot):
    dovecot.append([corpus.plain_inquiry()], folder="Leads In")
    dovecot.append([], folder="Done")
    app = mailbox_app(IMAP_FOLDER="Leads In", IMAP_MOVE_TO="Done")
    with app.app_context():
        assert poll_mailbox().handled == 1
        assert poll_mailbox().handled == 0
    assert dovecot.count("Done") == 1 and dovecot.count("Leads In") == 0


def test_new_uidvalidity_reads_again_without_acting_twice(mailbox_app, dovecot):
    dovecot.append([corpus.adf_as_text(), corpus.plain_inquiry()])
    app = mailbox_app()
    with app.app_context():
        assert poll_mailbox().handled == 2
        state = db.session.scalar(select(MailboxState))
        state.uidvalidity += 1  # as if the server had rebuilt the folder
        db.session.commit()
        result = poll_mailbox()
        assert result.restarted and result.handled == 2
        assert {o.kind for o in result.results} == {"duplicate"}
        assert count(Lead) == 2 and count(InboundPayload) == 2


def without_message_id(raw: bytes) -> bytes:
    """The message as some form mailers send it: no Message-ID header."""
    stripped = re.sub(rb"(?mi)^Message-ID:.*\r?\n", b"", raw)
    assert b"message-id" not in stripped.lower()
    return stripped


def marked(flags: dict[int, str]) -> set[int]:
    """The UIDs carrying the flags the poll sets."""
    return {uid for uid, f in flags.items() if "\\Seen" in f and "\\Flagged" in f}


class WorkerStopped(Exception):
    """The worker process ending between two steps of a poll."""


def stopping_after(n: int):
    """The worker's own handler, but the worker stops right after the n-th message is handled
    (stored and acted on, committed), before the poll goes on."""
    handled = []

    def handle(raw: bytes, uid: int, size: int):
        outcome = receive_email(raw, now_utc(), full_size=size)
        handled.append(uid)
        if len(handled) == n:
            raise WorkerStopped
        return outcome

    return handle


@pytest.mark.parametrize("move_to", ["", "Done"], ids=["flag", "move"])
def test_messages_handled_before_a_stop_are_flagged_once_the_worker_is_back(
    mailbox_app, dovecot, move_to
):
    no_message_id = without_message_id(corpus.form_mailer())
    dovecot.append([corpus.plain_inquiry(), no_message_id], folder="Leads In")
    dovecot.append([], folder="Done")
    app = mailbox_app(IMAP_FOLDER="Leads In", IMAP_MOVE_TO=move_to)
    with app.app_context():
        with pytest.raises(WorkerStopped):
            poll(ImapSettings.from_config(app.config), stopping_after(2), NOW)
        assert count(InboundPayload) == 2 and count(Lead) == 2
        # Neither flagged yet, and the position has not passed them.
        assert db.session.scalar(select(MailboxState.last_uid)) == 0
        assert dovecot.count("Leads In") == 2 and not marked(dovecot.flags("Leads In"))
        restarted = poll_mailbox()
        # Known again (the second by its bytes, as it has no Message-ID), then flagged.
        assert [o.kind for o in restarted.results] == ["duplicate", "duplicate"]
        assert count(InboundPayload) == 2 and count(Lead) == 2
        assert poll_mailbox().handled == 0
    if move_to:
        assert dovecot.count("Leads In") == 0
    assert marked(dovecot.flags(move_to or "Leads In")) == {1, 2}


def test_each_batch_is_flagged_before_the_next_is_read(mailbox_app, dovecot):
    dovecot.append([corpus.plain_inquiry(), corpus.form_mailer()], folder="Leads In")
    dovecot.append([], folder="Done")
    app = mailbox_app(IMAP_FOLDER="Leads In", IMAP_MOVE_TO="Done", IMAP_BATCH=1)
    with app.app_context():
        with pytest.raises(WorkerStopped):
            poll(ImapSettings.from_config(app.config), stopping_after(2), NOW)
        assert marked(dovecot.flags("Done")) == {1} and dovecot.count("Leads In") == 1
        assert [o.kind for o in poll_mailbox().results] == ["duplicate"]
    assert dovecot.count("Done") == 2 and dovecot.count("Leads In") == 0


def test_new_uidvalidity_knows_messages_without_a_message_id(mailbox_app, dovecot):
    dovecot.append([without_message_id(m) for m in (corpus.plain_inquiry(), corpus.form_mailer())])
    app = mailbox_app()
    with app.app_context():
        assert [o.kind for o in poll_mailbox().results] == ["inquiry", "inquiry"]
        state = db.session.scalar(select(MailboxState))
        state.uidvalidity += 1  # as if the server had rebuilt the folder
        db.session.commit()
        result = poll_mailbox()
        assert result.restarted and [o.kind for o in result.results] == ["duplicate"] * 2
        assert count(Lead) == 2 and count(InboundPayload) == 2


def test_a_folder_refusing_the_move_does_not_hold_up_the_mailbox(mailbox_app, dovecot, caplog):
    dovecot.append([corpus.plain_inquiry(), corpus.form_mailer()])
    app = mailbox_app(IMAP_MOVE_TO="No Such Folder")
    with app.app_context():
        assert poll_mailbox().handled == 2
        dovecot.append([corpus.plain_inquiry(sender="New Person <new@example.com>")])
        assert poll_mailbox().handled == 1
        assert count(Lead) == 3
    assert marked(dovecot.flags()) == {1, 2, 3} and dovecot.count("INBOX") == 3
    assert "MOVE of UID 1,2 refused" in caplog.text and "MOVE of UID 3 refused" in caplog.text


def test_message_over_the_limit_is_kept_with_its_headers(mailbox_app, dovecot):
    big = corpus.plain_inquiry().replace(b"Hello,", b"Hello," + b"y" * 50_000)
    dovecot.append([big])
    app = mailbox_app(MAX_INBOUND_EMAIL_BYTES=20_000)
    with app.app_context():
        (outcome,) = poll_mailbox().results
        assert outcome.kind == "too_large"
        inbound = db.session.get(InboundPayload, outcome.inbound_id)
        assert b"Subject: Question about a used Tacoma" in inbound.raw
        assert b"yyyy" not in inbound.raw and "too large" in inbound.error


def test_a_failing_message_does_not_stop_the_poll(mailbox_app, dovecot, monkeypatch):
    from dealer_leads.messaging import mailbox_services

    dovecot.append([corpus.plain_inquiry(), corpus.form_mailer()])
    real, calls = mailbox_services._act, []

    def first_one_fails(inbound, now, sender=None):
        calls.append(inbound.id)
        if len(calls) == 1:
            raise RuntimeError("simulated fault")
        return real(inbound, now, sender)

    monkeypatch.setattr(mailbox_services, "_act", first_one_fails)
    app = mailbox_app()
    with app.app_context():
        result = poll_mailbox()
        assert [o.kind for o in result.results] == ["needs_review", "inquiry"]
        failed = db.session.get(InboundPayload, result.results[0].inbound_id)
        assert failed.status == "failed" and "simulated fault" in failed.error
        assert b"Tacoma" in failed.raw  # kept whole, for a person to read


def test_wrong_password_is_reported_not_raised(mailbox_app, dovecot, caplog):
    app = mailbox_app(IMAP_PASSWORD="wrong")
    with app.app_context():
        assert poll_mailbox() is None
        with pytest.raises(MailboxError, match="log-in refused"):
            poll(ImapSettings.from_config(app.config), lambda *a: None, NOW)
    assert "poll failed" in caplog.text


def test_no_imap_host_means_no_poll(app):
    app.config["IMAP_HOST"] = ""
    assert poll_mailbox() is None
