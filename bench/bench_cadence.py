"""`python -m bench.bench_cadence [speed|throughput|idle ...]`: the cadence worker's claims.

- speed: lead posted -> auto-response accepted by a real SMTP server (aiosmtpd, loopback), with
  gunicorn (2 workers) and `flask worker` (CADENCE_TICK_SECONDS=1) running; 200 leads at 5/s.
  Target median <= 1 s, p99 <= 3 s. Baselines in the same run: the POST's own round trip, and
  the same kind of e-mail handed straight to the SMTP server by SmtpSender.
- throughput: 10,000 due e-mails drained by one worker (SQLite; target >= 200/s) and by one
  then two workers (PostgreSQL; target two >= 1.6x one), each touch sent exactly once (checked
  at the SMTP server by Message-ID and recipient, and in outbound_messages). Baseline: the bare
  SmtpSender on pre-built messages; also a bench-only connection-reusing sender.
- idle: one `run_due_touches` tick with 100,000 touches scheduled and none due (target <= 20 ms),
  side by side with the same tick on an empty table.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select

from bench.bench_app import PROJECT_ROOT, create_bench_app, postgres_available, temporary_database
from bench.bench_intake import _free_port, _prepare, _wait_until_up, lead_body
from bench.cadence_support import HOST, SmtpSink, recipient, smtp_sink

BENCHMARKS = ("speed", "throughput", "idle")
SPEED_MEDIAN, SPEED_P99, THROUGHPUT_RATE, SCALE_RATIO, IDLE_MS = 1.0, 3.0, 200.0, 1.6, 20.0


# -- helpers ------------------------------------------------------------------------------------


def _app(url: str):
    return create_bench_app(SQLALCHEMY_DATABASE_URI=url)


@contextmanager
def _in(url: str) -> Iterator:
    """An app context on `url`; connections closed afterwards (the database gets dropped)."""
    from dealer_leads.extensions import db

    with _app(url).app_context():
        try:
            yield db
        finally:
            db.session.remove()
            db.engine.dispose()


@contextmanager
def _running(command: list[str], env: dict, log) -> Iterator[subprocess.Popen]:
    """A child process that is always stopped: SIGTERM, then SIGKILL after 15 s."""
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (p99 of 200 values is the 198th smallest)."""
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) - 1e-9)
    return ordered[min(len(ordered), max(rank, 1)) - 1]


def _summary(values: list[float], scale: float = 1.0, digits: int = 3) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(statistics.median(values) * scale, digits),
        "p90": round(_quantile(values, 0.90) * scale, digits),
        "p99": round(_quantile(values, 0.99) * scale, digits),
        "max": round(max(values) * scale, digits),
    }


