"""Vehicle photos: check an upload, then make every published size from one decode. Pure, on bytes.

Policies:

- The bytes decide the type, not the name: a PNG named `.jpg` is accepted (with a warning), a PDF,
  web page or zip archive named `.jpg` is refused. Accepted: JPEG, PNG, WebP and, when pillow-heif
  is installed, HEIC/HEIF; nothing else (GIF, TIFF, BMP, SVG...) reaches a parser. Animated or
  multi-image files are refused.
- Dimensions come from the header and are checked before a pixel is decoded: at most
  `MAX_PIXELS` (50 MP) and `MAX_SIDE` px a side. A file that fails to decode (truncated, damaged)
  is refused; truncated images are never "completed" with grey.
- Published images are upright (EXIF orientation applied), sRGB (ICC profiles converted, CMYK and
  16-bit turned into 8-bit RGB, transparency flattened on white) and carry no metadata at all:
  no EXIF (so no GPS), ICC, XMP or comment. Each is a JPEG (progressive) and a WebP, named by
  the hash of its bytes, so it can be cached forever.
- Too small to list is refused at upload: below `MIN_SIZE` (480x360, either way up) no listing
  site takes a photo, and a web page would show it blurred. Between that and 1024x768 the photo
  is accepted with a warning, since the listing image is scaled up.
- Sizes by the long edge, never scaled up: a size the photo does not reach is made at the photo's
  own size once (a 640 px photo gives a 320 px thumb and a 640 px "medium", no "large").
- The listing image is always exactly 1024x768: centre-cropped to 4:3 (a car photo's subject is
  in the middle and listing sites frame them edge to edge), scaled up when the photo is smaller,
  since listing feeds want that exact size.
- Speed (DESIGN.md §7): a JPEG is decoded once, at the smallest DCT scale that still covers the
  largest output (`draft`); each size is then made from the one before it. Pillow releases the
  GIL while it decodes, resizes and encodes (encoding only when it writes to a file descriptor,
  hence `_save_bytes`), so with `threads=2` each size is encoded in a worker thread while the
  next one is resized, and the largest resize is made in column strips side by side. The bytes
  do not depend on the number of threads.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import struct
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image, ImageCms, UnidentifiedImageError

SIZES = {"large": 1600, "medium": 800, "thumb": 320}  # long edge, px
LISTING_KIND = "listing"
LISTING_SIZE = (1024, 768)
MIN_SIZE = (480, 360)  # long edge, short edge: the smallest photo accepted at upload
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
CACHE_CONTROL = "public, max-age=31536000, immutable"
# The sharpest of Pillow's filters; affordable, since a JPEG is decoded near the largest size.
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 2.0  # Image.reduce() by whole factors while the image stays >= 2x the target
# WebP method 2: within ~5% of the default method 4's size on the corpus at a third of the time;
# from method 3 on, libwebp's rate-distortion search costs 2-3x more for a few percent.
SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "jpeg": {
        "format": "JPEG",
        "quality": 82,
        "optimize": True,
        "progressive": True,
        "subsampling": "4:2:0",
    },
    "webp": {"format": "WEBP", "quality": 80, "method": 2},
}
EXTENSIONS = {"jpeg": "jpg", "webp": "webp"}
# Worker threads per photo: two, so that a photo job leaves the rest of a larger server to the
# web workers; 1 runs everything in the calling thread, in order.
THREADS = 2
STRIPS = 2  # column strips of the largest resize (always: the pixels never depend on THREADS)
MEDIA_TYPES = {"jpeg": "image/jpeg", "webp": "image/webp"}

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
_TRANSPOSE = {  # EXIF orientation -> the operation that makes it upright (as in ImageOps)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# What Pillow and its plugins raise on malformed data; anything else is a bug and propagates.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, RuntimeError, struct.error)
_BOMBS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


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


@dataclass(frozen=True, slots=True)
class Derivative:
    """One published image: a size of a photo in one format, named by its content hash."""

    kind: str  # large, medium, thumb, listing
    width: int
    height: int
    format: str  # jpeg or webp
    data: bytes = field(repr=False)
    sha256: str
    filename: str

    @property
    def key(self) -> str:
        """The name it is filed under on a photo, e.g. `large.jpeg`."""
        return f"{self.kind}.{self.format}"

    @property
    def content_type(self) -> str:
        """The media type to serve it with."""
        return MEDIA_TYPES[self.format]


def inspect_upload(data: bytes, filename: str, *, max_pixels: int = MAX_PIXELS) -> PhotoInfo:
    """Check an upload from its header alone; InvalidPhoto says why a file is refused."""
    img = _open_checked(data, max_pixels)
    extension, content_type, honest = _ACCEPTED[img.format or ""]
    width, height = _upright_size(img.size, _orientation(img))
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


def make_derivatives(
    data: bytes, *, max_pixels: int = MAX_PIXELS, threads: int = THREADS
) -> list[Derivative]:
    """Every published size of a photo, largest first, then the listing image; JPEG and WebP."""
    with _pool(threads) as pool:
        # Each image is encoded in both formats by one job (an Image must not be saved from two
        # threads at once), while the calling thread makes the next image.
        images = _render(data, max_pixels, pool)
        jobs = [(kind, pool.submit(_encode_all, image, kind)) for kind, image in images]
        jobs.sort(key=lambda job: job[0] == LISTING_KIND)  # made second, published last
        return [derivative for _, job in jobs for derivative in job.result()]


def _render(data: bytes, max_pixels: int, pool: _Pool) -> Iterator[tuple[str, Image.Image]]:
    """Decode once and make every image, upright and sRGB, each handed out as soon as it is made.

    Largest first, then the listing image (the next largest job, and the last to need the
    decoded pixels, which are then freed), then the smaller sizes.
    """
    img = _open_checked(data, max_pixels)
    orientation = _orientation(img)
    _decode(img, _needed_size(img.size, _upright_size(img.size, orientation)))
    base = _to_srgb(img)
    del img
    (kind, size), *smaller = _plan(_upright_size(base.size, orientation))
    previous = _upright_resized(base, size, orientation, pool)
    listing = _listing(base, orientation, previous)
    del base  # before any encoder allocates: the peak of memory
    yield kind, _without_info(previous)
    yield LISTING_KIND, _without_info(listing)
    for kind, size in smaller:
        previous = _resize(previous, size)
        yield kind, _without_info(previous)


def _without_info(img: Image.Image) -> Image.Image:
    """`img` with a fresh info dict: Pillow carries e.g. a JPEG comment over from the source."""
    img.info = {}
    return img


class _Pool(Protocol):
    """What the pipeline needs of an executor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run `fn(*args)`; its result or exception comes back through the future."""
        ...


class _InlinePool:
    """The calling thread as the pool: every job runs at once, in order."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Run `fn(*args)` now."""
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # handed back through result(), as a thread pool would
            future.set_exception(exc)
        return future


