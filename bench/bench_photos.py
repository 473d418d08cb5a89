"""Photos: the published files of a 12-megapixel camera JPEG, time and peak memory.

`make_derivatives` (one JPEG decode at a reduced DCT scale, each size made from the one before,
encoded in `photos.THREADS` worker threads while the next is made) against, in the same run:

- naive: what one writes first with Pillow: a full decode, `exif_transpose`, a LANCZOS resize
  from the full image for each size, the same JPEG and WebP settings;
- pyvips: `thumbnail_buffer` per size (libvips' shrink-on-load), the practical limit; and
  pyvips-1: one `thumbnail_buffer` to 1600 px, then `thumbnail_image` from it;
- encode: only the encoding of the eight files (same pixels, same settings, one thread): the
  floor that every single-threaded pipeline pays, shown so that the time of the pixel work alone
  can be read;
- ours-1: `make_derivatives(threads=1)`, everything in the calling thread, like the naive
  baseline: how much of the gain is the work saved and how much the second thread.

Every variant runs in a fresh subprocess (interleaved, `--rounds` times), so that its peak RSS
(`ru_maxrss` after the first call, less before it) is its own: Pillow's and libvips' pixel
buffers are C allocations that tracemalloc does not see; its peak is reported too. The photo is
../shared/corpus/photos' largest if it has 12 MP or more, else one made here: 4000x3000, noise
and gradients, quality 90, EXIF orientation 6 and a GPS block.

    .venv/bin/python -m bench.bench_photos [--rounds 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

from dealer_leads.inventory import photos

TARGET_SPEEDUP = 3.0  # naive time / ours
TARGET_MEMORY = 0.5  # ours peak RSS / naive
TARGET_VIPS = 2.0  # ours time / pyvips
VARIANTS = ("ours", "naive", "pyvips", "pyvips-1", "encode", "ours-1")
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"
RESULTS = Path(__file__).resolve().parent / "results" / "photos.json"
ROOT = Path(__file__).resolve().parents[1]
GPS = {1: "N", 2: (43.0, 39.0, 12.5), 3: "W", 4: (79.0, 23.0, 1.0)}


def camera_photo() -> tuple[bytes, str]:
    """The photo to process, and where it came from."""
    for path in sorted(CORPUS.glob("*.jp*g")):
        with Image.open(path) as img:
            if img.width * img.height >= 12_000_000:
                return path.read_bytes(), f"../shared/corpus/photos/{path.name}"
    return synthetic_camera_jpeg(), "generated 4000x3000, q90, orientation 6, GPS"


def synthetic_camera_jpeg(size: tuple[int, int] = (4000, 3000), seed: int = 7) -> bytes:
    """A camera-like JPEG: smooth colour fields, gradients and grain; EXIF orientation and GPS."""
    rnd = random.Random(seed)
    width, height = size
    blobs = Image.frombytes("RGB", (200, 150), rnd.randbytes(200 * 150 * 3))
    fields = blobs.resize(size, Image.Resampling.BICUBIC)
    ramps = [Image.linear_gradient("L"), Image.radial_gradient("L"), Image.linear_gradient("L")]
    gradient = Image.merge("RGB", [ramp.resize(size) for ramp in ramps])
    grain = Image.frombytes("L", size, rnd.randbytes(width * height)).point(lambda v: v // 8)
    img = ImageChops.add(Image.blend(fields, gradient, 0.5), Image.merge("RGB", [grain] * 3))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update(GPS)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def naive_derivatives(data: bytes) -> list[bytes]:
    """The baseline: full decode, exif_transpose, LANCZOS from the full image for each size."""
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    outputs = []
    for edge in sorted(photos.SIZES.values(), reverse=True):
        scale = edge / max(img.size)
        size = (round(img.width * scale), round(img.height * scale))
        outputs += _save_both(img.resize(size, Image.Resampling.LANCZOS))
    box = photos._cover_box(img.size)
    listing = img.resize(photos.LISTING_SIZE, Image.Resampling.LANCZOS, box=box)
    return outputs + _save_both(listing)


def _save_both(img: Image.Image) -> list[bytes]:
    """`img` as JPEG and WebP with the pipeline's settings (Pillow writes no metadata unasked)."""
    img.info = {}
    outputs = []
    for options in photos.SAVE_OPTIONS.values():
        buffer = io.BytesIO()
        img.save(buffer, **options)
        outputs.append(buffer.getvalue())
    return outputs


