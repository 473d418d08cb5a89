"""One feed file written on request (`flask feeds export`), under the builds' removal guard.

An export goes somewhere the scheduled build does not (a listing site's upload folder, say), so
it answers to the same rules: the file is written to a temporary file beside the target and
renamed into place only when the removal guard lets it go (a held export leaves the target as it
was), and a published export is recorded like a build, so the change report compares the next
build or export with what this one sent out. Its snapshot, like a build's, holds every vehicle
listed in any feed, whichever file was written, so builds and exports compare with each other.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from dealer_leads.extensions import db
from dealer_leads.inventory.feed_files import (
    FEED_FILES,
    BuildResult,
    compare,
    held_reason,
    last_export,
    make_writers,
    record_held,
    record_published,
    write_batch,
)
from dealer_leads.inventory.feed_quality import QualityReport
from dealer_leads.inventory.feed_services import feed_batches


class _TextOutput:
    """A temporary text file beside the target, with the rows written to it counted."""

    def __init__(self, folder: Path) -> None:
        handle, self.path = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        self.file = os.fdopen(handle, "w", encoding="utf-8", newline="")
        self.rows = 0

    def write(self, text: str) -> None:
        self.file.write(text)

    def discard(self) -> None:
        self.file.close()
        Path(self.path).unlink(missing_ok=True)


def _write(name: str, now: datetime, output: _TextOutput) -> tuple[QualityReport, dict]:
    writer = make_writers()[name]
    report, snapshot = QualityReport(), {}
    output.write(writer.head())
    for batch in feed_batches(now):
        write_batch(batch, {name: writer}, {name: output}, report, snapshot)
    output.write(writer.tail())
    output.file.close()
    return report, snapshot


def export_feed(name: str, now: datetime, target: Path, *, force: bool = False) -> BuildResult:
    """Write one feed file (a FEED_FILES name) to `target` unless held; record it. One transaction.

    `force` writes an export the removal guard would hold (the webmaster checked the stock)."""
    if name not in FEED_FILES:
        raise ValueError(f"unknown feed file {name!r}")
    output = _TextOutput(target.parent)
    try:
        report, snapshot = _write(name, now, output)
    except BaseException:
        output.discard()
        raise
    before = last_export()
    changes = compare(before.snapshot if before else {}, snapshot)
    listed = {name: output.rows}
    reason = "" if force else held_reason(before, changes)
    if reason:
        output.discard()
        note = f"flask feeds export {name} held, {target.name} not written: {reason}"
        export = record_held(now, listed, changes, note)
        db.session.commit()
        return BuildResult("held", listed, changes, report, export, reason)
    try:
        os.chmod(output.path, 0o644)
        os.replace(output.path, target)
    except BaseException:
        output.discard()
        raise
    note = f"flask feeds export {name} to {target.name}"
    export = record_published(now, before, listed, snapshot, changes, note)
    db.session.commit()
    return BuildResult("published", listed, changes, report, export)
