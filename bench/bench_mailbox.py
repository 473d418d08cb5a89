"""The leads mailbox: one IMAP poll of 1,000 new messages, and a poll with nothing new, against
a private Dovecot on loopback, on a fresh migrated SQLite database (PostgreSQL with --engine).

Real: `poll_mailbox()` as `flask worker` runs it: search by UID, fetch, store each message raw,
classify it and act (ADF and inquiries through the intake service, replies, out-of-office
notes, bounces), save the UID, flag. Baselines, in the same run and on the same server: the
IMAP transfer alone (the same SEARCH and FETCH, nothing stored), and the same messages read
and classified without a database (`read_mail`), which is the floor the database work sits on.

Targets: the 1,000-message poll in at most 60 s; the empty poll in at most 1 s.

    .venv/bin/python -m bench.bench_mailbox [--messages 1000] [--engine sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import func, select

from bench.bench_app import create_bench_app, postgres_available, temporary_database
from bench.mailbox_support import DovecotServer, dovecot_binary
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.messaging.imap_poller import ImapSettings, _fetch, _search, connect, quote
from dealer_leads.messaging.mail_in import read_mail
from dealer_leads.messaging.mailbox_jobs import poll_mailbox

FULL_TARGET, EMPTY_TARGET = 60.0, 1.0
ADF = """<?xml version="1.0" encoding="UTF-8"?>
<?adf version="1.0"?>
<adf><prospect status="new"><id sequence="1" source="Autotrader">AT-{n}</id>
<vehicle interest="buy" status="used"><year>2022</year><make>Toyota</make><model>RAV4</model>
</vehicle><customer><contact><name part="first">Alex</name><name part="last">Buyer{n}</name>
<email>alex{n}@example.com</email><phone type="voice">+1416{n:07d}</phone></contact>
<comments>Is it available?</comments></customer>
<vendor><vendorname>Maple Ridge Motors</vendorname></vendor></prospect></adf>
"""
BOUNCE = """From: MAILER-DAEMON@mx.example
To: leads@dealer.example
Subject: Undelivered
Message-ID: {id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Could not deliver.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; gone{n}@example.com
Action: failed
Status: 5.1.1

--B--
"""


def message(n: int) -> bytes:
    """A realistic mix: ADF leads, plain inquiries, out-of-office notes and bounces."""
    mail = EmailMessage()
    mail["To"] = "leads@dealer.example"
    mail["Message-ID"] = make_msgid(domain="bench.example")
    mail["Date"] = "Tue, 10 Mar 2026 09:31:00 -0500"
    kind = n % 10
    if kind < 5:
        mail["From"], mail["Subject"] = "leads@autotrader.example", f"New lead {n}"
        mail.set_content(ADF.format(n=n))
    elif kind < 8:
        mail["From"], mail["Subject"] = f"Pat {n} <pat{n}@example.com>", "Question"
        mail.set_content(f"Hello, is the 2021 Tacoma still there?\n\nPat {n}\n")
    elif kind == 8:
        mail["From"], mail["Subject"] = f"sam{n}@example.com", "Out of office"
        mail["Auto-Submitted"] = "auto-replied"
        mail.set_content("Away until Monday.\n")
    else:
        return BOUNCE.format(n=n, id=mail["Message-ID"]).replace("\n", "\r\n").encode()
    return bytes(mail)


def transfer_only(settings: ImapSettings) -> float:
    """Baseline: the poll's IMAP round trips (search, sizes, bodies), nothing stored."""
    started = time.perf_counter()
    imap = connect(settings)
    imap.select(quote(settings.folder), readonly=True)
    uids = _search(imap, "UID 1:*")
    for start in range(0, len(uids), settings.batch):
        chunk = uids[start : start + settings.batch]
        _fetch(imap, chunk, "RFC822.SIZE", sizes=True)
        _fetch(imap, chunk, "BODY.PEEK[]")
    imap.logout()
    return time.perf_counter() - started


def run(engine: str, count: int) -> bool:
    """One engine: load the mailbox, time the baselines, the full poll and an empty poll."""
    server = DovecotServer().start()
    try:
        messages = [message(n) for n in range(count)]
        server.append(messages)
        with temporary_database(engine) as url:
            app = create_bench_app(SQLALCHEMY_DATABASE_URI=url, **server.settings())
            with app.app_context():
                settings = ImapSettings.from_config(app.config)
                transfer = transfer_only(settings)
                started = time.perf_counter()
                kinds = Counter(read_mail(raw).automatic for raw in messages)
                parse = time.perf_counter() - started
                started = time.perf_counter()
                result = poll_mailbox()
                full = time.perf_counter() - started
                started = time.perf_counter()
                empty_result = poll_mailbox()
                empty = time.perf_counter() - started
                leads = db.session.scalar(select(func.count()).select_from(Lead))
    finally:
        server.stop()
    outcome = Counter(o.kind for o in result.results)
    print(f"\n[{engine}] {count} messages ({kinds[True]} automatic) in the leads mailbox")
    print(f"  baseline: IMAP transfer only          {transfer:7.2f} s")
    print(f"  baseline: read + classify, no database {parse:7.2f} s")
    print(f"  poll of {result.handled} new messages          {full:7.2f} s  "
          f"({result.handled / full:.0f} msg/s; target <= {FULL_TARGET:.0f} s)")  # fmt: skip
    print(f"  poll with nothing new ({empty_result.handled} handled)  {empty:7.3f} s  "
          f"(target <= {EMPTY_TARGET:.0f} s)")  # fmt: skip
    print(f"  outcomes: {dict(sorted(outcome.items()))}; leads created: {leads}")
    return result.handled == count and full <= FULL_TARGET and empty <= EMPTY_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    if dovecot_binary() is None:
        print("dovecot is not installed (apt-get install dovecot-imapd); nothing measured")
        return 2
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    ok = True
    for engine in engines:
        if engine == "postgresql" and (why := postgres_available()):
            print(f"[postgresql] skipped: {why}")
            continue
        ok = run(engine, args.messages) and ok
    print("\nPASS" if ok else "\nFAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
