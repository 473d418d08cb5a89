"""What a message sender raises when a message could not be handed to the provider."""

from __future__ import annotations


class SendError(Exception):
    """The message was not accepted by the mail server or SMS provider."""


class TemporarySendError(SendError):
    """Worth trying again later: a timeout, a refused connection, a busy or failing provider."""


class PermanentSendError(SendError):
    """Trying again will not help: an invalid address or number, an unsubscribed recipient."""
