"""Vehicle photos: make every published size of an accepted upload from one decode. Pure, on bytes.

`photo_checks` accepts or refuses the upload from its header first. Policies here:

- A file that fails to decode (truncated, damaged) is refused; truncated images are never
  "completed" with grey.
- Published images are upright (EXIF orientation applied), sRGB (ICC profiles converted, CMYK and
  16-bit turned into 8-bit RGB, transparency flattened on white) and carry no metadata at all:
  no EXIF (so no GPS), ICC, XMP or comment. Each is a JPEG (progressive) and a WebP, named by
  the hash of its bytes, so it can be cached forever.
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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image, ImageCms

from dealer_leads.inventory.photo_checks import (
    DECODE_ERRORS,
    LISTING_SIZE,
    MAX_PIXELS,
    InvalidPhoto,
    exif_orientation,
    open_checked,
    upright_size,
)

SIZES = {"large": 1600, "medium": 800, "thumb": 320}  # long edge, px
LISTING_KIND = "listing"
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

_TRANSPOSE = {  # EXIF orientation -> the operation that makes it upright (as in ImageOps)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


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
    img = open_checked(data, max_pixels)
    orientation = exif_orientation(img)
    _decode(img, _needed_size(img.size, upright_size(img.size, orientation)))
    base = _to_srgb(img)
    del img
    (kind, size), *smaller = _plan(upright_size(base.size, orientation))
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
    except DECODE_ERRORS as exc:
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
    stored = upright_size(size, orientation)  # the same turn swaps back
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
