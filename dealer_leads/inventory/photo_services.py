"""Vehicle photos: store uploads and order them (photo_jobs processes them, photo_publishing
gives their URLs).

Files live under PHOTOS_DIR:

- `originals/<sha[:2]>/<sha>.<ext>`: the upload byte for byte; private, never served. Kept when a
  photo is deleted (they are the only copy with full resolution, other rows may share them, and
  removing one could race a concurrent upload of the same bytes); they are never published.
- `public/<file>`: the derivatives, content-hash names, served with immutable cache headers.

Every file is written to a temporary name in its own folder and renamed into place, so a crash
never leaves half a file, and a row is only committed once its file is complete.

Partial uploads: every file is checked on its own. The good ones are stored, the bad ones are
reported with the reason; a bad file never stops the good ones, and never leaves anything behind.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import Text, cast, func, or_, select
from werkzeug.datastructures import FileStorage

from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle, VehiclePhoto
from dealer_leads.inventory.photo_checks import (
    InvalidPhoto,
    PhotoInfo,
    inspect_upload,
    safe_filename,
)
from dealer_leads.inventory.services import get_vehicle

log = logging.getLogger(__name__)

PUBLIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
DEFAULT_MAX_PHOTO_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_PHOTOS_PER_UPLOAD = 40


class PhotoNotFound(LookupError):
    """No such photo (or not on that vehicle)."""


class InvalidOrder(ValueError):
    """A new order that names photos the vehicle does not have."""


@dataclass(frozen=True)
class FileNote:
    """Something to tell about one uploaded file: why it was refused, or a warning."""

    index: int
    filename: str
    message: str


@dataclass(frozen=True)
class Duplicate:
    """One uploaded file the vehicle has already: nothing new stored."""

    index: int
    filename: str
    photo_id: int


@dataclass
class UploadResult:
    """What add_photos did with each file: stored, already there, or refused."""

    stored: list[VehiclePhoto] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    errors: list[FileNote] = field(default_factory=list)
    warnings: list[FileNote] = field(default_factory=list)


# --- files -------------------------------------------------------------------------------------


def photos_root() -> Path:
    return Path(current_app.config["PHOTOS_DIR"])


def public_dir() -> Path:
    """The folder of published derivatives (the only one ever served)."""
    return photos_root() / "public"


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def store_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Content-addressed: a file already there is complete (renamed into place), so keep it."""
    if not path.exists():
        write_atomic(path, data, mode)


def original_relative_path(sha256: str, extension: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}.{extension}"


# --- upload ------------------------------------------------------------------------------------


def add_photos(
    vehicle_id: int, files: list[tuple[str, bytes]], user_id: int | None
) -> UploadResult:
    """Check each file, store the good originals, and queue them (status pending) for processing.

    Files are checked and written with no transaction open (on SQLite that would hold the write
    lock); the rows follow in one short transaction, each only once its file is complete.
    """
    get_vehicle(vehicle_id)
    db.session.rollback()
    result = UploadResult()
    limit = current_app.config.get("MAX_PHOTOS_PER_UPLOAD", DEFAULT_MAX_PHOTOS_PER_UPLOAD)
    stored = []
    for index, (filename, data) in enumerate(files):
        name = safe_filename(filename or "")
        if index >= limit:
            result.errors.append(FileNote(index, name, f"over {limit} photos in one upload"))
        elif (checked := _check_and_store(index, name, data, result)) is not None:
            stored.append(checked)
    _add_rows(vehicle_id, stored, user_id, result)
    db.session.commit()
    return result


def _check_and_store(
    index: int, name: str, data: bytes, result: UploadResult
) -> tuple[int, str, PhotoInfo] | None:
    """Check one file and write its original; refusals are noted on `result`."""
    try:
        info = _inspect(name, data)
        store_file(photos_root() / original_relative_path(info.sha256, info.extension), data)
    except InvalidPhoto as refusal:
        result.errors.append(FileNote(index, name, str(refusal)))
        return None
    except OSError as error:
        log.exception("could not store the original of %s", name)
        result.errors.append(FileNote(index, name, f"could not be stored: {error.strerror}"))
        return None
    return index, name, info


