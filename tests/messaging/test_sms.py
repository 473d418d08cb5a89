"""SMS provider client and webhook signatures: pure checks, and a real provider on loopback."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from werkzeug.datastructures import MultiDict

from dealer_leads.messaging.errors import PermanentSendError, TemporarySendError
from dealer_leads.messaging.sms import (
    LogSmsSender,
    SmsOutcomeUnknown,
    SmsRejected,
    SmsSender,
    sms_config_problem,
    sms_sender_from_config,
    status_callback_url,
    twilio_signature,
    valid_signature,
)

SID, TOKEN, FROM = "AC0123456789abcdef0123456789abcdef", "secret-token", "+14165550100"

# Twilio's documented example (security docs): this URL, these parameters, auth token 12345.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


# --- signatures -------------------------------------------------------------------------------


def test_signature_matches_twilio_documented_example():
    assert twilio_signature(DOC_URL, DOC_PARAMS, "12345") == DOC_SIGNATURE
    assert valid_signature(DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "12345")


def test_signature_ignores_parameter_order_and_signs_every_repeated_value():
    forward = MultiDict([("Body", "hi"), ("MediaUrl", "b"), ("MediaUrl", "a")])
    backward = MultiDict([("MediaUrl", "a"), ("MediaUrl", "b"), ("Body", "hi")])
    signature = twilio_signature("https://x.test/hook", forward, TOKEN)
    assert twilio_signature("https://x.test/hook", backward, TOKEN) == signature
    assert twilio_signature(
        "https://x.test/hook", {"Body": "hi", "MediaUrl": ["b", "a"]}, TOKEN
    ) == (signature)
    assert twilio_signature("https://x.test/hook", {"Body": "hi", "MediaUrl": "a"}, TOKEN) != (
        signature
    )


@pytest.mark.parametrize(
    ("url", "params", "signature", "token"),
    [
        (DOC_URL, {**DOC_PARAMS, "Digits": "1235"}, DOC_SIGNATURE, "12345"),
        (DOC_URL.replace("foo=1", "foo=2"), DOC_PARAMS, DOC_SIGNATURE, "12345"),
        (DOC_URL.replace("https", "http"), DOC_PARAMS, DOC_SIGNATURE, "12345"),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "54321"),
        (DOC_URL, DOC_PARAMS, "", "12345"),
        (DOC_URL, DOC_PARAMS, None, "12345"),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE, ""),
        (DOC_URL, DOC_PARAMS, DOC_SIGNATURE[:-2], "12345"),
    ],
    ids=["param", "query", "scheme", "token", "empty", "none", "no-token", "truncated"],
)
def test_tampered_requests_fail_the_check(url, params, signature, token):
    assert not valid_signature(url, params, signature, token)


def test_signature_round_trips_with_or_without_the_default_port():
    params = {"From": "+14165550123", "Body": "Yes, C"}
    signed = twilio_signature("https://dealer.test/api/v1/inbound/sms", params, TOKEN)
    assert valid_signature("https://dealer.test/api/v1/inbound/sms", params, signed, TOKEN)
    assert valid_signature("https://dealer.test:443/api/v1/inbound/sms", params, signed, TOKEN)
    assert not valid_signature("https://dealer.test:8443/api/v1/inbound/sms", params, signed, TOKEN)
    assert len(base64.b64decode(signed)) == 20  # SHA-1


def test_status_callback_url_is_public():
    assert status_callback_url("https://dealer.test/") == (
        "https://dealer.test/api/v1/inbound/sms/status"
    )


# --- a provider on loopback -------------------------------------------------------------------


class FakeProvider:
    """Records each request; answers with the next queued (status, body), else a created text."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, object]] = []
        self.url = ""

    def answer(self) -> tuple[int, object]:
        if self.answers:
            return self.answers.pop(0)
        return 201, {"sid": f"SM{len(self.requests):032d}", "status": "queued"}


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            provider.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                    "form": {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()},
                }
            )
            status, payload = provider.answer()
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/2010-04-01"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as made:
        yield made


def _sender(url: str, session: requests.Session, timeout: float = 5) -> SmsSender:
    return SmsSender(url, SID, TOKEN, FROM, timeout=timeout, session=session)


def test_send_posts_the_form_with_basic_auth(provider, session):
    sid = _sender(provider.url, session).send(
        "+14165550123", "Hi Dana, it's Sam from Maple Ridge Motors.", "https://d.test/cb"
    )
    assert sid == "SM" + "1".zfill(32)
    [sent] = provider.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert sent["form"] == {
        "To": "+14165550123",
        "From": FROM,
        "Body": "Hi Dana, it's Sam from Maple Ridge Motors.",
        "StatusCallback": "https://d.test/cb",
    }


