"""`python -m bench [intake|adf|triage ...]`: run benchmarks, print a table, save JSON.

Every figure is compared with a baseline measured in the same run, on the same machine; the
JSON file in bench/results/ keeps the details (machine, settings, per-round figures, the SQL a
page issued and its query plans).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = ("intake", "adf", "triage")
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="intake, adf and/or triage (default: all)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    intake = parser.add_argument_group("intake")
    intake.add_argument("--seconds", type=float, default=5.0, help="per timed leg (5)")
    intake.add_argument("--rounds", type=int, default=2, help="baseline/real pairs (2)")
    intake.add_argument("--threads", type=int, default=8, help="client threads (8)")
    intake.add_argument("--max-posts", type=int, default=50_000, help="cap per leg (50000)")
    intake.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    intake.add_argument(
        "--floors",
        action="store_true",
        help="also post to the floors: the same rows with none of the app's logic",
    )
    intake.add_argument(
        "--profile", action="store_true", help="also profile a real post in-process (SQLite)"
    )
    adf = parser.add_argument_group("adf")
    adf.add_argument("--adf-seconds", type=float, default=0.5, help="per measure (0.5)")
    adf.add_argument("--adf-repeats", type=int, default=7, help="interleaved repeats (7)")
    triage = parser.add_argument_group("triage")
    triage.add_argument(
        "--sizes", default="1000,100000", help="lead counts, smallest vs largest (1000,100000)"
    )
    triage.add_argument("--requests", type=int, default=25, help="timed page loads per size (25)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return args


def machine() -> dict:
    """What the figures were measured on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in load],
        "commit": _commit(),
    }


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _run(name: str, args: argparse.Namespace) -> tuple[dict, list[tuple]]:
    postgres = not args.no_postgres
    if name == "intake":
        from bench import bench_intake

        figures = bench_intake.run(
            threads=args.threads,
            seconds=args.seconds,
            rounds=args.rounds,
            max_posts=args.max_posts,
            workers=args.workers,
            postgres=postgres,
            floors=args.floors,
        )
        if args.profile:
            figures["profile_sqlite"] = bench_intake.profile("sqlite")
        return figures, bench_intake.rows(figures)
    if name == "adf":
        from bench import bench_adf

        figures = bench_adf.run(seconds=args.adf_seconds, repeats=args.adf_repeats)
        return figures, bench_adf.rows(figures)
    from bench import bench_triage

    sizes = tuple(sorted(int(size) for size in args.sizes.split(",")))
    figures = bench_triage.run(sizes=sizes, requests=args.requests, postgres=postgres)
    return figures, bench_triage.rows(figures)


def print_table(rows: list[tuple]) -> None:
    header = ("benchmark", "measure", "baseline / small", "real / large", "ratio (target)")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for number, row in enumerate([header, *rows]):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _print_details(results: dict) -> None:
    """What a reader needs when a target is missed: the slow SQL and its plan, the profile."""
    for kind, figures in results.get("triage", {}).items():
        if figures.get("met", True):
            continue
        largest = max(figures["sizes"], key=int)
        print(f"\ntriage {kind}, {int(largest):,} leads: slowest statements of one page load")
        for statement in figures["sizes"][largest]["slowest_statements"]:
            print(f"  {statement['ms']:.2f} ms  {statement['sql'][:160]}")
            for line in statement["plan"][:6]:
                print(f"      {line}")
    profile = results.get("intake", {}).get("profile_sqlite")
    if profile:
        summary = {k: v for k, v in profile.items() if k != "profile"}
        print(f"\nintake profile (in-process, one post at a time): {json.dumps(summary)}")
        print(profile["profile"])


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    names = [name for name in BENCHMARKS if name in (args.names or BENCHMARKS)]
    RESULTS_DIR.mkdir(exist_ok=True)
    report = {"machine": machine(), "settings": vars(args), "results": {}, "seconds": {}}
    rows: list[tuple] = []
    for name in names:
        began = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        figures, table = _run(name, args)
        report["results"][name] = figures
        report["seconds"][name] = round(time.perf_counter() - began, 1)
        rows += table
    print()
    print_table(rows)
    _print_details(report["results"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}-{'-'.join(names)}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