def _cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (0, 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _busy_since(start: tuple[int, int]) -> float:
    busy, total = _cpu_busy()
    return round((busy - start[0]) / (total - start[1]), 3) if total > start[1] else 0.0


def _mail_env(url: str, smtp_port: int, **extra: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "MAIL_SERVER": HOST,
        "MAIL_PORT": str(smtp_port),
        "MAIL_USE_TLS": "0",
        **extra,
    }


def _wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# -- speed to lead ------------------------------------------------------------------------------


def _worker_command(tick: float) -> list[str]:
    """`flask worker` for whole seconds (CADENCE_TICK_SECONDS is an integer setting); the same
    scheduler built by `build_scheduler` with a float tick otherwise (bench-only runner)."""
    if float(tick).is_integer():
        return [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    return [sys.executable, "-m", "bench.cadence_support", "worker", "--tick", str(tick)]


def _post_paced(
    port: int, key: str, count: int, rate: float, tag: str, first: int = 0
) -> list[dict]:
    """POST `count` leads, the i-th at start + i/rate (4 client threads); times are wall clock.
    Lead numbers start at `first`: e-mail and phone follow the number, and a repeat would be a
    duplicate of an open lead (no new plan, no auto-response)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    numbers, posts, lock = itertools.count(), [], threading.Lock()
    start = time.time() + 0.2

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while (n := next(numbers)) < count:
            body = lead_body(first + n, tag)
            time.sleep(max(0.0, start + n / rate - time.time()))
            sent = time.time()
            try:
                connection.request("POST", "/api/v1/leads", body, headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                connection.close()
            email = json.loads(body)["customer"]["email"].lower()
            with lock:
                posts.append(
                    {"email": email, "sent": sent, "answered": time.time(), "status": status}
                )
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(count / rate + 120)
    return posts


def _direct_smtp(sink: SmtpSink, smtp_port: int, count: int, rate: float) -> list[float]:
    """Baseline: SmtpSender hands a comparable e-mail to the same server; send -> receipt (s)."""
    from dealer_leads.messaging.email import build_email
    from dealer_leads.messaging.senders import SmtpSender
    from dealer_leads.messaging.templates import Rendered

    sender, delays = SmtpSender(HOST, smtp_port, use_tls=False, timeout=10), []
    for n in range(count):
        to = recipient("direct", n)
        message = build_email(
            rendered=Rendered(
                "Your inquiry about the 2026 Toyota RAV4", "Hi Jordan,\n", "<p>Hi</p>"
            ),
            to=to,
            from_addr="leads@localhost",
            reply_to="leads+0000000000000000@localhost",
            message_id_domain="localhost",
            unsubscribe_url="http://127.0.0.1:5000/unsubscribe/x",
            dealership_footer_text="Maple Ridge Motors",
            dealership_footer_html="Maple Ridge Motors",
        )
        sent = time.time()
        sender.send(message)
        arrived = {m.recipients[0]: m.at for m in sink.snapshot()}
        delays.append(arrived[to] - sent)
        time.sleep(max(0.0, 1 / rate - (time.time() - sent)))
    return delays


def _touch_times(url: str) -> dict[str, tuple[datetime, datetime | None]]:
    """recipient -> (due_at, claimed_at) of each lead's first automatic e-mail."""
    from dealer_leads.cadence.models import Touch
    from dealer_leads.leads.models import Customer, Lead

    query = (
        select(Customer.email, Touch.due_at, Touch.claimed_at)
        .join(Lead, Lead.customer_id == Customer.id)
        .join(Touch, Touch.lead_id == Lead.id)
        .where(Touch.position == 0, Touch.channel == "auto_email")
    )
    with _in(url) as db:
        return {email: (due, claimed) for email, due, claimed in db.session.execute(query)}


def speed_on(kind: str, *, leads: int, rate: float, tick: float, workers: int) -> dict:
    """One run: fresh database, SMTP sink, gunicorn and a worker; warm up, then time the leads."""
    tag = f"s{os.getpid()}t{str(tick).replace('.', '')}"
    with temporary_database(kind) as url, smtp_sink() as (sink, smtp_port):
        key = _prepare(url)
        with _in(url):
            from dealer_leads.cadence.defaults import ensure_default_plans

            ensure_default_plans()
        port = _free_port()
        env = _mail_env(url, smtp_port, CADENCE_TICK_SECONDS=str(int(tick) or 1))
        web = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"{HOST}:{port}"]
        web += ["--log-level", "warning", "bench.bench_app:create_bench_app()"]
        with (
            tempfile.NamedTemporaryFile("w+", prefix="dl_bench_web_") as web_log,
            tempfile.NamedTemporaryFile("w+", prefix="dl_bench_worker_") as worker_log,
            _running(web, env, web_log) as web_process,
            _running(_worker_command(tick), env, worker_log),
        ):
            _wait_until_up(port, web_process, web_log.name)
            warm = _post_paced(port, key, 6, rate, tag + "w")
            if not _wait_for(lambda: sink.count() >= len(warm), 60):
                worker_log.seek(0)
                raise RuntimeError(f"no auto-response during warm-up:\n{worker_log.read()[-3000:]}")
            direct = _direct_smtp(sink, smtp_port, 40, rate)
            sink.clear()
            posts = _post_paced(port, key, leads, rate, tag, first=1000)
            _wait_for(lambda: sink.count() >= len(posts), 30, 0.2)
        figures = _speed_figures(posts, sink, _touch_times(url), direct)
    figures.update(database=kind, tick_seconds=tick, gunicorn_workers=workers, rate=rate)
    return figures


def _speed_figures(posts: list[dict], sink: SmtpSink, touches: dict, direct: list[float]):
    arrived: dict[str, float] = {}
    for message in sink.snapshot():
        for address in message.recipients:
            arrived.setdefault(address.lower(), message.at)
    latencies = [arrived[p["email"]] - p["sent"] for p in posts if p["email"] in arrived]
    waits, in_tick, web = [], [], []
    for p in posts:
        due, claimed = touches.get(p["email"], (None, None))
        if due is not None and claimed is not None and p["email"] in arrived:
            web.append(due.timestamp() - p["sent"])
            waits.append((claimed - due).total_seconds())
            in_tick.append(arrived[p["email"]] - claimed.timestamp())
    latency = _summary(latencies)
    missing = len(posts) - len(latencies)
    met = bool(latencies) and not missing
    met = met and latency["median"] <= SPEED_MEDIAN and latency["p99"] <= SPEED_P99
    return {
        "leads": len(posts),
        "statuses": dict(Counter(str(p["status"]) for p in posts)),
        "delivered": len(latencies),
        "missing": missing,
        "post_to_smtp_s": latency,
        "baseline_post_round_trip_s": _summary([p["answered"] - p["sent"] for p in posts]),
        "baseline_direct_smtp_s": _summary(direct),
        "parts_median_s": {
            "post_to_lead_saved": round(statistics.median(web), 3) if web else None,
            "saved_to_tick_claim": round(statistics.median(waits), 3) if waits else None,
            "claim_to_smtp_receipt": round(statistics.median(in_tick), 3) if in_tick else None,
        },
        "target": {"median_s": SPEED_MEDIAN, "p99_s": SPEED_P99},
        "met": met,
    }


def speed(*, leads: int, rate: float, ticks: list[float], workers: int, postgres: bool) -> dict:
    results = {}
    for kind in _kinds(postgres, results):
        for tick in ticks:
            name = f"{kind} tick {tick:g}s"
            print(f"   speed {name} ...", file=sys.stderr, flush=True)
            results[name] = speed_on(kind, leads=leads, rate=rate, tick=tick, workers=workers)
    return results


def _kinds(postgres: bool, results: dict) -> list[str]:
    why_not = postgres_available() if postgres else "turned off (--no-postgres)"
    if why_not:
        results["postgresql"] = {"skipped": why_not}
        return ["sqlite"]
    return ["sqlite", "postgresql"]


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
    from bench import bench_cadence_worker

    if name == "throughput":
        return bench_cadence_worker.throughput(
            touches=args.touches, batch=args.batch, postgres=postgres, reusing=not args.no_reusing
        )
    return bench_cadence_worker.idle(
        scheduled=args.scheduled, ticks=args.idle_ticks, postgres=postgres
    )


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
                "2 workers / 1 worker",
                "1 worker",
                "2 workers",
                f"{figures['ratio']:.2f} (>= {figures['target']}) {verdict}",
            )
        ]
    if leg.startswith("baseline"):
        return [
            (
                f"throughput {leg}",
                "messages/s, no database",
                "",
                f"{figures['messages_per_s']:.0f}",
                f"{figures['child_cpu_ms_per_message']} ms CPU/message",
            )
        ]
    once = "exactly once" if figures["exactly_once"] else "DUPLICATES OR LOSSES"
    target = ""
    if figures["database"] == "sqlite" and figures["workers"] == 1:
        verdict = "met" if figures["touches_per_s"] >= THROUGHPUT_RATE else "MISSED"
        target = f" (>= {THROUGHPUT_RATE:g}/s) {verdict}"
    return [
        (
            f"throughput {leg}",
            f"touches/s ({figures['touches']:,})",
            "",
            f"{figures['touches_per_s']:.0f}",
            f"{once}{target}",
        )
    ]


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