def test_send_without_a_status_callback_leaves_it_out(provider, session):
    _sender(provider.url + "/", session).send("+14165550123", "Héllo ✓", None)
    [sent] = provider.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent["form"] == {"To": "+14165550123", "From": FROM, "Body": "Héllo ✓"}


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_busy_or_failing_provider_is_temporary(provider, session, status):
    provider.answers.append((status, {"code": 20500, "message": "Internal Server Error"}))
    with pytest.raises(TemporarySendError, match=str(status)) as caught:
        _sender(provider.url, session).send("+14165550123", "hi")
    assert not isinstance(caught.value, PermanentSendError)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +1416555 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
    ],
)
def test_refused_number_is_permanent_with_the_provider_code(provider, session, code, message):
    error = {"code": code, "message": message, "more_info": "https://x", "status": 400}
    provider.answers.append((400, error))
    with pytest.raises(PermanentSendError) as caught:
        _sender(provider.url, session).send("+1416555", "hi")
    assert isinstance(caught.value, SmsRejected)
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert str(code) in str(caught.value) and message in str(caught.value)


def test_refusal_without_json_is_still_permanent(provider, session):
    provider.answers.append((401, b"Unauthorized"))
    with pytest.raises(SmsRejected, match=r"\(HTTP 401\): Unauthorized") as caught:
        _sender(provider.url, session).send("+14165550123", "hi")
    assert caught.value.code is None


def test_accepted_without_a_sid_is_permanent_so_never_sent_twice(provider, session):
    provider.answers.append((201, {"status": "queued"}))
    with pytest.raises(PermanentSendError, match="without a message sid"):
        _sender(provider.url, session).send("+14165550123", "hi")


def test_provider_that_never_answers_times_out_as_temporary(session):
    # Listening but never accepting: the kernel completes the connection, nobody answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/2010-04-01"
        started = time.monotonic()
        with pytest.raises(TemporarySendError) as caught:
            _sender(url, session, timeout=0.5).send("+14165550123", "hi")
        assert time.monotonic() - started < 3
    assert isinstance(caught.value, SmsOutcomeUnknown)


def test_unreachable_provider_is_temporary(session):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(TemporarySendError, match="could not reach") as caught:
        _sender(f"http://127.0.0.1:{port}", session, timeout=2).send("+14165550123", "hi")
    assert not isinstance(caught.value, SmsOutcomeUnknown)


# --- configuration ----------------------------------------------------------------------------


def test_without_an_api_url_texts_are_only_logged(caplog):
    sender = sms_sender_from_config({"SMS_API_URL": "", "SMS_FROM_NUMBER": FROM})
    assert isinstance(sender, LogSmsSender)
    with caplog.at_level("INFO", logger="dealer_leads.messaging.sms"):
        sid = sender.send("+14165550123", "See you at 3", "https://d.test/cb")
    assert sid.startswith("SM") and len(sid) == 34
    assert sender.sent == [
        {
            "sid": sid,
            "to": "+14165550123",
            "body": "See you at 3",
            "status_callback": "https://d.test/cb",
        }
    ]
    assert "+14165550123" in caplog.text and "See you at 3" in caplog.text


def test_configured_provider_needs_every_setting():
    config = {"SMS_API_URL": "https://api.test/2010-04-01", "SMS_ACCOUNT_SID": SID}
    assert sms_config_problem(config) == (
        "SMS_API_URL is set but SMS_AUTH_TOKEN, SMS_FROM_NUMBER are not"
    )
    refusing = sms_sender_from_config(config)  # no exception: e-mails and tasks go on
    with pytest.raises(PermanentSendError, match="switched off.*SMS_FROM_NUMBER"):
        refusing.send("+14165550123", "hi")
    config |= {"SMS_AUTH_TOKEN": TOKEN, "SMS_FROM_NUMBER": FROM, "SMS_TIMEOUT_SECONDS": "4"}
    sender = sms_sender_from_config(config)
    assert isinstance(sender, SmsSender)
    assert sender.messages_url == f"https://api.test/2010-04-01/Accounts/{SID}/Messages.json"
    assert (sender.auth, sender.from_number, sender.timeout) == ((SID, TOKEN), FROM, 4.0)
    assert sms_config_problem(config) == ""
    sender.session.close()
