"""Reading the leads mailbox over IMAP: new messages by UID, each handed over once, then
flagged (and moved when a folder is set). Nothing is ever deleted.

How far the folder was read (its UIDVALIDITY and the last UID handled) is a row in the
database, so a restarted worker goes on where it stopped. Messages are read in batches; each
batch is flagged (or moved) once its messages are handled, and only then does the position
pass it: a worker stopped in between hands the batch over again on the next poll, where the
handler knows each message as a duplicate, and flags it then. A message over the size limit is
not downloaded: only its header section is fetched and handed over with its real size.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dealer_leads.extensions import db
from dealer_leads.messaging.models import MailboxState

log = logging.getLogger(__name__)

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")

# handle(raw, uid, full_size): store and act on one message (commits); its result is counted.
Handler = Callable[[bytes, int, int], object]


class MailboxError(Exception):
    """The server refused a step (log-in, folder); the message says which."""


@dataclass(frozen=True)
class ImapSettings:
    """Where the leads mailbox is and what to do with what was read."""

    host: str
    port: int
    username: str
    password: str
    use_ssl: bool = True
    ca_file: str = ""  # a private CA to trust besides the system's (a self-signed server)
    folder: str = "INBOX"
    move_to: str = ""
    flags: str = "\\Seen \\Flagged"
    timeout: float = 30
    batch: int = 200
    max_bytes: int = 25 * 1024 * 1024

    @classmethod
    def from_config(cls, config: Mapping) -> ImapSettings:
        """The IMAP_* settings."""
        return cls(
            host=config["IMAP_HOST"],
            port=int(config["IMAP_PORT"]),
            username=config["IMAP_USERNAME"],
            password=config["IMAP_PASSWORD"],
            use_ssl=bool(config["IMAP_USE_SSL"]),
            ca_file=config.get("IMAP_SSL_CA_FILE") or "",
            folder=config.get("IMAP_FOLDER") or "INBOX",
            move_to=config.get("IMAP_MOVE_TO") or "",
            flags=config.get("IMAP_PROCESSED_FLAGS", "\\Seen \\Flagged"),
            timeout=float(config.get("IMAP_TIMEOUT_SECONDS", 30)),
            batch=max(1, int(config.get("IMAP_BATCH", 200))),
            max_bytes=int(config.get("MAX_INBOUND_EMAIL_BYTES", 25 * 1024 * 1024)),
        )

    @property
    def mailbox(self) -> str:
        """The key of this folder's reading position."""
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"[:400]


@dataclass
class PollResult:
    """What one poll did: messages handed over, and whether the folder was read anew."""

    handled: int = 0
    restarted: bool = False
    results: list = field(default_factory=list)


def connect(settings: ImapSettings) -> imaplib.IMAP4:
    """A logged-in connection (IMAP4 or IMAP4_SSL with certificate checks)."""
    if settings.use_ssl:
        context = ssl.create_default_context(cafile=settings.ca_file or None)
        imap = imaplib.IMAP4_SSL(
            settings.host, settings.port, ssl_context=context, timeout=settings.timeout
        )
    else:
        imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
    try:
        imap.login(settings.username, settings.password)
    except imaplib.IMAP4.error as error:
        _logout(imap)
        raise MailboxError(f"log-in refused for {settings.username!r}: {error}") from error
    return imap


def poll(settings: ImapSettings, handle: Handler, now: datetime) -> PollResult:
    """Hand every message not handled yet to `handle`, oldest first, then flag (or move) it."""
    imap = connect(settings)
    try:
        return _poll(imap, settings, handle, now)
    finally:
        _logout(imap)


