"""Bearer API keys on /api/v1 views: who may call, and with which scope."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request

from dealer_leads import error_response
from dealer_leads.api.services import ApiKeyRefused, authenticate_api_key
from dealer_leads.auth.models import API_SCOPES

REALM = "dealer_leads API"


def bearer_token(header: str) -> str:
    """The key from 'Authorization: Bearer <key>', or '' when there is none."""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_api_key(*scopes: str) -> Callable:
    """Let through requests with a live key holding one of `scopes` (401 / 403 otherwise)."""
    if not scopes or set(scopes) - set(API_SCOPES):
        raise ValueError(f"unknown scope in {scopes!r}")
    named, listed = " or ".join(repr(scope) for scope in scopes), " ".join(scopes)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                key = authenticate_api_key(bearer_token(request.headers.get("Authorization", "")))
            except ApiKeyRefused as refusal:
                detail = "" if refusal.code == "missing_api_key" else ', error="invalid_token"'
                return _refuse(401, refusal.code, str(refusal), f'Bearer realm="{REALM}"{detail}')
            if not set(scopes) & set(key.scope_list):
                return _refuse(
                    403,
                    "insufficient_scope",
                    f"this API key does not have the {named} scope",
                    f'Bearer realm="{REALM}", error="insufficient_scope", scope="{listed}"',
                )
            g.api_key = key
            return view(*args, **kwargs)

        return wrapped

    return decorator


def own_leads_only() -> int | None:
    """The calling key's id when it may work only with the leads it sent (a lead provider's
    `leads` key: its own leads, not its competitors'); None for a key with `leads:read`,
    which only an admin grants."""
    return None if "leads:read" in g.api_key.scope_list else g.api_key.id


def _refuse(status: int, code: str, message: str, challenge: str):
    response, status = error_response(status, code, message)
    response.headers["WWW-Authenticate"] = challenge
    return response, status