def ours(data: bytes) -> list[bytes]:
    """The pipeline under test."""
    return [derivative.data for derivative in photos.make_derivatives(data)]


def ours_one_thread(data: bytes) -> list[bytes]:
    """The pipeline under test without worker threads."""
    return [derivative.data for derivative in photos.make_derivatives(data, threads=1)]


def vips_functions() -> tuple[Callable[[bytes], list[bytes]], Callable[[bytes], list[bytes]]]:
    """pyvips per size, and pyvips from one thumbnail (ImportError when pyvips is missing)."""
    import pyvips

    pyvips.cache_set_max(0)  # repeated calls on the same buffer must not be served from cache
    jpeg, webp = photos.SAVE_OPTIONS["jpeg"], photos.SAVE_OPTIONS["webp"]

    def save(img: pyvips.Image) -> list[bytes]:
        return [
            img.jpegsave_buffer(
                Q=jpeg["quality"],
                interlace=True,
                optimize_coding=True,
                subsample_mode="on",
                keep="none",
            ),
            img.webpsave_buffer(Q=webp["quality"], effort=webp["method"], keep="none"),
        ]

    def listing(img: pyvips.Image | bytes) -> pyvips.Image:
        width, height = photos.LISTING_SIZE
        if isinstance(img, bytes):
            return pyvips.Image.thumbnail_buffer(img, width, height=height, crop="centre")
        return img.thumbnail_image(width, height=height, crop="centre")

    def per_size(data: bytes) -> list[bytes]:
        outputs = []
        for edge in sorted(photos.SIZES.values(), reverse=True):
            outputs += save(pyvips.Image.thumbnail_buffer(data, edge, height=edge, size="down"))
        return outputs + save(listing(data))

    def one_decode(data: bytes) -> list[bytes]:
        edges = sorted(photos.SIZES.values(), reverse=True)
        large = pyvips.Image.thumbnail_buffer(data, edges[0], height=edges[0], size="down")
        large = large.copy_memory()
        outputs = save(large)
        for edge in edges[1:]:
            outputs += save(large.thumbnail_image(edge, height=edge))
        return outputs + save(listing(large))

    return per_size, one_decode


def _encode_only(data: bytes) -> Callable[[bytes], list[bytes]]:
    """Encoding alone: the eight files' pixels made beforehand, saved with the same settings."""
    images = []
    for derivative in photos.make_derivatives(data):
        if derivative.format == "jpeg":
            img = Image.open(io.BytesIO(derivative.data))
            img.load()
            images.append(img)
    return lambda _data: [blob for img in images for blob in _save_both(img)]


def _function(variant: str, data: bytes) -> Callable[[bytes], list[bytes]]:
    """The callable a child process measures."""
    if variant in ("pyvips", "pyvips-1"):
        per_size, one_decode = vips_functions()
        return per_size if variant == "pyvips" else one_decode
    if variant == "encode":
        return _encode_only(data)
    return {"ours": ours, "ours-1": ours_one_thread, "naive": naive_derivatives}[variant]


