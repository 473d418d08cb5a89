"""`python -m bench.bench_cadence [speed|throughput|idle ...]`: the cadence worker's claims.

- speed (bench_cadence_speed.py): lead posted -> auto-response accepted by a real SMTP server
  (aiosmtpd, loopback), with gunicorn (2 workers) and `flask worker` (CADENCE_TICK_SECONDS=1)
  running; 200 leads at 5/s. Target median <= 1 s, p99 <= 3 s. Baselines in the same run: the
  POST's own round trip, and a comparable e-mail handed straight to the server by SmtpSender.
- throughput (bench_cadence_worker.py): 10,000 due e-mails drained by one worker process
  (SQLite; target >= 200/s), by one then two (PostgreSQL, alternating rounds; target two >= 1.6x
  one), each touch sent exactly once (Message-ID and recipient counted at the SMTP server, one
  outbound_messages row per touch). Baseline: the bare SmtpSender on pre-built messages; also a
  bench-only connection-reusing sender, and `flask worker` as shipped (one batch per tick).
- idle (bench_cadence_worker.py): one `run_due_touches` tick with 100,000 touches scheduled and
  none due (target <= 20 ms), alternating with the same tick on an empty table.

The table is printed; the figures go to bench/results/<UTC time>-cadence-<names>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime

from bench.bench_cadence_speed import SPEED_MEDIAN, SPEED_P99, speed
from bench.bench_cadence_worker import IDLE_MS, THROUGHPUT_RATE, idle, throughput

BENCHMARKS = ("speed", "throughput", "idle")


# -- command line -------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_cadence", description=__doc__.splitlines()[0]
    )
    parser.add_argument("names", nargs="*", help="speed, throughput and/or idle (default: all)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    speed_group = parser.add_argument_group("speed")
    speed_group.add_argument("--leads", type=int, default=200, help="timed leads (200)")
    speed_group.add_argument("--rate", type=float, default=5.0, help="leads per second (5)")
    speed_group.add_argument(
        "--ticks",
        default="1",
        help="worker ticks in seconds, comma-separated (1); a fraction "
        "runs the same scheduler through a bench-only runner",
    )
    speed_group.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    worker_group = parser.add_argument_group("throughput")
    worker_group.add_argument("--touches", type=int, default=10_000, help="due e-mails (10000)")
    worker_group.add_argument("--batch", type=int, default=100, help="touches per tick (100)")
    worker_group.add_argument(
        "--no-reusing", action="store_true", help="skip the connection-reusing sender legs"
    )
    worker_group.add_argument(
        "--rounds", type=int, default=2, help="PostgreSQL 1-then-2-worker pairs (2)"
    )
    idle_group = parser.add_argument_group("idle")
    idle_group.add_argument("--scheduled", type=int, default=100_000, help="(100000)")
    idle_group.add_argument("--idle-ticks", type=int, default=50, help="timed ticks each (50)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return args


def _run(name: str, args: argparse.Namespace) -> dict:
    postgres = not args.no_postgres
    if name == "speed":
        ticks = [float(tick) for tick in args.ticks.split(",")]
        return speed(
            leads=args.leads, rate=args.rate, ticks=ticks, workers=args.workers, postgres=postgres
        )
    if name == "throughput":
        return throughput(
            touches=args.touches,
            batch=args.batch,
            postgres=postgres,
            reusing=not args.no_reusing,
            rounds=args.rounds,
        )
    return idle(scheduled=args.scheduled, ticks=args.idle_ticks, postgres=postgres)


def rows(name: str, results: dict) -> list[tuple[str, str, str, str, str]]:
    """Table rows: (benchmark, measure, baseline, real, result / target)."""
    table = []
    for leg, figures in results.items():
        if not isinstance(figures, dict):
            continue
        if "skipped" in figures:
            table.append((f"{name} {leg}", "skipped", "", "", figures["skipped"][:60]))
        elif name == "speed":
            table += _speed_rows(leg, figures)
        elif name == "throughput":
            table += _throughput_rows(leg, figures)
        else:
            verdict = "met" if figures["met"] else "MISSED"
            table.append(
                (
                    f"idle {leg}",
                    f"tick ms, median ({figures['scheduled']:,} scheduled vs empty)",
                    f"{figures['empty_ms']['median']:.2f}",
                    f"{figures['full_ms']['median']:.2f}",
                    f"{figures['full_ms']['median']:.2f} ms (<= {IDLE_MS:g}) {verdict}",
                )
            )
    return table


def _speed_rows(leg: str, figures: dict) -> list[tuple]:
    latency, rtt = figures["post_to_smtp_s"], figures["baseline_post_round_trip_s"]
    direct = figures["baseline_direct_smtp_s"]
    verdict = "met" if figures["met"] else "MISSED"
    baseline = f"post {rtt['median']:.3f} + smtp {direct['median']:.3f}"
    return [
        (
            f"speed {leg}",
            "post -> SMTP receipt, median s",
            baseline,
            f"{latency.get('median', float('nan')):.3f}",
            f"<= {SPEED_MEDIAN:g} s {verdict}",
        ),
        (
            f"speed {leg}",
            f"p99 s ({figures['delivered']}/{figures['leads']} delivered)",
            f"post {rtt['p99']:.3f} + smtp {direct['p99']:.3f}",
            f"{latency.get('p99', float('nan')):.3f}",
            f"<= {SPEED_P99:g} s {verdict}",
        ),
    ]


def _throughput_rows(leg: str, figures: dict) -> list[tuple]:
    if leg == "postgresql scaling":
        verdict = "met" if figures["ratio"] >= figures["target"] else "MISSED"
        return [
            (
                "throughput postgresql",
                "touches/s, 1 worker vs 2 workers",
                f"{figures['one_per_s']:.0f}",
                f"{figures['two_per_s']:.0f}",
                f"{figures['ratio']:.2f}x (>= {figures['target']}) {verdict}",
            )
        ]
    if leg.startswith("baseline"):
        cpu = f"{figures['child_cpu_ms_per_message']} ms CPU/message"
        return [
            (
                f"throughput {leg}",
                "messages/s, no database",
                "",
                f"{figures['messages_per_s']:.0f}",
                cpu,
            )
        ]
    once = "exactly once" if figures["exactly_once"] else "DUPLICATES OR LOSSES"
    if "tick_seconds" in figures:  # flask worker as shipped: claims again while batches are full
        once += f"; batches of {figures['batch']}, claimed again within a tick"
    else:
        legs = figures.get("rounds") or [figures]
        largest = max(child["largest_claim"] for one in legs for child in one["children"])
        once += f"; largest claim {largest}/{figures['batch']}"
    if leg.startswith("sqlite 1 worker"):
        verdict = "met" if figures["touches_per_s"] >= THROUGHPUT_RATE else "MISSED"
        once += f"; >= {THROUGHPUT_RATE:g}/s {verdict}"
    touches = f"touches/s ({figures['touches']:,})"
    return [(f"throughput {leg}", touches, "", f"{figures['touches_per_s']:.0f}", once)]


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import RESULTS_DIR, machine, print_table

    args = _arguments(argv)
    names = [name for name in BENCHMARKS if name in (args.names or BENCHMARKS)]
    RESULTS_DIR.mkdir(exist_ok=True)
    report = {"machine": machine(), "settings": vars(args), "results": {}, "seconds": {}}
    table: list[tuple] = []
    for name in names:
        began = time.perf_counter()
        print(f"== cadence {name} ...", file=sys.stderr, flush=True)
        report["results"][name] = _run(name, args)
        report["seconds"][name] = round(time.perf_counter() - began, 1)
        table += rows(name, report["results"][name])
    print()
    print_table(table)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}-cadence-{'-'.join(names)}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