def _pool(threads: int) -> AbstractContextManager[Any]:
    """`threads` worker threads (the caller only resizes and waits), or the caller alone."""
    if threads <= 1:
        return nullcontext(_InlinePool())
    return ThreadPoolExecutor(threads, thread_name_prefix="photo")


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


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open without decoding, then refuse what the header already shows is unusable."""
    if not data:
        raise InvalidPhoto("the file is empty")
    try:
        img = Image.open(io.BytesIO(data), formats=_open_formats())
    except _BOMBS as exc:
        raise InvalidPhoto(f"too many pixels: the limit is {max_pixels / 1e6:g} MP") from exc
    except UnidentifiedImageError as exc:
        raise InvalidPhoto(_not_an_image(data)) from exc
    except _DECODE_ERRORS as exc:
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


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8), 1 when absent or unreadable."""
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and value in range(1, 9) else 1


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The size once the orientation is applied: 5-8 swap the axes."""
    return (size[1], size[0]) if orientation >= 5 else size


def _needed_size(stored: tuple[int, int], upright: tuple[int, int]) -> tuple[int, int]:
    """The smallest stored-orientation size that still covers the largest size and the listing."""
    width, height = upright
    largest = min(max(SIZES.values()) / max(width, height), 1.0)
    listing = max(LISTING_SIZE[0] / width, LISTING_SIZE[1] / height)
    scale = min(max(largest, listing), 1.0)
    # less a hair, so that float error never asks for one pixel more than needed
    return (math.ceil(stored[0] * scale - 1e-6), math.ceil(stored[1] * scale - 1e-6))


def _decode(img: Image.Image, needed: tuple[int, int]) -> None:
    """Decode the pixels once (a JPEG at the smallest sufficient DCT scale); damaged -> refused."""
    if img.format == "JPEG":
        img.draft(img.mode, needed)
    try:
        img.load()
    except _DECODE_ERRORS as exc:
        raise InvalidPhoto(f"the image could not be decoded: truncated or damaged ({exc})") from exc


def _to_srgb(img: Image.Image) -> Image.Image:
    """8-bit RGB in sRGB, transparency flattened on white."""
    icc = img.info.get("icc_profile")
    img = _eight_bit(img)
    converted = _from_profile(img, icc) if icc else None
    if converted is not None:
        return converted
    return img if img.mode == "RGB" else img.convert("RGB")


def _eight_bit(img: Image.Image) -> Image.Image:
    """8-bit RGB, L or CMYK (the modes an ICC profile can describe), with no transparency."""
    if img.mode in _SIXTEEN_BIT:  # scale to 8 bits: convert("L") would clip at 255
        return img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img if img.mode in ("RGB", "L", "CMYK") else img.convert("RGB")


def _from_profile(img: Image.Image, icc: bytes) -> Image.Image | None:
    """`img` converted from its embedded profile to sRGB; None if it is sRGB already or unusable."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb"):
            return None
        return ImageCms.profileToProfile(img, profile, _srgb_profile(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None  # unreadable, or not for this colour space: the pixels are taken as sRGB


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """The sRGB profile every published image is in."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    """`img` turned and flipped as its EXIF orientation says."""
    return img.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else img


def _plan(size: tuple[int, int]) -> list[tuple[str, tuple[int, int]]]:
    """(kind, size) largest first; a size the photo does not reach is made at its own size, once."""
    plan: list[tuple[str, tuple[int, int]]] = []
    for kind, edge in sorted(SIZES.items(), key=lambda item: item[1]):
        if edge < max(size):
            plan.append((kind, _fit(size, edge)))
        else:
            plan.append((kind, size))
            break
    return plan[::-1]


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """`size` scaled so that its long edge is `edge`."""
    scale = edge / max(size)
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _resize(img: Image.Image, size: tuple[int, int], box: Any = None) -> Image.Image:
    """Whole-factor reduce() first, then the resampling filter for the rest."""
    if img.size == size and box is None:
        return img
    return img.resize(size, RESAMPLE, box=box, reducing_gap=REDUCING_GAP)


def _upright_resized(
    img: Image.Image, size: tuple[int, int], orientation: int, pool: _Pool
) -> Image.Image:
    """`img` resized to the upright `size` and turned upright, in STRIPS column strips in the pool.

    Turning the resized image is cheaper than turning `img`. Pillow finds the filter window of an
    output column in the whole image, whatever the box, so the strips hold the pixels of a single
    resize (checked with LANCZOS on the bench photo and every orientation).
    """
    stored = _upright_size(size, orientation)  # the same turn swaps back
    if img.size == stored or stored[0] < 2 * STRIPS:
        return _upright(_resize(img, stored), orientation)
    scale = img.width / stored[0]
    edges = [stored[0] * part // STRIPS for part in range(STRIPS + 1)]
    strips = [
        pool.submit(
            _strip, img, orientation, (left * scale, right * scale), (right - left, stored[1])
        )
        for left, right in zip(edges, edges[1:], strict=False)
    ]
    done = [strip.result() for strip in strips]  # before allocating more: the peak of memory
    upright = Image.new(img.mode, size)
    for left, right, strip in zip(edges, edges[1:], done, strict=False):
        # where the strip's columns land once turned: mirrored by 2, 3, 7, 8; rows from 5 on
        offset = stored[0] - right if orientation in (2, 3, 7, 8) else left
        upright.paste(strip, (0, offset) if orientation >= 5 else (offset, 0))
    return upright


def _strip(
    img: Image.Image, orientation: int, columns: tuple[float, float], size: tuple[int, int]
) -> Image.Image:
    """The columns `columns` of `img` (all its rows) resized to `size` and turned upright."""
    box = (columns[0], 0.0, columns[1], float(img.height))
    return _upright(_resize(img, size, box=box), orientation)


def _listing(base: Image.Image, orientation: int, largest: Image.Image) -> Image.Image:
    """The exact listing size, centre-cropped to its aspect, from the largest size if it covers.

    The other sizes (800 px and less on the long edge) never cover 1024x768.
    """
    left, top, right, bottom = _cover_box(largest.size)
    source = largest
    if right - left < LISTING_SIZE[0] or bottom - top < LISTING_SIZE[1]:
        source = _upright(base, orientation)  # a panorama, or a photo smaller than the listing
    return _resize(source, LISTING_SIZE, box=_cover_box(source.size))


def _cover_box(size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The centred box of `size` with the listing aspect ratio, as large as fits."""
    width, height = size
    target_w, target_h = LISTING_SIZE
    if width * target_h > height * target_w:  # wider than 4:3: trim the sides
        crop = height * target_w / target_h
        return ((width - crop) / 2, 0.0, (width + crop) / 2, float(height))
    crop = width * target_h / target_w
    return (0.0, (height - crop) / 2, float(width), (height + crop) / 2)


def _encode_all(img: Image.Image, kind: str) -> list[Derivative]:
    """One size in every format, in SAVE_OPTIONS order."""
    return [_encode(img, kind, fmt) for fmt in SAVE_OPTIONS]


def _encode(img: Image.Image, kind: str, fmt: str) -> Derivative:
    """One image saved in one format with no metadata, named by the hash of its bytes."""
    data = _save_bytes(img, SAVE_OPTIONS[fmt])
    digest = hashlib.sha256(data).hexdigest()
    filename = f"{digest[:20]}-{kind}.{EXTENSIONS[fmt]}"
    return Derivative(kind, img.width, img.height, fmt, data, digest, filename)


def _save_bytes(img: Image.Image, options: dict[str, Any]) -> bytes:
    """`img` saved with `options`, via an in-memory file where the system has them (Linux).

    Pillow releases the GIL while its JPEG encoder writes to a file descriptor, not while it fills
    a BytesIO; the bytes are the same either way.
    """
    try:
        descriptor = os.memfd_create("derivative", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux
        buffer = io.BytesIO()
        img.save(buffer, **options)
        return buffer.getvalue()
    with open(descriptor, "w+b") as file:
        img.save(file, **options)
        file.seek(0)
        return file.read()