def _peak_rss() -> int:
    """This process's peak resident set so far, in bytes.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child started by a
    parent that once held the full-size photo would start at the parent's peak.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def measure(variant: str, data: bytes, runs: int) -> dict:
    """In a fresh process: peak RSS of the first call, then times, then the tracemalloc peak."""
    try:
        function = _function(variant, data)
    except ImportError as missing:
        return {"skipped": f"{missing.name or missing} is not installed"}
    gc.collect()
    before = _peak_rss()
    outputs = function(data)
    rss = _peak_rss() - before
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        function(data)
        times.append(time.perf_counter() - began)
    tracemalloc.start()
    function(data)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "times_ms": [round(t * 1000, 1) for t in times],
        "rss_bytes": rss,
        "traced_bytes": traced,
        "files": len(outputs),
        "bytes_out": sum(map(len, outputs)),
    }


def _spawn(variant: str, path: Path, runs: int) -> dict:
    """`measure` in a new interpreter; its JSON line back."""
    command = [sys.executable, "-m", "bench.bench_photos", "--child", variant, str(path)]
    done = subprocess.run(
        [*command, "--runs", str(runs)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(*, rounds: int = 3, runs: int = 5) -> dict:
    """Every variant in its own process, interleaved `rounds` times; medians over all runs."""
    load = [round(x, 2) for x in os.getloadavg()]
    data, origin = camera_photo()
    with Image.open(io.BytesIO(data)) as img:
        size = img.size
    samples: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "camera.jpg"
        path.write_bytes(data)
        for _ in range(rounds):
            for variant in VARIANTS:
                samples[variant].append(_spawn(variant, path, runs))
    variants = {variant: _summary(found) for variant, found in samples.items()}
    return {
        "photo": origin,
        "size": list(size),
        "bytes_in": len(data),
        "rounds": rounds,
        "runs_per_round": runs,
        "vips_concurrency": os.environ.get("VIPS_CONCURRENCY", f"{os.cpu_count()} (cores)"),
        "load_average": {"start": load, "end": [round(x, 2) for x in os.getloadavg()]},
        "variants": variants,
        **_ratios(variants),
    }


def _summary(found: list[dict]) -> dict:
    """One variant's figures over its rounds."""
    if any("skipped" in sample for sample in found):
        return {"skipped": found[0].get("skipped", "")}
    times = [t for sample in found for t in sample["times_ms"]]
    return {
        "median_ms": round(statistics.median(times), 1),
        "best_ms": min(times),
        "times_ms": times,
        "rss_mib": round(statistics.median(s["rss_bytes"] for s in found) / 2**20, 1),
        "traced_mib": round(statistics.median(s["traced_bytes"] for s in found) / 2**20, 1),
        "files": found[0]["files"],
        "bytes_out": found[0]["bytes_out"],
    }


def _ratios(variants: dict) -> dict:
    """The figures the targets are about."""
    ours, naive, encode = variants["ours"], variants["naive"], variants["encode"]
    vips = [variants[v] for v in ("pyvips", "pyvips-1") if "skipped" not in variants[v]]
    figures = {
        "speedup": round(naive["median_ms"] / ours["median_ms"], 2),
        "memory_ratio": round(ours["rss_mib"] / naive["rss_mib"], 3),
        "traced_ratio": round(ours["traced_mib"] / max(naive["traced_mib"], 0.1), 3),
        "speedup_best": round(naive["best_ms"] / ours["best_ms"], 2),
        "speedup_one_thread": round(naive["median_ms"] / variants["ours-1"]["median_ms"], 2),
        "threads": photos.THREADS,
        "speedup_without_encoding": round(
            (naive["median_ms"] - encode["median_ms"]) / (ours["median_ms"] - encode["median_ms"]),
            2,
        ),
        "speedup_without_encoding_best": round(
            (naive["best_ms"] - encode["best_ms"]) / (ours["best_ms"] - encode["best_ms"]), 2
        ),
        "vs_vips": None,
    }
    if vips:
        fastest = min(v["median_ms"] for v in vips)
        figures["vs_vips"] = round(ours["median_ms"] / fastest, 2)
    figures["met"] = {
        "speedup": figures["speedup"] >= TARGET_SPEEDUP,
        "memory": figures["memory_ratio"] <= TARGET_MEMORY,
        "vs_vips": figures["vs_vips"] is not None and figures["vs_vips"] <= TARGET_VIPS,
    }
    return figures


