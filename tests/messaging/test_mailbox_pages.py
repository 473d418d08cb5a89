"""The mailbox list: every received e-mail reachable a page at a time, the kind filter in the
query (however old the messages of that kind)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from support import login

from dealer_leads.extensions import db
from dealer_leads.leads.models import InboundPayload
from dealer_leads.messaging.mailbox_reads import list_mail


def stored(kind: str, n: int, *, status: str = "processed", size: int = 0) -> int:
    """One received e-mail as the mailbox stores it, with what it became."""
    raw = f"From: sender{n}@example.com\r\nSubject: Message {n}\r\n\r\n".encode() + b"x" * size
    row = InboundPayload(
        channel="email",
        raw=raw,
        content_type="message/rfc822",
        status=status,
        response={"kind": kind, "lead_ids": []},
    )
    db.session.add(row)
    db.session.flush()
    return row.id


@pytest.fixture
def inbox(app) -> list[int]:
    """Seven e-mails, oldest first: a bounce, then inquiries, then a reply."""
    ids = [stored("bounce", 0)] + [stored("inquiry", n) for n in range(1, 6)]
    ids.append(stored("reply", 6))
    db.session.add(InboundPayload(channel="form", raw=b"first_name=Ana", status="processed"))
    db.session.commit()
    return ids


def ids_of(page) -> list[int]:
    return [row.inbound.id for row in page.rows]


def test_pages_go_back_to_the_first_message_and_forward_again(inbox):
    newest = list(reversed(inbox))
    first = list_mail(per_page=3)
    assert ids_of(first) == newest[:3] and first.newer is None
    second = list_mail(before=first.older, per_page=3)
    assert ids_of(second) == newest[3:6]
    last = list_mail(before=second.older, per_page=3)
    assert ids_of(last) == newest[6:] and last.older is None and last.newer == newest[6]
    assert ids_of(list_mail(after=last.newer, per_page=3)) == newest[3:6]
    back = list_mail(after=second.newer, per_page=3)
    assert ids_of(back) == newest[:3] and back.newer is None and back.older == newest[2]


def test_kind_filter_finds_old_messages_past_many_newer_ones(inbox):
    # Far more newer messages of other kinds than any window a page would scan.
    for n in range(7, 40):
        stored("inquiry", n)
    db.session.commit()
    page = list_mail("bounce", per_page=2)
    assert ids_of(page) == [inbox[0]] and page.older is None
    assert [row.kind for row in page.rows] == ["bounce"]
    replies = list_mail("reply", per_page=1)
    assert ids_of(replies) == [inbox[-1]] and replies.older is None


def test_kind_filter_pages_within_the_kind(inbox):
    page = list_mail("inquiry", per_page=2)
    assert ids_of(page) == [inbox[5], inbox[4]]
    assert ids_of(list_mail("inquiry", before=page.older, per_page=2)) == [inbox[3], inbox[2]]


def test_waiting_for_a_person_and_too_large(app):
    big = stored("too_large", 1, status="failed")
    review = stored("needs_review", 2, status="failed")
    handled = stored("inquiry", 3)
    db.session.commit()
    assert ids_of(list_mail("needs_review")) == [review, big]
    assert ids_of(list_mail("too_large")) == [big]
    assert ids_of(list_mail("inquiry")) == [handled]


def test_the_list_reads_only_the_head_of_large_messages(app):
    stored("inquiry", 1, size=300_000)
    db.session.commit()
    (row,) = list_mail().rows
    assert row.mail.subject == "Message 1" and row.mail.from_address == "sender1@example.com"
    assert "raw" in inspect(row.inbound).unloaded


def test_mailbox_page_links_older_and_newer(inbox, client, make_user, app):
    for n in range(7, 60):
        stored("inquiry", n)
    db.session.commit()
    login(client, make_user("supervisor"))
    first = client.get("/mailbox").text
    assert "Older →" in first and "← Newer" not in first
    assert f">#{inbox[0]}<" not in first
    older = client.get(f"/mailbox?before={inbox[5] + 1}").text
    assert f">#{inbox[5]}<" in older and f">#{inbox[0]}<" in older
    assert "← Newer" in older and "Newest" in older and "Older →" not in older
    only = client.get("/mailbox?kind=bounce").text
    assert f">#{inbox[0]}<" in only and "kind-inquiry" not in only
    for wrong in ("before=abc", "after=-1", "kind=nope"):
        assert client.get(f"/mailbox?{wrong}").status_code == 400


def test_mailbox_page_is_for_the_supervisor(inbox, client, make_user):
    login(client, make_user("advisor"))
    assert client.get("/mailbox?before=5").status_code == 403
