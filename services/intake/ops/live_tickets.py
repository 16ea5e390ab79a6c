"""Short-lived tickets for the console's server-sent events.

A browser's EventSource cannot send an Authorization header, and the operator key must never travel in a URL
(URLs end up in access logs and history). So the page asks for a ticket with its key (an authenticated POST) and
opens the stream with the ticket: it names the key's ID, expires within TICKET_SECONDS, and is signed with a secret
every intake process of the stack derives alike (from the service token), so any of them can check it.
"""

import base64
import hashlib
import hmac
import time

from shared.settings import Settings

TICKET_SECONDS = 60


def _secret(settings: Settings) -> bytes:
    return hmac.new(settings.internal_token().encode(), b"pars ops live ticket", hashlib.sha256).digest()


def _sign(settings: Settings, payload: str) -> str:
    digest = hmac.new(_secret(settings), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(settings: Settings, key_id: str, now: float | None = None) -> str:
    payload = f"{key_id}.{int((now or time.time()) + TICKET_SECONDS)}"
    return f"{payload}.{_sign(settings, payload)}"


def redeem(settings: Settings, ticket: str, now: float | None = None) -> str | None:
    """The key ID a ticket was issued for, if it is genuine and has not expired; else None."""
    key_id, _, rest = ticket.partition(".")
    expires, _, signature = rest.partition(".")
    if not (key_id and expires.isdigit() and signature):
        return None
    if not hmac.compare_digest(_sign(settings, f"{key_id}.{expires}"), signature):
        return None
    return key_id if int(expires) >= (now or time.time()) else None
