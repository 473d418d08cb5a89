"""The photo pipeline on real camera files (../shared/corpus/photos) and on files made here."""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, JpegImagePlugin
from support import shared_path

from dealer_leads.inventory import photo_checks, photos
from dealer_leads.inventory.photo_checks import (
    LISTING_SIZE,
    InvalidPhoto,
    inspect_upload,
    safe_filename,
)
from dealer_leads.inventory.photos import SIZES, make_derivatives

ORIENTED = [
    f"orientation-{view}_{n}.jpg" for view in ("landscape", "portrait") for n in range(1, 9)
]
CAMERA = [
    "Canon_40D.jpg",
    "gps-DSCN0010.jpg",
    "gps-DSCN0021.jpg",
    "hdr-iphone_hdr_YES.jpg",
    "mobile-jolla.jpg",
]
HEIC = "heic-IMG_5195.HEIC"
INVALID = ["invalid-image00971.jpg", "invalid-image01088.jpg"]
# Under photo_checks.MIN_SIZE: refused at upload, whatever else is wrong with them.
TOO_SMALL = {
    "Canon_40D.jpg": (100, 68),
    "invalid-image00971.jpg": (636, 227),
    "invalid-image01088.jpg": (425, 120),
}
GPS_IFD = 0x8825
# JPEG markers a published file may carry: start/end, tables, frame, scan. No APP1 (EXIF, XMP),
# APP2 (ICC), APP13 (Photoshop), COM. APP0 is the JFIF header, which says nothing about anyone.
JPEG_ALLOWED = {0xD8, 0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA}
WEBP_ALLOWED = {b"VP8 ", b"VP8L", b"ALPH"}


