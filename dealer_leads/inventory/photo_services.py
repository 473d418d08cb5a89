"""Vehicle photos: store uploads, process them off the request, order them, publish their URLs.

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
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, update

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import IN_STOCK_STATUSES, Vehicle, VehiclePhoto
from dealer_leads.inventory.photos import (
    InvalidPhoto,
    inspect_upload,
    make_derivatives,
    safe_filename,
)

log = logging.getLogger(__name__)

PUBLIC_PATH = "/photos/"  # where photo_views serves PHOTOS_DIR/public
PUBLIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
DEFAULT_MAX_PHOTO_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_PHOTOS_PER_UPLOAD = 40
DEFAULT_CLAIM_TIMEOUT_SECONDS = 15 * 60


class PhotoNotFound(LookupError):
    """No such photo (or not on that vehicle)."""


class VehicleNotFound(LookupError):
    """No such vehicle."""


class InvalidOrder(ValueError):
    """A new order that names photos the vehicle does not have."""


@dataclass(frozen=True)
class FileError:
    """One uploaded file that was refused, and why."""

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
    errors: list[FileError] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    """A photo claimed for processing, as plain values (no session needed during the work)."""

    photo_id: int
    vehicle_id: int
    original_path: str
    sha256: str


@dataclass(frozen=True)
class PhotosNeeded:
    """One line of the 'photos needed' report."""

    vehicle: Vehicle
    real_photos: int
    in_progress: int
    days_in_stock: int
    days_to_photo: int | None


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


def _store_file(path: Path, data: bytes, mode: int) -> None:
    """Content-addressed: a file already there is complete (renamed into place), so keep it."""
    if not path.exists():
        write_atomic(path, data, mode)


def original_relative_path(sha256: str, extension: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}.{extension}"


# --- upload ------------------------------------------------------------------------------------


def add_photos(
    vehicle_id: int, files: list[tuple[str, bytes]], user_id: int | None
) -> UploadResult:
    """Check each file, store the good originals, and queue them (status pending) for processing."""
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise VehicleNotFound(f"there is no vehicle #{vehicle_id}")
    result = UploadResult()
    limit = current_app.config.get("MAX_PHOTOS_PER_UPLOAD", DEFAULT_MAX_PHOTOS_PER_UPLOAD)
    seen = _existing_photos(vehicle_id)
    position = _next_position(vehicle_id)
    for index, (filename, data) in enumerate(files):
        name = safe_filename(filename or "")
        if index >= limit:
            result.errors.append(FileError(index, name, f"over {limit} photos in one upload"))
            continue
        photo = _add_one(vehicle, index, name, data, seen, result)
        if photo is not None:
            photo.position, photo.uploaded_by_id = position, user_id
            position += 1
    db.session.commit()
    return result


def _add_one(
    vehicle: Vehicle, index: int, name: str, data: bytes, seen: dict, result: UploadResult
) -> VehiclePhoto | None:
    """Check, dedupe and store one file; a row is added only once its original is on disk."""
    try:
        info = _inspect(name, data)
    except InvalidPhoto as refusal:
        result.errors.append(FileError(index, name, str(refusal)))
        return None
    sha = info.sha256
    if sha in seen:
        result.duplicates.append(Duplicate(index, name, seen[sha]))
        return None
    relative = original_relative_path(sha, info.extension)
    try:
        _store_file(photos_root() / relative, data, 0o600)
    except OSError as error:
        log.exception("could not store the original of %s", name)
        result.errors.append(FileError(index, name, f"could not be stored: {error.strerror}"))
        return None
    photo = VehiclePhoto(
        vehicle=vehicle,
        original_name=name[:200],
        original_path=relative,
        original_sha256=sha,
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        status="pending",
    )
    db.session.add(photo)
    db.session.flush()
    seen[sha] = photo.id
    result.stored.append(photo)
    return photo


def _inspect(name: str, data: bytes):
    """inspect_upload, with the size limit first; anything it cannot read is an InvalidPhoto."""
    limit = current_app.config.get("MAX_PHOTO_BYTES", DEFAULT_MAX_PHOTO_BYTES)
    if len(data) > limit:
        raise InvalidPhoto(f"the file is {_mib(len(data))}; the limit is {_mib(limit)}")
    if not data:
        raise InvalidPhoto("the file is empty")
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
    return {sha: photo_id for sha, photo_id in rows}


def _next_position(vehicle_id: int) -> int:
    last = db.session.scalar(
        select(func.max(VehiclePhoto.position)).where(VehiclePhoto.vehicle_id == vehicle_id)
    )
    return 0 if last is None else last + 1
