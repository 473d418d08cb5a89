"""Intake: JSON lead posts per second through gunicorn (2 workers), real endpoint vs baseline.

Real: `POST /api/v1/leads` with a bearer key (store the raw payload, parse, match, dedupe, route,
assign, commit). Baseline, in the same app and server: `POST /bench/parse-only`, the same size
check, JSON parse and normalisation without the database. Every real post has its own provider
id, e-mail and phone, so each one creates a new lead and customer. With `floors`, three more
legs: the same rows written with none of the app's logic (`bench_floor`), the most a post writing
them can reach here, the last in the fewest statements. Each leg also notes the CPU the gunicorn
workers and the PostgreSQL server used per post (read from /proc; empty elsewhere).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from bench.bench_app import PROJECT_ROOT, create_bench_app, postgres_available, temporary_database

TARGET_RATIO = 0.4
REAL_PATH = "/api/v1/leads"
BASELINE_PATH = "/bench/parse-only"
FLOOR_PATHS = {
    "floor_core": "/bench/floor/core",
    "floor_dbapi": "/bench/floor/dbapi",
    "floor_lean": "/bench/floor/lean",
}
AREA_CODES = ("416", "647", "905", "613", "514", "604", "403", "780")
MAKES = (("Toyota", "RAV4"), ("Honda", "Civic"), ("Ford", "F-150"), ("Mazda", "CX-5"))
SOURCES = ("Autotrader", "Cars.com", "CarGurus", "TrueCar", "Website")


@dataclass
class LoadResult:
    """One timed leg: how many posts answered with which status, over how long."""

    path: str
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    cpu_seconds: Counter = field(default_factory=Counter)  # "app", "database"

    @property
    def ok(self) -> int:
        return self.statuses[200] + self.statuses[201]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def lead_body(n: int, tag: str) -> bytes:
    """A realistic JSON lead whose provider id, e-mail and phone are unique to `n`."""
    make, model = MAKES[n % len(MAKES)]
    area = AREA_CODES[n // 8_000_000 % len(AREA_CODES)]
    exchange, line = 200 + n // 10_000 % 800, n % 10_000
    body = {
        "source": SOURCES[n % len(SOURCES)],
        "provider_lead_id": f"{tag}-{n}",
        "requested_at": "2026-11-23T14:05:00-05:00",
        "customer": {
            "first_name": "Jordan",
            "last_name": f"Bench{n}",
            "email": f"jordan.bench{n}.{tag}@example.com",
            "phone": f"({area}) {exchange:03d}-{line:04d}",
            "address": {"city": "Toronto", "region": "ON", "postal_code": "M5V 2T6"},
        },
        "vehicles": [
            {"interest": "buy", "status": "new", "year": 2026, "make": make, "model": model},
            {"interest": "trade-in", "year": 2017, "make": "Honda", "model": "Fit"},
        ],
        "comments": "Is this one still available? I can come by Saturday morning.",
    }
    return json.dumps(body).encode()


def drive(
    port: int,
    path: str,
    headers: dict[str, str],
    next_body: Callable[[], bytes],
    *,
    threads: int,
    seconds: float,
    max_posts: int,
) -> LoadResult:
    """Post from `threads` threads until `seconds` pass or `max_posts` are sent (loopback)."""
    sent = itertools.count(1)
    lock = threading.Lock()
    result = LoadResult(path, 0.0)
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        seen, failed = Counter(), Counter()
        start.wait()
        while time.perf_counter() < deadline[0]:
            if next(sent) > max_posts:
                break
            try:
                connection.request("POST", path, next_body(), headers)
                response = connection.getresponse()
                response.read()
                seen[response.status] += 1
            except (OSError, http.client.HTTPException) as error:
                failed[type(error).__name__] += 1
                connection.close()
        connection.close()
        with lock:
            result.statuses.update(seen)
            result.errors.update(failed)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in pool:
        thread.join(seconds + 120)
    result.seconds = time.perf_counter() - began
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, server: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/openapi.json")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    with open(log_path) as log:
        raise RuntimeError(f"gunicorn did not start:\n{log.read()[-3000:]}")


def _prepare(url: str) -> str:
    """An API key with the leads scope, and advisors on shift for round-robin assignment."""
    from dealer_leads.api.services import create_api_key
    from dealer_leads.auth.models import User
    from dealer_leads.extensions import db

    app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        for n in range(1, 5):
            db.session.add(
                User(
                    email=f"advisor{n}@bench.example",
                    name=f"Advisor {n}",
                    role="advisor",
                    password_hash="!",  # cannot sign in; only receives leads
                )
            )
        db.session.commit()
        _, key = create_api_key("bench", ["leads"])
        db.session.remove()
        db.engine.dispose()
    return key


def _count_leads(url: str) -> int:
    from dealer_leads.extensions import db
    from dealer_leads.leads.models import Lead

    app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        count = db.session.scalar(select(func.count(Lead.id)))
        db.session.remove()
        db.engine.dispose()
    return count


def run_on(
    kind: str,
    *,
    threads: int,
    seconds: float,
    rounds: int,
    max_posts: int,
    workers: int = 2,
    floors: bool = False,
) -> dict:
    """The endpoints (parse-only, real, and the floors when asked) on one fresh database behind
    one gunicorn, alternating, `rounds` times."""
    with temporary_database(kind) as url:
        key = _prepare(url)
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url}
        command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
        command += ["--log-level", "warning", "bench.bench_app:create_bench_app()"]
        with tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="dl_bench_") as log:
            server = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                _wait_until_up(port, server, log.name)
                paths = {"baseline": BASELINE_PATH, "real": REAL_PATH}
                paths |= FLOOR_PATHS if floors else {}
                load = (threads, seconds, rounds, max_posts)
                figures = _measure(port, key, paths, load, _cpu_meter(server.pid, kind))
            finally:
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(5)
        figures["leads_in_database"] = _count_leads(url)
    figures["database"] = kind
    figures["gunicorn_workers"] = workers
    return figures


def _measure(port: int, key: str, paths: dict[str, str], load: tuple, cpu: Callable) -> dict:
    threads, seconds, rounds, max_posts = load
    tag = f"b{os.getpid()}"
    # One number for all legs, warm-up included: every post is new.
    numbers, sent = itertools.count(), Counter()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    def leg(name: str, duration: float) -> LoadResult:
        def next_body() -> bytes:
            sent[name] += 1
            return lead_body(next(numbers), tag)

        before = cpu()
        result = drive(
            port,
            paths[name],
            headers,
            next_body,
            threads=threads,
            seconds=duration,
            max_posts=max_posts,
        )
        result.cpu_seconds = cpu() - before
        return result

    for name in paths:
        leg(name, min(2.0, seconds))  # warm-up: imports, connections, caches, SQLite pages
    runs: dict[str, list[LoadResult]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name in paths:
            runs[name].append(leg(name, seconds))
    figures = _summarise(runs, threads, seconds, rounds)
    # Every one a new lead (the baseline writes nothing): to compare with the leads stored.
    figures["leads_posted_incl_warmup"] = sum(n for name, n in sent.items() if name != "baseline")
    return figures


def _summarise(runs: dict[str, list[LoadResult]], threads: int, seconds: float, rounds: int):
    rates = {name: _pooled_rate(results) for name, results in runs.items()}
    pairs = zip(runs["baseline"], runs["real"], strict=True)
    per_round = [r.rate / b.rate if b.rate else 0.0 for b, r in pairs]
    statuses = {
        name: {str(k): v for k, v in sum((r.statuses for r in rs), Counter()).items()}
        for name, rs in runs.items()
    }
    errors = {name: dict(sum((r.errors for r in rs), Counter())) for name, rs in runs.items()}
    ratio = rates["real"] / rates["baseline"] if rates["baseline"] else 0.0
    figures = {
        "threads": threads,
        "seconds_per_leg": seconds,
        "rounds": rounds,
        "baseline_posts_per_s": round(rates["baseline"], 1),
        "real_posts_per_s": round(rates["real"], 1),
        "ratio": round(ratio, 3),
        "ratio_per_round": [round(r, 3) for r in per_round],
        "ratio_spread": round(max(per_round) - min(per_round), 3) if per_round else 0.0,
        "median_round_ratio": round(statistics.median(per_round), 3) if per_round else 0.0,
        "statuses": statuses,
        "client_errors": errors,
        "cpu_ms_per_post": {name: _cpu_per_post(results) for name, results in runs.items()},
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
    }
    for name in (name for name in FLOOR_PATHS if name in runs):
        rate = rates[name]
        figures[name] = {
            "posts_per_s": round(rate, 1),
            "ratio": round(rate / rates["baseline"], 3) if rates["baseline"] else 0.0,
        }
    return figures


def _cpu_per_post(results: list[LoadResult]) -> dict[str, float]:
    posts = sum(r.ok for r in results)
    used = sum((r.cpu_seconds for r in results), Counter())
    return {what: round(spent / posts * 1000, 2) for what, spent in used.items()} if posts else {}


def _cpu_meter(server_pid: int, kind: str) -> Callable[[], Counter]:
    """CPU seconds used so far by the gunicorn workers ("app") and, on PostgreSQL, by every
    `postgres` process ("database"); an empty Counter where /proc is missing."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read() -> Counter:
        used = Counter()
        for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    line = stat.read()
            except OSError:  # ended meanwhile
                continue
            name = line[line.index("(") + 1 : line.rindex(")")]
            fields = line[line.rindex(")") + 2 :].split()
            seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
            if int(fields[1]) == server_pid:  # a worker: the gunicorn master's child
                used["app"] += seconds
            elif kind == "postgresql" and name.startswith("postgres"):
                used["database"] += seconds
        return used

    return read