def _add_rows(
    vehicle_id: int,
    stored: list[tuple[int, str, PhotoInfo]],
    user_id: int | None,
    result: UploadResult,
) -> None:
    """A pending row per new photo, after the vehicle's others; a photo it has is a duplicate."""
    seen = _existing_photos(vehicle_id)
    position = _next_position(vehicle_id)
    for index, name, info in stored:
        if info.sha256 in seen:
            result.duplicates.append(Duplicate(index, name, seen[info.sha256]))
            continue
        photo = VehiclePhoto(
            vehicle_id=vehicle_id,
            position=position,
            original_name=info.filename[:200],
            original_path=original_relative_path(info.sha256, info.extension),
            original_sha256=info.sha256,
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            status="pending",
            uploaded_by_id=user_id,
        )
        db.session.add(photo)
        db.session.flush()
        seen[info.sha256], position = photo.id, position + 1
        result.stored.append(photo)
        result.warnings += [FileNote(index, name, warning) for warning in info.warnings]


def _inspect(name: str, data: bytes) -> PhotoInfo:
    """inspect_upload, with the size limit first; anything it cannot read is an InvalidPhoto."""
    limit = current_app.config.get("MAX_PHOTO_BYTES", DEFAULT_MAX_PHOTO_BYTES)
    if len(data) > limit:
        raise InvalidPhoto(f"the file is {_mib(len(data))}; the limit is {_mib(limit)}")
    return inspect_upload(data, name)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _existing_photos(vehicle_id: int) -> dict[str, int]:
    """sha256 -> photo id of the vehicle's photos that are not failed (re-sending is a no-op)."""
    rows = db.session.execute(
        select(VehiclePhoto.original_sha256, VehiclePhoto.id).where(
            VehiclePhoto.vehicle_id == vehicle_id, VehiclePhoto.status != "failed"
        )
    )
    return {sha: photo_id for sha, photo_id in rows}  # noqa: C416 (rows, not pairs)


def _next_position(vehicle_id: int) -> int:
    last = db.session.scalar(
        select(func.max(VehiclePhoto.position)).where(VehiclePhoto.vehicle_id == vehicle_id)
    )
    return 0 if last is None else last + 1


def read_files(storages: Iterable[FileStorage]) -> list[tuple[str, bytes]]:
    """(file name, bytes) of uploaded files; empty parts (a form sent with no file) skipped."""
    files = []
    for storage in storages:
        data = storage.read()
        if storage.filename or data:
            files.append((storage.filename or "", data))
    return files


def upload_summary(result: UploadResult) -> dict:
    """The answer to an upload as JSON-ready values, for the page's script and the API."""

    def notes(items: list[FileNote]) -> list[dict]:
        return [{"index": n.index, "filename": n.filename, "message": n.message} for n in items]

    return {
        "stored": [
            {"id": photo.id, "filename": photo.original_name, "status": photo.status}
            for photo in result.stored
        ],
        "duplicates": [
            {"index": d.index, "filename": d.filename, "id": d.photo_id} for d in result.duplicates
        ],
        "errors": notes(result.errors),
        "warnings": notes(result.warnings),
    }


# --- order, hero, placeholder, delete ----------------------------------------------------------


def get_photo(photo_id: int, vehicle_id: int | None = None) -> VehiclePhoto:
    """The photo (on that vehicle, when given), or PhotoNotFound."""
    photo = db.session.get(VehiclePhoto, photo_id)
    if photo is None or (vehicle_id is not None and photo.vehicle_id != vehicle_id):
        raise PhotoNotFound(f"there is no photo #{photo_id} on this vehicle")
    return photo


def list_photos(vehicle_id: int) -> list[VehiclePhoto]:
    """All the vehicle's photos in display order (the hero first), whatever their state."""
    return list(
        db.session.scalars(
            select(VehiclePhoto)
            .where(VehiclePhoto.vehicle_id == vehicle_id)
            .order_by(VehiclePhoto.position, VehiclePhoto.id)
        )
    )


