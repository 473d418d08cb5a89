"""Checking a vehicle photo upload from its header alone, before a pixel is decoded. Pure, on bytes.

Policies:

- The bytes decide the type, not the name: a PNG named `.jpg` is accepted (with a warning), a PDF,
  web page or zip archive named `.jpg` is refused. Accepted: JPEG, PNG, WebP and, when pillow-heif
  is installed, HEIC/HEIF; nothing else (GIF, TIFF, BMP, SVG...) reaches a parser. Animated or
  multi-image files are refused.
- Dimensions come from the header and are checked before a pixel is decoded: at most
  `MAX_PIXELS` (50 MP) and `MAX_SIDE` px a side. (A file that then fails to decode, truncated or
  damaged, is refused by `photos`: truncated images are never "completed" with grey.)
- Too small to list is refused at upload: below `MIN_SIZE` (480x360, either way up) no listing
  site takes a photo, and a web page would show it blurred. Between that and 1024x768 the photo
  is accepted with a warning, since the listing image is scaled up.
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import unicodedata
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

LISTING_SIZE = (1024, 768)  # the listing image `photos` makes; a smaller upload gets a warning
MIN_SIZE = (480, 360)  # long edge, short edge: the smallest photo accepted at upload
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
# Pillow format -> (extension, media type, extensions that honestly name it)
_ACCEPTED = {
    "JPEG": ("jpg", "image/jpeg", {"jpg", "jpeg", "jpe", "jfif"}),
    "PNG": ("png", "image/png", {"png"}),
    "WEBP": ("webp", "image/webp", {"webp"}),
    "HEIF": ("heic", "image/heic", {"heic", "heif", "hif"}),
}
_ACCEPTED_NAMES = "a JPEG, PNG, WebP or HEIC photo"
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")  # no other parser ever sees an upload
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (or an Office document)"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"\x89PNG", "a damaged PNG image"),
    (b"\xff\xd8\xff", "a damaged JPEG image"),
    (b"GIF8", "a GIF image (not accepted)"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)
_ORIENTATION_TAG = 0x0112
# What Pillow and its plugins raise on malformed data; anything else is a bug and propagates.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, RuntimeError, struct.error)
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


class InvalidPhoto(ValueError):
    """An upload that is not a photo we can publish; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """What an accepted upload is, read from its header (nothing decoded yet)."""

    format: str  # Pillow's name: JPEG, PNG, WEBP, HEIF
    extension: str  # the real one, for storing the original: jpg, png, webp, heic
    content_type: str
    width: int  # upright, i.e. after the EXIF orientation
    height: int
    sha256: str  # of the original bytes
    filename: str  # safe_filename of the name given, with the real extension
    warnings: tuple[str, ...] = field(default=())


def inspect_upload(data: bytes, filename: str, *, max_pixels: int = MAX_PIXELS) -> PhotoInfo:
    """Check an upload from its header alone; InvalidPhoto says why a file is refused."""
    img = open_checked(data, max_pixels)
    extension, content_type, honest = _ACCEPTED[img.format or ""]
    width, height = upright_size(img.size, exif_orientation(img))
    if max(width, height) < MIN_SIZE[0] or min(width, height) < MIN_SIZE[1]:
        raise InvalidPhoto(
            f"only {width}x{height}: too small to list; a vehicle photo must be at least "
            f"{MIN_SIZE[0]}x{MIN_SIZE[1]} (or {MIN_SIZE[1]}x{MIN_SIZE[0]} upright)"
        )
    warnings = []
    name = safe_filename(filename)
    declared = name.rpartition(".")[2].lower() if "." in name else ""
    if declared not in honest:
        named = f"named .{declared}" if declared else "named without an extension"
        warnings.append(f"{named} but is a {extension.upper()} image; stored as .{extension}")
    if width < LISTING_SIZE[0] or height < LISTING_SIZE[1]:
        warnings.append(f"only {width}x{height}: the 1024x768 listing image is scaled up")
    return PhotoInfo(
        format=img.format or "",
        extension=extension,
        content_type=content_type,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        filename=safe_filename(filename, extension),
        warnings=tuple(warnings),
    )


