"""Feed files under FEEDS_DIR: built in one pass over the stock, published atomically.

A build writes every feed (and a gzip copy of each) to temporary files, batch by batch, hashing
the bytes as they go. Each published file is named by its hash (`inventory.<hash>.csv`) and
`manifest.json` names the current ones, so a consumer never reads half a file, and the ETag (the
hash) and Last-Modified (when those bytes were first published) stay the same while the content
does not change. The previous build's files are kept until the next one, for downloads under way.

Safety: a build that would drop more than FEED_MAX_REMOVED_PERCENT of the vehicles listed by the
last export (a DMS file that lost most of the stock, say) is held: the files stay as they were,
and the webmaster sees a held export with the reason. A failed or partial DMS import never marks
vehicles sold (imports.py), so it cannot remove any from a feed either.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from dealer_leads.extensions import db
from dealer_leads.inventory.feed_json import JsonWriter
from dealer_leads.inventory.feed_meta import MetaWriter
from dealer_leads.inventory.feed_models import FeedExport
from dealer_leads.inventory.feed_quality import QualityReport, blocked
from dealer_leads.inventory.feed_services import (
    FeedEntry,
    csv_columns,
    feed_batches,
    feed_context,
)
from dealer_leads.inventory.feeds import CsvWriter, FeedVehicle, GoogleWriter

FEED_FILES = {  # public file name -> quality target
    "inventory.csv": "csv",
    "inventory.json": "json",
    "google-vehicle-listings.tsv": "google",
    "meta-catalog.csv": "meta",
}
MEDIA_TYPES = {  # Werkzeug adds "; charset=utf-8" to the text/ types
    "inventory.csv": "text/csv",
    "inventory.json": "application/json",
    "google-vehicle-listings.tsv": "text/tab-separated-values",
    "meta-catalog.csv": "text/csv",
}
MANIFEST = "manifest.json"
QUALITY = "quality.json"
CHANGES_KEPT = 200  # vehicles listed per kind of change
DEFAULT_MAX_REMOVED_PERCENT = 50
GUARD_MIN_VEHICLES = 10  # below this, any share may go (a small lot sells out)


def feeds_dir() -> Path:
    return Path(current_app.config["FEEDS_DIR"])


def make_writers() -> dict[str, Any]:
    """A fresh writer per feed file (writers keep state between batches)."""
    context = feed_context()
    return {
        "inventory.csv": CsvWriter(csv_columns()),
        "inventory.json": JsonWriter(context),
        "google-vehicle-listings.tsv": GoogleWriter(context),
        "meta-catalog.csv": MetaWriter(context),
    }


class _Output:
    """A temporary feed file and its gzip twin, hashed as written."""

    def __init__(self, folder: Path) -> None:
        handle, self.path = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        self.file = os.fdopen(handle, "wb")
        handle, self.gz_path = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        self.gz_file = os.fdopen(handle, "wb")
        # mtime=0: the same bytes give the same gzip bytes (no timestamp in the header)
        self.gz = gzip.GzipFile(fileobj=self.gz_file, mode="wb", compresslevel=5, mtime=0)
        self.sha = hashlib.sha256()
        self.size = self.rows = 0

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.file.write(data)
        self.gz.write(data)
        self.sha.update(data)
        self.size += len(data)

    def close(self) -> None:
        self.file.close()
        self.gz.close()
        self.gz_file.close()

    def discard(self) -> None:
        self.close()
        for path in (self.path, self.gz_path):
            Path(path).unlink(missing_ok=True)


@dataclass
class BuildResult:
    """What one build did: published or held, rows per file, changes, quality."""

    status: str
    listed: dict[str, int]
    changes: dict[str, list]
    quality: QualityReport
    export: FeedExport | None = None
    note: str = ""
    files: dict[str, dict] = field(default_factory=dict)


def _signature(record: FeedVehicle) -> str:
    joined = "\n".join(photo.url() for photo in record.photos)
    return hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()[:12]


def _snapshot_row(record: FeedVehicle) -> list:
    price = str(record.price) if record.price is not None else ""
    sale = str(record.sale_price) if record.sale_price is not None else ""
    return [record.stock, record.title, price, sale, _signature(record)]


def compare(before: dict[str, list], after: dict[str, list]) -> dict[str, list]:
    """Added, removed, price and photo changes between two snapshots (vin -> row)."""
    added = [{"vin": vin, "stock": row[0], "title": row[1]} for vin, row in after.items()]
    added = [item for item in added if item["vin"] not in before]
    removed = [
        {"vin": vin, "stock": row[0], "title": row[1]}
        for vin, row in before.items()
        if vin not in after
    ]
    price, photos = [], []
    for vin, row in after.items():
        old = before.get(vin)
        if old is None:
            continue
        if old[2:4] != row[2:4]:
            price.append({"vin": vin, "stock": row[0], "title": row[1], "from": old[2:4]})
            price[-1]["to"] = row[2:4]
        if old[4] != row[4]:
            photos.append({"vin": vin, "stock": row[0], "title": row[1]})
    return {"added": added, "removed": removed, "price": price, "photos": photos}


def last_export(published_only: bool = True) -> FeedExport | None:
    """The latest export (published ones only, unless asked)."""
    query = select(FeedExport).order_by(FeedExport.id.desc()).limit(1)
    if published_only:
        query = query.where(FeedExport.status == "published")
    return db.session.scalar(query)


def _write_all(now: datetime, folder: Path) -> tuple[dict, QualityReport, dict]:
    writers, outputs = make_writers(), {}
    try:
        for name, writer in writers.items():
            outputs[name] = _Output(folder)
            outputs[name].write(writer.head())
        report, snapshot = QualityReport(), {}
        for batch in feed_batches(now):
            write_batch(batch, writers, outputs, report, snapshot)
        for name, writer in writers.items():
            outputs[name].write(writer.tail())
            outputs[name].close()
    except BaseException:
        for output in outputs.values():
            output.discard()
        raise
    return outputs, report, snapshot


def write_batch(
    batch: list[FeedEntry], writers: dict, outputs: dict, report: QualityReport, snapshot: dict
) -> None:
    """Write a batch to each of `writers` (file name -> writer); count it, note it in `snapshot`.

    The snapshot holds every vehicle listed in any feed, whichever files are written."""
    out_of = [blocked(entry.problems) for entry in batch]
    for name, writer in writers.items():
        target = FEED_FILES[name]
        listed = [e.record for e, out in zip(batch, out_of, strict=True) if target not in out]
        outputs[name].write(writer.rows(listed))
        outputs[name].rows += len(listed)
    for entry, out in zip(batch, out_of, strict=True):
        report.add(entry.record, entry.problems, entry.vehicle_id)
        if len(out) < len(FEED_FILES):  # listed somewhere
            snapshot[entry.record.vin] = _snapshot_row(entry.record)


def held_reason(before: FeedExport | None, changes: dict) -> str:
    """Why the removal guard holds this build or export; '' when it may go out."""
    if before is None or len(before.snapshot) < GUARD_MIN_VEHICLES:
        return ""
    limit = current_app.config.get("FEED_MAX_REMOVED_PERCENT", DEFAULT_MAX_REMOVED_PERCENT)
    share = 100 * len(changes["removed"]) / len(before.snapshot)
    if share <= limit:
        return ""
    return (
        f"{len(changes['removed'])} of {len(before.snapshot)} vehicles ({share:.0f}%) would "
        f"leave the feeds, over FEED_MAX_REMOVED_PERCENT ({limit}%): the feeds were kept as "
        "they were. Check the last DMS import and the vehicles' status."
    )


def build_feed_files(now: datetime, *, force: bool = False) -> BuildResult:
    """Build every feed file, publish it unless held, and record the export; one transaction.

    `force` publishes a build the removal guard would hold (the webmaster checked the stock)."""
    folder = feeds_dir()
    folder.mkdir(parents=True, exist_ok=True)
    outputs, report, snapshot = _write_all(now, folder)
    before = last_export()
    changes = compare(before.snapshot if before else {}, snapshot)
    listed = {name: output.rows for name, output in outputs.items()}
    reason = "" if force else held_reason(before, changes)
    if reason:
        for output in outputs.values():
            output.discard()
        export = record_held(now, listed, changes, reason)
        db.session.commit()
        return BuildResult("held", listed, changes, report, export, reason)
    files = _publish(folder, outputs, now)
    write_json(folder / QUALITY, quality_json(report, now))
    export = record_published(now, before, listed, snapshot, changes)
    db.session.commit()
    return BuildResult("published", listed, changes, report, export, files=files)


def record_published(
    now: datetime,
    before: FeedExport | None,
    listed: dict,
    snapshot: dict,
    changes: dict,
    note: str = "",
) -> FeedExport | None:
    """A published build or export, when something changed since `before` (adds and flushes)."""
    if before is not None and not any(changes.values()):
        return None
    export = _record(now, "published", listed, snapshot, changes, note)
    db.session.flush()
    # Only the latest snapshot is compared with: older ones keep their change lists only.
    db.session.execute(
        update(FeedExport)
        .where(FeedExport.id < export.id, FeedExport.status == "published")
        .values(snapshot={})
    )
    return export


def record_held(now: datetime, listed: dict, changes: dict, reason: str) -> FeedExport:
    """A held build or export; one row while the same hold repeats time after time."""
    latest = last_export(published_only=False)
    if latest is not None and latest.status == "held" and latest.note == reason:
        latest.built_at = now
        return latest
    return _record(now, "held", listed, {}, changes, reason)


def _record(now, status, listed, snapshot, changes, note) -> FeedExport:
    export = FeedExport(
        built_at=now,
        status=status,
        note=note,
        listed=listed,
        snapshot=snapshot if status == "published" else {},
        changes={kind: items[:CHANGES_KEPT] for kind, items in changes.items()},
        added=len(changes["added"]),
        removed=len(changes["removed"]),
        price_changed=len(changes["price"]),
        photos_changed=len(changes["photos"]),
    )
    db.session.add(export)
    return export


def _publish(folder: Path, outputs: dict[str, _Output], now: datetime) -> dict[str, dict]:
    old = read_manifest() or {}
    files = {}
    for name, output in outputs.items():
        etag = output.sha.hexdigest()
        stem, ext = os.path.splitext(name)
        published = f"{stem}.{etag[:20]}{ext}"
        os.replace(output.path, folder / published)
        os.replace(output.gz_path, folder / f"{published}.gz")
        os.chmod(folder / published, 0o644)
        os.chmod(folder / f"{published}.gz", 0o644)
        previous = old.get("files", {}).get(name, {})
        same = previous.get("etag") == etag
        files[name] = {
            "file": published,
            "etag": etag,
            "size": output.size,
            "rows": output.rows,
            "changed_at": previous.get("changed_at") if same else now.isoformat(),
        }
    write_json(folder / MANIFEST, {"built_at": now.isoformat(), "files": files})
    _remove_stale(folder, files, old.get("files", {}))
    return files


def _remove_stale(folder: Path, current: dict, previous: dict) -> None:
    keep = {MANIFEST, QUALITY}
    for entry in (*current.values(), *previous.values()):
        keep |= {entry["file"], entry["file"] + ".gz"}
    for path in folder.iterdir():
        if path.name not in keep and not path.name.startswith(".tmp-"):
            stem = path.name.split(".", 1)[0]
            if any(name.startswith(stem + ".") for name in FEED_FILES):
                path.unlink(missing_ok=True)


def write_json(path: Path, value: Any) -> None:
    """Write JSON through a temporary file and a rename (readers never see half of it)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(value, file, ensure_ascii=False)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_manifest_cache: dict[str, tuple[tuple, dict]] = {}


def read_manifest() -> dict | None:
    """The current manifest, or None before the first build (re-read only when it changed)."""
    path = feeds_dir() / MANIFEST
    try:
        info = path.stat()
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)  # a rename gives a new inode
    except FileNotFoundError:
        return None
    cached = _manifest_cache.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    _manifest_cache[str(path)] = (stamp, manifest)
    return manifest


def quality_json(report: QualityReport, now: datetime) -> dict:
    """The quality report as stored beside the feeds, for the webmaster's page."""
    return {
        "built_at": now.isoformat(),
        "vehicles": report.vehicles,
        "listed": dict(report.listed),
        "kept_out": dict(report.kept_out),
        "problems": dict(report.problems),
        "lines": [
            {
                "vin": line.vin,
                "stock": line.stock,
                "title": line.title,
                "vehicle_id": line.vehicle_id,
                "problems": line.problems,
                "blocked": sorted(line.blocked),
            }
            for line in report.lines
        ],
    }


def read_quality() -> dict | None:
    """The quality report of the last published build, or None."""
    path = feeds_dir() / QUALITY
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