def reorder_photos(vehicle_id: int, photo_ids: list[int]) -> list[VehiclePhoto]:
    """Put the named photos first, in that order; the others follow in their current order."""
    photos = list_photos(vehicle_id)
    by_id = {photo.id: photo for photo in photos}
    wanted = list(dict.fromkeys(photo_ids))
    unknown = [photo_id for photo_id in wanted if photo_id not in by_id]
    if unknown:
        raise InvalidOrder(f"photos {unknown} are not on this vehicle")
    ordered = [by_id[photo_id] for photo_id in wanted]
    ordered += [photo for photo in photos if photo.id not in set(wanted)]
    _renumber(ordered)
    db.session.commit()
    return ordered


def move_photo(photo_id: int, step: int) -> VehiclePhoto:
    """Move a photo `step` places (-1 up, +1 down): the page's arrow buttons."""
    photo = get_photo(photo_id)
    photos = list_photos(photo.vehicle_id)
    index = photos.index(photo)
    target = min(max(index + step, 0), len(photos) - 1)
    photos.insert(target, photos.pop(index))
    _renumber(photos)
    db.session.commit()
    return photo


def set_hero(photo_id: int) -> VehiclePhoto:
    """Make this photo the first one, the one listings show."""
    photo = get_photo(photo_id)
    reorder_photos(photo.vehicle_id, [photo.id])
    return photo


def set_placeholder(photo_id: int, flag: bool) -> VehiclePhoto:
    """Mark a photo as a stock/placeholder image (it does not count as a real photo)."""
    photo = get_photo(photo_id)
    photo.is_placeholder = flag
    note_first_photo(photo)
    _forget_first_photo(photo.vehicle)
    db.session.commit()
    return photo


def note_first_photo(photo: VehiclePhoto) -> None:
    """The vehicle's first real photo: when days-to-photo stops counting."""
    vehicle = photo.vehicle
    if vehicle.first_photo_at is None and photo.status == "ready" and not photo.is_placeholder:
        vehicle.first_photo_at = photo.processed_at


def _forget_first_photo(vehicle: Vehicle) -> None:
    """A vehicle left without a real ready photo needs photos again: its clock runs again."""
    if vehicle.first_photo_at is not None and not _has_real_photo(vehicle.id):
        vehicle.first_photo_at = None


def _has_real_photo(vehicle_id: int) -> bool:
    found = db.session.scalar(
        select(VehiclePhoto.id)
        .where(
            VehiclePhoto.vehicle_id == vehicle_id,
            VehiclePhoto.status == "ready",
            VehiclePhoto.is_placeholder.is_(False),
        )
        .limit(1)
    )
    return found is not None


def delete_photo(photo_id: int) -> None:
    """Remove the photo and its published files (those no other photo uses); keep the original."""
    photo = get_photo(photo_id)
    files, sha, vehicle = files_of(photo.derivatives), photo.original_sha256, photo.vehicle
    db.session.delete(photo)
    db.session.flush()
    _renumber(list_photos(vehicle.id))
    _forget_first_photo(vehicle)
    db.session.commit()
    remove_unreferenced(files, sha)


def _renumber(photos: list[VehiclePhoto]) -> None:
    for position, photo in enumerate(photos):
        if photo.position != position:
            photo.position = position


def files_of(derivatives: dict) -> set[str]:
    """The published file names in a photo's derivatives JSON."""
    return {entry["file"] for entry in (derivatives or {}).values() if entry.get("file")}


def remove_unreferenced(files: set[str], sha256: str) -> None:
    """Delete published files that no photo row uses, nor will (same original in progress)."""
    if not files:
        return
    in_progress = db.session.scalar(
        select(func.count(VehiclePhoto.id)).where(
            VehiclePhoto.original_sha256 == sha256,
            VehiclePhoto.status.in_(("pending", "processing")),
        )
    )
    as_text = cast(VehiclePhoto.derivatives, Text)
    used: set[str] = set()
    for derivatives in db.session.scalars(
        select(VehiclePhoto.derivatives).where(
            or_(*(as_text.contains(name, autoescape=True) for name in files))
        )
    ):
        used |= files_of(derivatives)
    db.session.rollback()  # end the read: hold no lock while touching files
    if in_progress:
        return  # that photo will publish the same files
    for name in files - used:
        (public_dir() / name).unlink(missing_ok=True)
