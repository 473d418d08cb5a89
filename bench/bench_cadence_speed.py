"""Speed to lead, end to end: lead posted -> auto-response accepted by a real SMTP server.

Gunicorn (2 workers) serves the real app, `flask worker` runs with CADENCE_TICK_SECONDS=1, an
aiosmtpd server on loopback records when each message arrived; 200 leads are posted at 5 per
second. Latency is the POST's send time to the server's receipt time, matched by the recipient
address. Target: median <= 1 s, p99 <= 3 s. Baselines in the same run: the POST's own round
trip, and a comparable e-mail handed straight to the same server by SmtpSender. Run through
`python -m bench.bench_cadence speed`.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime

from sqlalchemy import select

from bench.bench_app import temporary_database
from bench.bench_intake import _free_port, _prepare, _wait_until_up, lead_body
from bench.cadence_support import (
    HOST,
    SmtpSink,
    database_kinds,
    in_app,
    mail_env,
    recipient,
    running,
    smtp_sink,
    summary,
    wait_for,
)

SPEED_MEDIAN, SPEED_P99 = 1.0, 3.0


def _worker_command(tick: float) -> list[str]:
    """`flask worker` for whole seconds (CADENCE_TICK_SECONDS is an integer setting); the same
    scheduler built by `build_scheduler` with a float tick otherwise (bench-only runner)."""
    if float(tick).is_integer():
        return [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    return [sys.executable, "-m", "bench.cadence_child", "worker", "--tick", str(tick)]


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
    with in_app(url) as db:
        return {email: (due, claimed) for email, due, claimed in db.session.execute(query)}


def speed_on(kind: str, *, leads: int, rate: float, tick: float, workers: int) -> dict:
    """One run: fresh database, SMTP sink, gunicorn and a worker; warm up, then time the leads."""
    tag = f"s{os.getpid()}t{str(tick).replace('.', '')}"
    with temporary_database(kind) as url, smtp_sink() as (sink, smtp_port):
        key = _prepare(url)
        with in_app(url):
            from dealer_leads.cadence.defaults import ensure_default_plans

            ensure_default_plans()
        port = _free_port()
        env = mail_env(url, smtp_port, CADENCE_TICK_SECONDS=str(int(tick) or 1))
        web = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"{HOST}:{port}"]
        web += ["--log-level", "warning", "bench.bench_app:create_bench_app()"]
        with (
            tempfile.NamedTemporaryFile("w+", prefix="dl_bench_web_") as web_log,
            tempfile.NamedTemporaryFile("w+", prefix="dl_bench_worker_") as worker_log,
            running(web, env, web_log) as web_process,
            running(_worker_command(tick), env, worker_log),
        ):
            _wait_until_up(port, web_process, web_log.name)
            warm = _post_paced(port, key, 6, rate, tag + "w")
            if not wait_for(lambda: sink.count() >= len(warm), 60):
                worker_log.seek(0)
                raise RuntimeError(f"no auto-response during warm-up:\n{worker_log.read()[-3000:]}")
            direct = _direct_smtp(sink, smtp_port, 40, rate)
            sink.clear()
            posts = _post_paced(port, key, leads, rate, tag, first=1000)
            wait_for(lambda: sink.count() >= len(posts), 30, 0.2)
        figures = _speed_figures(posts, sink, _touch_times(url), direct)
    figures.update(database=kind, tick_seconds=tick, gunicorn_workers=workers, rate=rate)
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
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
    latency = summary(latencies)
    missing = len(posts) - len(latencies)
    met = bool(latencies) and not missing
    met = met and latency["median"] <= SPEED_MEDIAN and latency["p99"] <= SPEED_P99
    return {
        "leads": len(posts),
        "statuses": dict(Counter(str(p["status"]) for p in posts)),
        "delivered": len(latencies),
        "missing": missing,
        "post_to_smtp_s": latency,
        "baseline_post_round_trip_s": summary([p["answered"] - p["sent"] for p in posts]),
        "baseline_direct_smtp_s": summary(direct),
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
    for kind in database_kinds(postgres, results):
        for tick in ticks:
            name = f"{kind} tick {tick:g}s"
            print(f"   speed {name} ...", file=sys.stderr, flush=True)
            results[name] = speed_on(kind, leads=leads, rate=rate, tick=tick, workers=workers)
    return results