def _pooled_rate(results: list[LoadResult]) -> float:
    seconds = sum(r.seconds for r in results)
    return sum(r.ok for r in results) / seconds if seconds else 0.0


def run(
    *,
    threads: int = 8,
    seconds: float = 5.0,
    rounds: int = 2,
    max_posts: int = 50_000,
    workers: int = 2,
    postgres: bool = True,
    floors: bool = False,
) -> dict:
    """The intake benchmark on SQLite and (when reachable) PostgreSQL."""
    options = {"threads": threads, "seconds": seconds, "rounds": rounds, "max_posts": max_posts}
    options |= {"workers": workers, "floors": floors}
    results = {"sqlite": run_on("sqlite", **options)}
    why_not = postgres_available() if postgres else "turned off (--no-postgres)"
    if why_not:
        results["postgresql"] = {"skipped": why_not}
    else:
        results["postgresql"] = run_on("postgresql", **options)
    return results


def rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """Table rows: (benchmark, measure, baseline, real, ratio / target)."""
    table = []
    for kind in ("sqlite", "postgresql"):
        figures = results[kind]
        if "skipped" in figures:
            table.append((f"intake {kind}", "skipped", "", "", figures["skipped"][:60]))
            continue
        verdict = "met" if figures["met"] else "MISSED"
        table.append(
            (
                f"intake {kind}",
                "posts/s (gunicorn -w 2)",
                f"{figures['baseline_posts_per_s']:.0f}",
                f"{figures['real_posts_per_s']:.0f}",
                f"{figures['ratio']:.2f} (>= {TARGET_RATIO}) {verdict}",
            )
        )
        for name in (name for name in FLOOR_PATHS if name in figures):
            floor = figures[name]
            measure = f"{name.replace('_', ' ')}: the rows alone"
            table.append(
                (
                    f"intake {kind}",
                    measure,
                    f"{figures['baseline_posts_per_s']:.0f}",
                    f"{floor['posts_per_s']:.0f}",
                    f"{floor['ratio']:.2f} (the most a post writing them reaches)",
                )
            )
    return table