def safe_filename(name: str, extension: str | None = None) -> str:
    """A plain, never-empty file name: no folders, control or odd characters; `extension` wins."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem, dot, suffix = ascii_name.rpartition(".")
    if not dot:
        stem, suffix = suffix, ""
    stem = _clean_part(stem)[:100] or "photo"
    suffix = extension or _clean_part(suffix).lower()
    return f"{stem}.{suffix}" if suffix.isalnum() and len(suffix) <= 5 else stem


def _clean_part(text: str) -> str:
    """Letters, digits, dots, dashes and underscores only; runs of anything else become one dash."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else " " for c in text)
    return "-".join(kept.split()).strip("._-")


def open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open without decoding, then refuse what the header already shows is unusable."""
    if not data:
        raise InvalidPhoto("the file is empty")
    try:
        img = Image.open(io.BytesIO(data), formats=_open_formats())
    except _BOMBS as exc:
        raise InvalidPhoto(f"too many pixels: the limit is {max_pixels / 1e6:g} MP") from exc
    except UnidentifiedImageError as exc:
        raise InvalidPhoto(_not_an_image(data)) from exc
    except DECODE_ERRORS as exc:
        raise InvalidPhoto(f"the image header is damaged ({exc})") from exc
    _check_dimensions(img.size, max_pixels)
    if getattr(img, "is_animated", False):
        raise InvalidPhoto(f"animated images are not accepted ({img.n_frames} frames)")
    # libheif decodes the tiles it finds and leaves missing ones blank, so check the container.
    if img.format == "HEIF" and _ends_inside_a_box(data):
        raise InvalidPhoto("the file is truncated: it ends before its image data does")
    return img


def _check_dimensions(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse empty, absurdly long or too large images, from the header's size."""
    width, height = size
    if width < 1 or height < 1:
        raise InvalidPhoto(f"the image has no pixels ({width}x{height})")
    if max(width, height) > MAX_SIDE:
        raise InvalidPhoto(f"{width}x{height} is too large: at most {MAX_SIDE} px a side")
    if width * height > max_pixels:
        megapixels = width * height / 1e6
        raise InvalidPhoto(
            f"{width}x{height} is {megapixels:.0f} megapixels; the limit is {max_pixels / 1e6:g}"
        )


def _ends_inside_a_box(data: bytes) -> bool:
    """Whether an ISO-BMFF file (HEIC) ends before the end of its last top-level box."""
    position = 0
    while position < len(data):
        if position + 8 > len(data):
            return True
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:  # the box runs to the end of the file
            return False
        if size < 8:
            return True
        position += size
    return position > len(data)


@functools.cache
def _open_formats() -> tuple[str, ...]:
    """The formats Image.open may try: HEIF only when pillow-heif is installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return tuple(name for name in _OPEN_FORMATS if name != "HEIF")
    # The extra images inside an iPhone HEIC (thumbnails, depth maps) are never published.
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return _OPEN_FORMATS


def _not_an_image(data: bytes) -> str:
    """Why bytes that no accepted image reader recognised were refused."""
    head = data[:64].lstrip().lower()
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIC photos cannot be read on this server (pillow-heif is not installed)"
    kind = next((what for magic, what in _SIGNATURES if data.startswith(magic)), None)
    if kind is None and head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        kind = "a web page"
    elif kind is None and head.startswith((b"<?xml", b"<svg")):
        kind = "an XML or SVG file"
    found = f"it looks like {kind}" if kind else "it is not an image we can read"
    return f"not a photo: {found}; upload {_ACCEPTED_NAMES}"


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8), 1 when absent or unreadable."""
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The size once the orientation is applied: 5-8 swap the axes."""
    return (size[1], size[0]) if orientation >= 5 else size
