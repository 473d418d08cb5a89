"""Texts through an HTTP SMS provider with a Twilio-style API, and its webhook signatures.

Sending is a form post to `{SMS_API_URL}/Accounts/{SMS_ACCOUNT_SID}/Messages.json` with basic
auth (account SID, auth token); SMS_API_URL includes the API version, e.g.
`https://api.twilio.com/2010-04-01`. The provider signs each webhook it calls with
`X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, of the full URL it called
followed by every POST parameter as name + value, sorted by name.

Config keys: SMS_API_URL (empty: texts are only logged), SMS_ACCOUNT_SID, SMS_AUTH_TOKEN,
SMS_FROM_NUMBER, PUBLIC_BASE_URL (for the status callback URL), SMS_TIMEOUT_SECONDS (default 10).
SMS_API_URL set without the other three is a configuration error (`sms_config_problem`): texts
then fail with that reason, and nothing else is held up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from dealer_leads.messaging.errors import PermanentSendError, TemporarySendError

log = logging.getLogger(__name__)

STATUS_CALLBACK_PATH = "/api/v1/inbound/sms/status"
INBOUND_PATH = "/api/v1/inbound/sms"
_DEFAULT_PORTS = {"https": 443, "http": 80}


class SmsRejected(PermanentSendError):
    """The provider refused this message (4xx); `code` is its error code when it gave one
    (21211: not a valid number, 21610: the recipient texted STOP to the provider)."""

    def __init__(self, message: str, *, status: int, code: int | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class SmsOutcomeUnknown(TemporarySendError):
    """The request was sent but no answer came back in time: the provider may have accepted
    it. Callers that must never send twice catch this before TemporarySendError."""


# --- webhook signatures -----------------------------------------------------------------------


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    """Every value of one parameter, whether `params` is a MultiDict, lists or plain strings."""
    if hasattr(params, "getlist"):
        return [str(v) for v in params.getlist(name)]
    value = params[name]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def twilio_signature(url: str, params: Mapping[str, Any], auth_token: str) -> str:
    """The X-Twilio-Signature for a POST to `url` with form `params` (Twilio's algorithm)."""
    text = url
    for name in sorted(set(params)):
        for value in sorted(set(_values(params, name))):
            text += name + value
    digest = hmac.new(auth_token.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port removed or added: Twilio signs whichever
    form it was configured with, and a proxy may have changed it on the way."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or port not in (None, default):
        return [url]
    userinfo, at, host = parts.netloc.rpartition("@")
    if port is not None:
        host = host.rsplit(":", 1)[0]
    without = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:{default}"))
    return list(dict.fromkeys([url, without, with_port]))


def valid_signature(
    url: str, params: Mapping[str, Any], signature: str | None, auth_token: str
) -> bool:
    """Whether `signature` is the provider's signature of this request (constant-time)."""
    if not signature or not auth_token:
        return False
    given = signature.strip().encode()
    return any(
        hmac.compare_digest(twilio_signature(variant, params, auth_token).encode(), given)
        for variant in _url_variants(url)
    )


def status_callback_url(public_base_url: str) -> str:
    """Where the provider reports delivery of the texts we send."""
    return public_base_url.rstrip("/") + STATUS_CALLBACK_PATH


# --- sending ----------------------------------------------------------------------------------


class SmsSender:
    """Sends one text per call through the provider's REST API; returns its message SID."""

    def __init__(
        self,
        api_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        timeout: float = 10,
        session: requests.Session | None = None,
    ):
        self.messages_url = f"{api_url.rstrip('/')}/Accounts/{quote(account_sid, safe='')}"
        self.messages_url += "/Messages.json"
        self.auth = (account_sid, auth_token)
        self.from_number = from_number
        self.timeout = timeout
        self.session = session or requests.Session()

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        """Hand one text to the provider; TemporarySendError or PermanentSendError if not."""
        form = {"To": to, "From": self.from_number, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        try:
            response = self.session.post(
                self.messages_url,
                data=form,
                auth=self.auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ReadTimeout as error:
            raise SmsOutcomeUnknown(f"no answer from the SMS provider in time: {error}") from error
        except requests.RequestException as error:
            raise TemporarySendError(f"could not reach the SMS provider: {error}") from error
        return _message_sid(response)


def _provider_error(response: requests.Response) -> tuple[int | None, str]:
    """Twilio's error body: {"code": 21211, "message": "...", "more_info": ..., "status": 400}."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return None, response.text[:200].strip()
    code = data.get("code")
    return (code if isinstance(code, int) else None), str(data.get("message") or "")[:500]


def _message_sid(response: requests.Response) -> str:
    status = response.status_code
    if status == 429 or status >= 500:
        code, message = _provider_error(response)
        raise TemporarySendError(f"SMS provider answered {status}: {message or response.reason}")
    if status >= 300:
        code, message = _provider_error(response)
        label = f"error {code}" if code else f"HTTP {status}"
        raise SmsRejected(
            f"SMS provider refused the text ({label}): {message}", status=status, code=code
        )
    try:
        sid = response.json().get("sid")
    except (ValueError, AttributeError):
        sid = None
    if not isinstance(sid, str) or not sid:
        # Accepted, but we cannot tie receipts to it; never retried, so never sent twice.
        raise PermanentSendError(f"SMS provider answered {status} without a message sid")
    return sid


class LogSmsSender:
    """Development stand-in when no SMS_API_URL is configured: logs the text, returns a fake
    SID, and keeps what it was given in `sent`."""

    def __init__(self, from_number: str = ""):
        self.from_number = from_number
        self.sent: list[dict[str, str | None]] = []

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        """Log the text instead of sending it."""
        sid = "SMlog" + uuid.uuid4().hex[:29]
        self.sent.append({"sid": sid, "to": to, "body": body, "status_callback": status_callback})
        log.info("SMS not sent (no SMS_API_URL) %s to %s: %s", sid, to, body)
        return sid


class UnconfiguredSmsSender:
    """Stands in when the SMS settings are incomplete: every text is refused with the reason
    (a permanent failure, so the touch fails visibly and is not retried), while e-mails and
    tasks go on."""

    def __init__(self, problem: str):
        self.problem = problem

    def send(self, to: str, body: str, status_callback: str | None = None) -> str:
        """Refuse the text, naming the missing setting."""
        raise PermanentSendError(f"texts are switched off: {self.problem}")


def sms_config_problem(config: Mapping[str, Any]) -> str:
    """What is wrong with the SMS settings, in words for the log ("" when nothing is)."""
    if not config.get("SMS_API_URL"):
        return ""
    needed = ("SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN", "SMS_FROM_NUMBER")
    missing = [name for name in needed if not config.get(name)]
    if not missing:
        return ""
    verb = "is" if len(missing) == 1 else "are"
    return f"SMS_API_URL is set but {', '.join(missing)} {verb} not"


def sms_sender_from_config(
    config: Mapping[str, Any],
) -> SmsSender | LogSmsSender | UnconfiguredSmsSender:
    """The provider sender when SMS_API_URL is set, else the logging stand-in; a refusing
    stand-in when the settings are incomplete."""
    if not config.get("SMS_API_URL"):
        return LogSmsSender(config.get("SMS_FROM_NUMBER", ""))
    problem = sms_config_problem(config)
    if problem:
        return UnconfiguredSmsSender(problem)
    return SmsSender(
        config["SMS_API_URL"],
        config["SMS_ACCOUNT_SID"],
        config["SMS_AUTH_TOKEN"],
        config["SMS_FROM_NUMBER"],
        timeout=float(config.get("SMS_TIMEOUT_SECONDS", 10)),
    )