def corpus(name: str) -> bytes:
    """A corpus photo's bytes (the test is skipped, visibly, without ../shared)."""
    return shared_path("corpus", "photos", name).read_bytes()


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    """`img` saved in memory."""
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header(width: int, height: int, idat: bytes = b"") -> bytes:
    """A real PNG whose IHDR claims `width`x`height` while carrying (almost) no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(idat)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to claim `width`x`height`."""
    data = bytearray(encode(Image.new("RGB", (64, 48), "navy"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def scene(size: tuple[int, int]) -> Image.Image:
    """A photo-like image: smooth colour fields, cheap to encode (unlike noise)."""
    return noise((max(1, size[0] // 16), max(1, size[1] // 16))).resize(
        size, Image.Resampling.BICUBIC
    )


def noise(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Deterministic RGB noise: hard to compress, so truncation really cuts image data."""
    import random

    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def jpeg_segments(data: bytes) -> list[int]:
    """The marker of every JPEG segment up to the first scan."""
    markers, pos = [], 2
    assert data[:2] == b"\xff\xd8"
    while pos < len(data):
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return markers


def webp_chunks(data: bytes) -> list[bytes]:
    """The fourcc of every chunk of a WebP file."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append(kind)
        pos += 8 + size + (size & 1)
    return chunks


def assert_clean(derivative: photos.Derivative) -> Image.Image:
    """No metadata in the file: checked on the bytes and through Pillow; returns it reopened."""
    data = derivative.data
    if derivative.format == "jpeg":
        assert set(jpeg_segments(data)) <= JPEG_ALLOWED, derivative.filename
    else:
        assert set(webp_chunks(data)) <= WEBP_ALLOWED, derivative.filename
    img = Image.open(io.BytesIO(data))
    assert img.format == derivative.format.upper()
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"):
        assert key not in img.info, (derivative.filename, key)
    assert len(img.getexif()) == 0 and not img.getexif().get_ifd(GPS_IFD)
    assert img.mode == "RGB" and img.size == (derivative.width, derivative.height)
    if derivative.format == "jpeg":
        assert img.info.get("progressive")
    return img


def by_key(derivatives: list[photos.Derivative]) -> dict[str, photos.Derivative]:
    """Derivatives by `kind.format`."""
    return {d.key: d for d in derivatives}


def assert_published(derivatives: list[photos.Derivative], upright: tuple[int, int]) -> None:
    """The right sizes for a photo of `upright` size, every one clean and hash-named."""
    long_edge = max(upright)
    expected = {}
    for kind, edge in sorted(SIZES.items(), key=lambda item: item[1]):
        expected[kind] = min(edge, long_edge)
        if edge >= long_edge:
            break
    expected[photos.LISTING_KIND] = 0
    assert {d.kind for d in derivatives} == set(expected)
    assert {d.format for d in derivatives} == {"jpeg", "webp"}
    for d in derivatives:
        assert_clean(d)
        assert d.sha256 == hashlib.sha256(d.data).hexdigest()
        extension = "jpg" if d.format == "jpeg" else "webp"
        assert d.filename == f"{d.sha256[:20]}-{d.kind}.{extension}"
        if d.kind == photos.LISTING_KIND:
            assert (d.width, d.height) == LISTING_SIZE
        else:
            assert max(d.width, d.height) == expected[d.kind]
            # upright: same orientation as the photo, and the aspect kept
            assert (d.width >= d.height) == (upright[0] >= upright[1])
            assert abs(d.width / d.height - upright[0] / upright[1]) < 0.02


def grid(img: Image.Image) -> list[float]:
    """A coarse fingerprint: mean grey of a 4x4 grid, centred (robust to a colour profile)."""
    cells = list(img.convert("L").resize((4, 4), Image.Resampling.BOX).tobytes())
    mean = sum(cells) / len(cells)
    return [cell - mean for cell in cells]


def distance(a: list[float], b: list[float]) -> float:
    """Mean absolute difference of two fingerprints."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


# --- the corpus ------------------------------------------------------------------------------


def test_every_corpus_file_is_covered_here():
    """A photo added to ../shared/corpus/photos must get a place in one of the lists above."""
    folder = shared_path("corpus", "photos")
    names = {p.name for p in folder.iterdir() if p.suffix.lower() != ".md"}
    assert names == set(ORIENTED + CAMERA + INVALID + [HEIC])


@pytest.mark.parametrize("name", [name for name in CAMERA + ORIENTED if name not in TOO_SMALL])
def test_corpus_photo_is_published_upright_sized_and_clean(name):
    data = corpus(name)
    info = inspect_upload(data, name)
    assert (info.format, info.extension, info.content_type) == ("JPEG", "jpg", "image/jpeg")
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert_published(make_derivatives(data), (info.width, info.height))


@pytest.mark.parametrize("view", ["landscape", "portrait"])
def test_every_exif_orientation_comes_out_upright(view):
    """Orientations 1-8 all match the upright reference, and no other rotation or flip does."""
    reference = by_key(make_derivatives(corpus(f"orientation-{view}_1.jpg")))
    expected = grid(Image.open(io.BytesIO(reference["thumb.jpeg"].data)))
    upright = (600, 450) if view == "landscape" else (450, 600)
    for n in range(1, 9):
        name = f"orientation-{view}_{n}.jpg"
        info = inspect_upload(corpus(name), name)
        assert (info.width, info.height) == upright, name
        thumb = Image.open(io.BytesIO(by_key(make_derivatives(corpus(name)))["thumb.jpeg"].data))
        assert thumb.size == (reference["thumb.jpeg"].width, reference["thumb.jpeg"].height)
        right = distance(grid(thumb), expected)
        assert right < 12, (name, right)
        for method in Image.Transpose:
            wrong = thumb.transpose(method)
            if wrong.size == thumb.size:
                assert distance(grid(wrong), expected) > right + 10, (name, method)


@pytest.mark.parametrize("name", ["gps-DSCN0010.jpg", "gps-DSCN0021.jpg", "hdr-iphone_hdr_YES.jpg"])
def test_gps_never_reaches_a_published_file(name):
    data = corpus(name)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), "the original has GPS"
    for derivative in make_derivatives(data):
        assert not assert_clean(derivative).getexif().get_ifd(GPS_IFD)
        assert b"GPS" not in derivative.data


def test_iphone_heic_is_accepted_upright_and_in_srgb():
    pytest.importorskip("pillow_heif")
    data = corpus(HEIC)
    original = Image.open(io.BytesIO(data))
    assert original.info.get("icc_profile") and original.info.get("exif")
    info = inspect_upload(data, "IMG_5195.HEIC")
    assert (info.format, info.extension, info.content_type) == ("HEIF", "heic", "image/heic")
    assert (info.width, info.height) == (2566, 3313) and info.warnings == ()
    derivatives = make_derivatives(data)
    assert_published(derivatives, (2566, 3313))
    large = by_key(derivatives)["large.jpeg"]
    assert (large.width, large.height) == (1239, 1600)


@pytest.mark.parametrize("fraction", [0.9, 0.5, 0.1])
def test_a_truncated_heic_is_refused_from_its_container(fraction):
    """libheif would decode what is there and leave the missing tiles blank."""
    pytest.importorskip("pillow_heif")
    data = corpus(HEIC)
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(InvalidPhoto, match="the file is truncated"):
        inspect_upload(cut, "IMG_5195.HEIC")
    with pytest.raises(InvalidPhoto, match="the file is truncated"):
        make_derivatives(cut)


def test_heic_without_pillow_heif_gets_a_clear_message(monkeypatch):
    data = corpus(HEIC)
    monkeypatch.setattr(photo_checks, "_open_formats", lambda: ("JPEG", "PNG", "WEBP"))
    with pytest.raises(InvalidPhoto, match="HEIC photos cannot be read on this server"):
        inspect_upload(data, "IMG_5195.HEIC")


@pytest.mark.parametrize("name", sorted(TOO_SMALL))
def test_corpus_photos_too_small_to_list_are_refused_at_upload_with_their_size(name):
    width, height = TOO_SMALL[name]
    with pytest.raises(InvalidPhoto) as refusal:
        inspect_upload(corpus(name), name)
    assert str(refusal.value).startswith(f"only {width}x{height}: too small to list")
    assert "at least 480x360" in str(refusal.value)


@pytest.mark.parametrize("name", INVALID)
def test_broken_corpus_files_neither_hang_nor_crash(name):
    """The 'invalid' camera files, given to the pipeline anyway: published cleanly or refused."""
    data = corpus(name)
    started = time.perf_counter()
    try:
        derivatives = make_derivatives(data)
    except InvalidPhoto as refusal:
        assert str(refusal)
    else:
        assert_published(derivatives, TOO_SMALL[name])
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
def test_every_kind_of_metadata_is_stripped(fmt):
    """EXIF with GPS, XMP, an ICC profile and a comment in; none of it out."""
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif[0x0112] = 6
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (43.0, 39.0, 12.5), 3: "W", 4: (79.0, 23.0, 1.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">owner: J. Smith, 555-0100</x:xmpmeta>'
    icc = Image.open(io.BytesIO(corpus(CAMERA[0]))).info["icc_profile"]  # sRGB
    extra = {"comment": b"stock 4411, owner J. Smith"} if fmt == "JPEG" else {}
    data = encode(scene((900, 600)), fmt, exif=exif, xmp=xmp, icc_profile=icc, **extra)
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(GPS_IFD) and source.info.get("icc_profile")
    derivatives = make_derivatives(data)
    assert_published(derivatives, (600, 900))  # the orientation was applied, then dropped
    for derivative in derivatives:
        assert b"Smith" not in derivative.data and b"Camera Maker" not in derivative.data


# --- sizes and the listing image -------------------------------------------------------------


def test_a_camera_sized_jpeg_is_decoded_once_at_a_reduced_scale(monkeypatch):
    drafts = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(img, mode, size):
        drafts.append(size)
        result = real_draft(img, mode, size)
        drafts.append(img.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    derivatives = by_key(make_derivatives(encode(Image.new("RGB", (3400, 2550), "red"), "JPEG")))
    assert drafts == [(1600, 1200), (1700, 1275)]  # decoded at 1/2 scale, never at full size
    assert (derivatives["large.jpeg"].width, derivatives["large.jpeg"].height) == (1600, 1200)
    assert (derivatives["medium.webp"].width, derivatives["thumb.webp"].width) == (800, 320)


def test_a_small_photo_is_never_scaled_up_except_for_the_listing():
    derivatives = by_key(make_derivatives(encode(scene((640, 480)), "PNG")))
    assert sorted(derivatives) == sorted(
        f"{kind}.{fmt}" for kind in ("medium", "thumb", "listing") for fmt in ("jpeg", "webp")
    )
    assert (derivatives["medium.jpeg"].width, derivatives["medium.jpeg"].height) == (640, 480)
    assert (derivatives["thumb.jpeg"].width, derivatives["thumb.jpeg"].height) == (320, 240)
    assert (derivatives["listing.jpeg"].width, derivatives["listing.jpeg"].height) == LISTING_SIZE


@pytest.mark.parametrize(
    "size", [(479, 360), (480, 359), (360, 479), (359, 480), (2000, 300), (100, 68)]
)
def test_a_photo_under_480x360_either_way_up_is_refused_at_upload(size):
    with pytest.raises(InvalidPhoto, match=f"only {size[0]}x{size[1]}: too small to list"):
        inspect_upload(encode(noise(size), "JPEG"), "small.jpg")


@pytest.mark.parametrize("size", [(480, 360), (360, 480), (1000, 700)])
def test_a_photo_under_the_listing_size_is_accepted_with_a_warning(size):
    info = inspect_upload(encode(noise(size), "JPEG"), "car.jpg")
    assert info.warnings == (f"only {size[0]}x{size[1]}: the 1024x768 listing image is scaled up",)


def test_the_upload_size_check_uses_the_upright_size():
    """A sideways-stored 360x480 with orientation 6 is a 480x360 photo: accepted."""
    exif = Image.Exif()
    exif[0x0112] = 6
    info = inspect_upload(encode(noise((360, 480)), "JPEG", exif=exif), "car.jpg")
    assert (info.width, info.height) == (480, 360)


def test_the_pipeline_makes_a_tiny_stored_photo_a_thumb_at_its_own_size():
    """Photos stored before the upload minimum existed are still processed."""
    data = encode(noise((100, 68)), "JPEG")
    derivatives = by_key(make_derivatives(data))
    assert {d.kind for d in derivatives.values()} == {"thumb", "listing"}
    assert (derivatives["thumb.webp"].width, derivatives["thumb.webp"].height) == (100, 68)


def test_the_listing_image_is_a_centre_crop_even_of_a_panorama():
    img = Image.new("RGB", (3000, 600), "blue")
    img.paste("red", (1200, 0, 1800, 600))  # the middle fifth
    derivatives = by_key(make_derivatives(encode(img, "PNG")))
    listing = Image.open(io.BytesIO(derivatives["listing.webp"].data))
    assert listing.size == LISTING_SIZE
    red, _, blue = listing.getpixel((512, 384))
    assert red > 200 and blue < 60
    assert listing.getpixel((5, 384))[2] > 200  # blue at the edges: cropped, not padded
    large = derivatives["large.jpeg"]
    assert (large.width, large.height) == (1600, 320)


def test_the_same_photo_gives_the_same_file_names():
    data = encode(scene((900, 700)), "JPEG")
    assert [d.filename for d in make_derivatives(data)] == [
        d.filename for d in make_derivatives(data)
    ]


# --- the bytes decide the type ---------------------------------------------------------------


def test_a_png_named_jpg_is_accepted_as_png():
    info = inspect_upload(encode(scene((1200, 900)), "PNG"), "car.jpg")
    assert (info.format, info.extension, info.content_type) == ("PNG", "png", "image/png")
    assert info.filename == "car.png"
    assert info.warnings == ("named .jpg but is a PNG image; stored as .png",)


def test_webp_is_accepted():
    data = encode(scene((1100, 800)), "WEBP")
    assert inspect_upload(data, "car.webp").warnings == ()
    assert_published(make_derivatives(data), (1100, 800))


def zip_archive() -> bytes:
    """A real zip file holding a 'car.jpg'."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("car.jpg", b"not really")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Hello, this is a text file.\n", "not an image we can read"),
        (b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)>", "a web page"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "a PDF document"),
        (zip_archive(), "a zip archive"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "an XML or SVG file"),
        (b"MZ\x90\x00" + bytes(60), "a Windows program"),
        (encode(Image.new("RGB", (40, 30)), "BMP"), "a BMP image"),
        (encode(Image.new("RGB", (40, 30)), "TIFF"), "a TIFF image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "a damaged PNG image"),
    ],
    ids=["text", "html", "pdf", "zip", "svg", "exe", "bmp", "tiff", "png-junk"],
)
def test_what_is_not_a_photo_is_refused_whatever_its_name(data, reason):
    with pytest.raises(InvalidPhoto, match=f"not a photo: it .*{reason}.*; upload a JPEG"):
        inspect_upload(data, "car.jpg")
    with pytest.raises(InvalidPhoto):
        make_derivatives(data)


@pytest.mark.parametrize("animated", [False, True])
def test_gif_is_refused_by_name(animated):
    frames = [Image.new("P", (40, 30), color) for color in (1, 2, 3)]
    data = encode(frames[0], "GIF", save_all=animated, append_images=frames[1:])
    with pytest.raises(InvalidPhoto, match="it looks like a GIF image"):
        inspect_upload(data, "car.gif")


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animated_images_are_refused(fmt):
    frames = [Image.new("RGB", (60, 40), color) for color in ("red", "green", "blue")]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(InvalidPhoto, match=r"animated images are not accepted \(3 frames\)"):
        inspect_upload(data, f"car.{fmt.lower()}")
    with pytest.raises(InvalidPhoto, match="animated"):
        make_derivatives(data)


def test_the_empty_file_is_refused():
    with pytest.raises(InvalidPhoto, match="the file is empty"):
        inspect_upload(b"", "car.jpg")


# --- colour, modes and bit depths ------------------------------------------------------------


def centre(derivative: photos.Derivative) -> tuple[int, ...]:
    """The middle pixel of a published image."""
    img = Image.open(io.BytesIO(derivative.data))
    return img.getpixel((img.width // 2, img.height // 2))


def close(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    """Whether two RGB pixels are within `tolerance` on every channel."""
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def test_a_cmyk_jpeg_comes_out_rgb():
    data = encode(Image.new("CMYK", (900, 600), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    for derivative in make_derivatives(data):
        assert_clean(derivative)
        assert close(centre(derivative), (255, 0, 0), 16), derivative.key


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped():
    img = Image.new("I;16", (900, 600), 30000)  # 30000/65535 of full scale: a mid grey
    data = encode(img, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    for derivative in make_derivatives(data):
        assert close(centre(derivative), (117, 117, 117), 3), derivative.key


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_flattened_on_white(mode):
    img = Image.new("RGBA", (900, 600), (0, 0, 255, 255))
    img.paste((0, 0, 0, 0), (450, 0, 900, 600))  # the right half fully transparent
    if mode == "LA":
        img = img.convert("LA")
    elif mode == "P":
        img = img.convert("P")
        img.info["transparency"] = img.getpixel((800, 300))
    data = encode(img, "PNG")
    assert Image.open(io.BytesIO(data)).mode == mode
    thumb = Image.open(io.BytesIO(by_key(make_derivatives(data))["thumb.jpeg"].data))
    assert close(thumb.getpixel((300, 100)), (255, 255, 255))
    assert thumb.getpixel((20, 100)) != (255, 255, 255)


def test_a_palette_png_without_transparency():
    img = noise((500, 400)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    assert_published(make_derivatives(encode(img, "PNG")), (500, 400))


def test_an_embedded_colour_profile_is_converted_to_srgb_and_dropped():
    generic_rgb = Image.open(io.BytesIO(corpus(ORIENTED[1]))).info["icc_profile"]
    img = Image.new("RGB", (900, 600), (200, 80, 40))
    plain = by_key(make_derivatives(encode(img, "JPEG", quality=95)))["thumb.jpeg"]
    tagged_jpeg = encode(img, "JPEG", quality=95, icc_profile=generic_rgb)
    tagged = by_key(make_derivatives(tagged_jpeg))["thumb.jpeg"]
    assert_clean(tagged)
    assert close(centre(plain), (200, 80, 40), 4)
    assert not close(centre(tagged), centre(plain), 4), "the profile was not applied"


def test_an_unreadable_colour_profile_is_ignored():
    data = encode(Image.new("RGB", (900, 600), (10, 120, 90)), "JPEG", icc_profile=b"junk" * 40)
    for derivative in make_derivatives(data):
        assert_clean(derivative)
        assert close(centre(derivative), (10, 120, 90), 6)


# --- bombs, absurd sizes, truncation ---------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any attempt to decode pixels fail the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (png_header(30000, 30000), "too many pixels"),  # Pillow's own bomb limit
        (jpeg_claiming(40000, 40000), "too many pixels"),
        (png_header(10000, 9000), "too many pixels"),  # Pillow warns; tests make that an error
        (png_header(8000, 8000), "8000x8000 is 64 megapixels; the limit is 50"),
        (jpeg_claiming(9000, 6000), "9000x6000 is 54 megapixels"),
        (png_header(20001, 100), "at most 20000 px a side"),
        (png_header(100, 25000), "at most 20000 px a side"),
    ],
    ids=["png-900mp", "jpeg-1600mp", "png-90mp", "png-64mp", "jpeg-54mp", "wide", "tall"],
)
def test_huge_images_are_refused_from_the_header_before_decoding(data, reason, no_decoding):
    assert len(data) < 1000
    started = time.perf_counter()
    with pytest.raises(InvalidPhoto, match=reason):
        inspect_upload(data, "bomb.png")
    with pytest.raises(InvalidPhoto, match=reason):
        make_derivatives(data)
    assert time.perf_counter() - started < 0.5


def test_a_bomb_pillow_only_warns_about_is_refused_outside_tests_too():
    """In production DecompressionBombWarning is a warning, not an error: our own limit holds."""
    with (
        pytest.warns(Image.DecompressionBombWarning),
        pytest.raises(InvalidPhoto, match="10000x9000 is 90 megapixels"),
    ):
        inspect_upload(png_header(10000, 9000), "bomb.png")


def test_the_pixel_limit_can_be_lowered():
    data = encode(scene((1200, 1000)), "JPEG")
    with pytest.raises(InvalidPhoto, match="the limit is 1"):
        inspect_upload(data, "car.jpg", max_pixels=1_000_000)
    with pytest.raises(InvalidPhoto, match="the limit is 1"):
        make_derivatives(data, max_pixels=1_000_000)


@pytest.mark.parametrize("size", [(0, 10), (10, 0)])
def test_an_image_with_no_pixels_is_refused(size):
    with pytest.raises(InvalidPhoto):
        inspect_upload(png_header(*size), "empty.png")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_file_is_refused_when_decoded(fmt):
    whole = encode(noise((400, 300)), fmt)
    cut = whole[: len(whole) * 2 // 3]
    with contextlib.suppress(InvalidPhoto):  # the header may well be intact
        inspect_upload(cut, f"cut.{fmt.lower()}")
    with pytest.raises(InvalidPhoto, match="truncated or damaged|header is damaged"):
        make_derivatives(cut)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_truncated_jpeg_passes_the_header_check_and_fails_the_decode():
    whole = encode(noise((480, 360)), "JPEG")
    cut = whole[: len(whole) // 2]
    assert inspect_upload(cut, "cut.jpg").width == 480
    with pytest.raises(InvalidPhoto, match="could not be decoded: truncated or damaged"):
        make_derivatives(cut)


# --- file names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IMG_1234.JPG", "IMG_1234.jpg"),
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\x\\y.jpg", "y.jpg"),
        ("/var/www/.htaccess", "photo"),
        ("front\x00bumper\n.jpg", "front-bumper.jpg"),
        ("🚗 red car 🚗.jpeg", "red-car.jpeg"),
        ("Citroën DS 21.png", "Citroen-DS-21.png"),
        ("", "photo"),
        (".jpg", "photo.jpg"),
        ("...", "photo"),
        ("a" * 300 + ".jpg", "a" * 100 + ".jpg"),
        ("car.jpg; rm -rf", "car"),
        ("car.tar.gz", "car.tar.gz"),
        ("car.$(reboot)", "car"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_takes_the_real_extension():
    assert safe_filename("../photo.jpg", "png") == "photo.png"
    assert safe_filename("\x00", "heic") == "photo.heic"


@pytest.mark.parametrize("name", ["../../etc/passwd.jpg", "C:\\x\\y.jpg", "a\x00\n🚗.jpg"])
def test_the_upload_name_is_made_safe(name):
    info = inspect_upload(encode(noise((480, 360)), "JPEG"), name)
    assert "/" not in info.filename and "\\" not in info.filename
    assert info.filename.isascii() and info.filename.isprintable()
    assert Path(info.filename).suffix == ".jpg"


@pytest.mark.parametrize("orientation", [1, 6, 7])
def test_the_files_do_not_depend_on_the_worker_threads(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(scene((2400, 1800)), "JPEG", exif=exif)
    alone = make_derivatives(data, threads=1)
    assert [d.sha256 for d in make_derivatives(data, threads=2)] == [d.sha256 for d in alone]
    assert_published(alone, (1800, 2400) if orientation >= 5 else (2400, 1800))
