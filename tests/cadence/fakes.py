"""Senders that record what the engine hands them instead of sending it."""

from __future__ import annotations

import itertools


class FakeMail:
    """Records messages; can be told to fail."""

    def __init__(self, fail_with: Exception | None = None):
        self.sent, self.fail_with = [], fail_with

    def send(self, message) -> str:
        if self.fail_with:
            raise self.fail_with
        self.sent.append(message)
        return message["Message-ID"]


class FakeSms:
    """Records texts as (to, body)."""

    ids = itertools.count(1)  # provider ids are unique across senders

    def __init__(self):
        self.sent = []

    def send(self, to, body, status_callback=None) -> str:
        self.sent.append((to, body))
        return f"SM{next(self.ids):04d}"