def _time_write_transactions(engine, tally: Counter) -> None:
    """Adds up, as `write_ms`, how long each transaction that wrote lasted from its BEGIN to its
    COMMIT: on SQLite, where writers begin IMMEDIATE, how long it held the write lock."""
    from sqlalchemy import event

    def began(connection):  # after the app's own listener has sent BEGIN (IMMEDIATE)
        connection.info["began"], connection.info["wrote"] = time.perf_counter(), False

    def executed(connection, _cursor, statement, *_args):
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            connection.info["wrote"] = True

    def committed(connection):
        if connection.info.pop("wrote", False):
            held = time.perf_counter() - connection.info.pop("began")
            tally.update({"write_transactions": 1, "write_ms": held * 1000})

    event.listen(engine, "begin", began)
    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)


def profile(kind: str = "sqlite", posts: int = 300) -> dict:
    """Where a real post's time goes, in-process (test client, one at a time): CPU per post for
    both endpoints, SQL statements, flushes, commits, write transactions and the time they
    held (`write_ms`) per post, and the costliest calls."""
    import cProfile
    import io
    import pstats

    from sqlalchemy import event

    from dealer_leads.extensions import db

    with temporary_database(kind) as url:
        key = _prepare(url)
        app = create_bench_app(SQLALCHEMY_DATABASE_URI=url)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        tally = Counter()
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", lambda *a: tally.update(["statements"]))
        event.listen(engine, "commit", lambda *a: tally.update(["commits"]))
        event.listen(db.session, "before_flush", lambda *a: tally.update(["flushes"]))
        _time_write_transactions(engine, tally)

        numbers = itertools.count()  # one for all posts: a phone number is never reused

        def post(path: str) -> None:
            body = lead_body(next(numbers), "profile")
            response = client.post(
                path, data=body, headers=headers, content_type="application/json"
            )
            assert response.status_code == 201, response.get_data(as_text=True)

        for _ in range(30):  # warm-up
            post(REAL_PATH)
            post(BASELINE_PATH)
        figures: dict = {"database": kind, "posts": posts}
        for name, path in (("baseline", BASELINE_PATH), ("real", REAL_PATH)):
            tally.clear()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(posts):
                post(path)
            figures[name] = {
                "cpu_ms_per_post": round((time.process_time() - cpu) / posts * 1000, 2),
                "wall_ms_per_post": round((time.perf_counter() - wall) / posts * 1000, 2),
                **{what: round(count / posts, 2) for what, count in tally.items()},
            }
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [post(REAL_PATH) for _ in range(posts)])
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(r"dealer_leads|sqlalchemy/orm/session.py.*(flush|commit)", 25)
        figures["profile"] = out.getvalue()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return figures
