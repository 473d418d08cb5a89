"""Nothing lost under load: 8 clients post 2,000 leads at once while a supervisor reads the
queue. Every accepted lead is stored exactly once and no answer is a 5xx (not timed)."""

from concurrent.futures import ThreadPoolExecutor

import requests
from support import serve

from dealer_leads.api.services import create_api_key
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead, LeadEvent, LeadSource

CLIENTS, PER_CLIENT = 8, 250


def _post_leads(base: str, key: str, client: int) -> list[int]:
    codes = []
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {key}"
        for n in range(PER_CLIENT):
            body = {
                "source": "LoadTest",
                "provider_lead_id": f"{client}-{n}",
                "customer": {
                    "first_name": f"C{client}",
                    "last_name": f"N{n}",
                    "email": f"c{client}.n{n}@example.com",
                },
            }
            codes.append(http.post(f"{base}/api/v1/leads", json=body, timeout=60).status_code)
            if n % 10 == 0:  # a provider that resends: still one lead
                codes.append(http.post(f"{base}/api/v1/leads", json=body, timeout=60).status_code)
    return codes


def _read_queue(base: str, email: str, stop) -> list[int]:
    codes = []
    with requests.Session() as http:
        http.post(f"{base}/login", data={"email": email, "password": "password123"}, timeout=60)
        while not stop.done():
            codes.append(http.get(f"{base}/leads/", timeout=60).status_code)
    return codes


def test_concurrent_posts_store_every_lead_once(app, make_user):
    _, key = create_api_key("load", ["leads"])
    reader_email = make_user("supervisor").email
    make_user("advisor")
    db.session.commit()  # hold no transaction (nor SQLite lock) while the server works
    with serve(app) as base, ThreadPoolExecutor(CLIENTS + 2) as pool:
        posts = [pool.submit(_post_leads, base, key, c) for c in range(CLIENTS)]
        everything = pool.submit(lambda: [f.result() for f in posts])
        reads = pool.submit(_read_queue, base, reader_email, everything)
        post_codes = [code for codes in everything.result() for code in codes]
        read_codes = reads.result()
    assert len(post_codes) == CLIENTS * (PER_CLIENT + PER_CLIENT // 10)
    assert set(post_codes) <= {200, 201}, sorted(set(post_codes))
    assert read_codes and set(read_codes) == {200}
    db.session.expire_all()
    count = db.func.count
    assert db.session.scalar(db.select(count(Lead.id))) == CLIENTS * PER_CLIENT
    assert db.session.scalar(db.select(count(db.distinct(LeadSource.provider_lead_id)))) == (
        CLIENTS * PER_CLIENT
    )
    inquiries = db.select(count(LeadEvent.id)).where(LeadEvent.kind == "inquiry")
    assert db.session.scalar(inquiries) == CLIENTS * PER_CLIENT
    duplicates = db.select(count(LeadEvent.id)).where(LeadEvent.kind == "duplicate")
    assert db.session.scalar(duplicates) == CLIENTS * (PER_CLIENT // 10)