def rows(figures: dict) -> list[tuple[str, str, str, str, str]]:
    """Table rows in the shape `python -m bench` prints."""
    variants, met = figures["variants"], figures["met"]
    ours, naive, encode = (variants[name] for name in ("ours", "naive", "encode"))
    vips = [v for name, v in variants.items() if name.startswith("pyvips") and "median_ms" in v]
    fastest = f"{min(v['median_ms'] for v in vips):.0f}" if vips else "not installed"
    speedup, pixels = figures["speedup"], figures["speedup_without_encoding"]
    return [
        ("photos", "ms, 12 MP -> 8 files", f"{naive['median_ms']:.0f}", f"{ours['median_ms']:.0f}",
         f"{speedup:.2f}x (>= {TARGET_SPEEDUP:g}x) {_verdict(met['speedup'])}"),
        ("photos", "peak RSS MiB", f"{naive['rss_mib']:.1f}", f"{ours['rss_mib']:.1f}",
         f"{figures['memory_ratio']:.2f} (<= {TARGET_MEMORY:g}) {_verdict(met['memory'])}"),
        ("photos", "ms less encoding", f"{naive['median_ms'] - encode['median_ms']:.0f}",
         f"{ours['median_ms'] - encode['median_ms']:.0f}",
         f"{pixels:.2f}x (encoding alone {encode['median_ms']:.0f} ms)"),
        ("photos", "ms, fastest pyvips", fastest, f"{ours['median_ms']:.0f}",
         f"{figures['vs_vips']} of pyvips (<= {TARGET_VIPS:g}) {_verdict(met['vs_vips'])}"),
    ]  # fmt: skip


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _details(figures: dict) -> None:
    """Per-variant figures."""
    print(
        f"photo: {figures['photo']}, {figures['size'][0]}x{figures['size'][1]}, "
        f"{figures['bytes_in'] / 2**20:.1f} MiB; {figures['rounds']} processes x "
        f"{figures['runs_per_round']} runs per variant"
    )
    print(
        f"{'variant':10} {'median ms':>10} {'best ms':>8} {'RSS MiB':>8} {'traced MiB':>10} "
        f"{'files':>5} {'KiB out':>8}"
    )
    for name, found in figures["variants"].items():
        if "skipped" in found:
            print(f"{name:10} skipped: {found['skipped']}")
            continue
        rss = "n/a" if name == "encode" else f"{found['rss_mib']:.1f}"  # set up by a full run
        print(
            f"{name:10} {found['median_ms']:>10.0f} {found['best_ms']:>8.0f} {rss:>8} "
            f"{found['traced_mib']:>10.1f} {found['files']:>5} {found['bytes_out'] / 1024:>8.0f}"
        )


def _print_table(table: list[tuple[str, ...]]) -> None:
    """Aligned columns."""
    header = ("benchmark", "measure", "baseline", "ours", "ratio (target)")
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --child, one measurement) and report it."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_photos", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="processes per variant (3)")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per process (5)")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        variant, path = args.child
        print(json.dumps(measure(variant, Path(path).read_bytes(), args.runs)))
        return 0
    figures = run(rounds=args.rounds, runs=args.runs)
    _details(figures)
    print()
    _print_table(rows(figures))
    print(
        f"best of runs instead of medians: {figures['speedup_best']:.2f}x, "
        f"{figures['speedup_without_encoding_best']:.2f}x less encoding"
    )
    print(
        f"parallelism: {figures['threads']} worker threads give {figures['speedup']:.2f}x, "
        f"one thread (ours-1) {figures['speedup_one_thread']:.2f}x; "
        f"1-minute load average {figures['load_average']['start'][0]} at the start, "
        f"{figures['load_average']['end'][0]} at the end"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nResults written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