def _poll(imap: imaplib.IMAP4, settings: ImapSettings, handle: Handler, now: datetime):
    typ, data = imap.select(quote(settings.folder))
    if typ != "OK":
        raise MailboxError(f"cannot open folder {settings.folder!r}: {data!r}")
    uidvalidity = int((imap.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
    state, result = _state(settings.mailbox), PollResult()
    if state.uidvalidity != uidvalidity:
        # A new UIDVALIDITY renumbers the folder: read it all again (the handler knows every
        # message it stored, by Message-ID or by a hash of its bytes).
        result.restarted = state.uidvalidity != 0
        state.uidvalidity, state.last_uid = uidvalidity, 0
    state.polled_at = now
    db.session.commit()
    last, move = state.last_uid, _move_command(imap, settings)
    uids = [uid for uid in _search(imap, f"UID {last + 1}:*") if uid > last]
    for start in range(0, len(uids), settings.batch):
        chunk = uids[start : start + settings.batch]
        sizes = _fetch(imap, chunk, "RFC822.SIZE", sizes=True)
        small = [uid for uid in chunk if sizes.get(uid, 0) <= settings.max_bytes]
        bodies = _fetch(imap, small, "BODY.PEEK[]")
        bodies.update(_fetch(imap, [u for u in chunk if u not in small], "BODY.PEEK[HEADER]"))
        handled = [uid for uid in chunk if uid in bodies]  # expunged meanwhile: skipped
        for uid in handled:
            result.results.append(handle(bodies[uid], uid, sizes.get(uid, 0)))
            result.handled += 1
        _mark(imap, handled, settings, move)  # before the position passes them
        state = _state(settings.mailbox)  # the handler commits or rolls back
        state.last_uid = chunk[-1]
        db.session.commit()
    return result


def _state(mailbox: str) -> MailboxState:
    query = db.select(MailboxState).where(MailboxState.mailbox == mailbox)
    state = db.session.scalar(query)
    if state is None:
        state = MailboxState(mailbox=mailbox, uidvalidity=0, last_uid=0)
        db.session.add(state)
        db.session.flush()
    return state


def quote(folder: str) -> str:
    """A folder name as an IMAP quoted string (names may hold spaces)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _search(imap: imaplib.IMAP4, criteria: str) -> list[int]:
    typ, data = imap.uid("SEARCH", None, criteria)
    if typ != "OK":
        raise MailboxError(f"search refused: {data!r}")
    return sorted(int(uid) for uid in (data[0] or b"").split())


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _fetch(
    imap: imaplib.IMAP4, uids: list[int], what: str, *, sizes: bool = False
) -> dict[int, bytes | int]:
    """UID → the fetched literal (or RFC822.SIZE when `sizes`), whatever order the server
    puts UID and the data item in."""
    if not uids:
        return {}
    typ, data = imap.uid("FETCH", _uid_set(uids), f"(UID {what})")
    if typ != "OK":
        raise MailboxError(f"fetch refused: {data!r}")
    found: dict[int, bytes | int] = {}
    pending: bytes | None = None
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if not isinstance(head, bytes):
            continue
        uid = _UID.search(head)
        if sizes:
            size = _SIZE.search(head)
            if uid and size:
                found[int(uid.group(1))] = int(size.group(1))
        elif isinstance(item, tuple):
            if uid:
                found[int(uid.group(1))] = item[1]
            else:
                pending = item[1]
        elif uid and pending is not None:  # "UID n" came after the literal
            found[int(uid.group(1))], pending = pending, None
    return found


def _mark(imap: imaplib.IMAP4, uids: list[int], settings: ImapSettings, move: str) -> None:
    """Flag handled messages; with `move` (MOVE, or COPY where the server has no MOVE: never
    delete) put them in the folder set for them.

    A refusal is logged, not raised: the messages are handled already, and a flag or folder the
    server will not take must not hold up the messages after them. A lost connection raises."""
    if not uids:
        return
    steps = []
    if settings.flags.strip():
        steps.append(("STORE", "+FLAGS.SILENT", f"({settings.flags.strip()})"))
    if move:
        steps.append((move, quote(settings.move_to)))
    for command, *args in steps:
        try:
            typ, data = imap.uid(command, _uid_set(uids), *args)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:  # a BAD answer
            typ, data = "BAD", error
        if typ != "OK":
            log.warning("leads mailbox: %s of UID %s refused: %r", command, _uid_set(uids), data)


def _move_command(imap: imaplib.IMAP4, settings: ImapSettings) -> str:
    """MOVE, or COPY on a server without it, when handled messages go to a folder; else ''."""
    if not settings.move_to:
        return ""
    return "MOVE" if "MOVE" in _capabilities(imap) else "COPY"


def _capabilities(imap: imaplib.IMAP4) -> set[str]:
    """What the server offers once logged in (the greeting's list is often shorter)."""
    typ, data = imap.capability()
    words = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
    return set(words.upper().split()) | set(imap.capabilities) if typ == "OK" else set()


def _logout(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        imap.logout()
