"""The portal's sign-ins: a provider's key is given once, then a random session token in a cookie stands for it.

Only the token's SHA-256 digest is kept (the token carries 256 bits, as the keys do: no slow hash is needed),
with the key it stands for: revoking the key ends every session made with it. Each session has its own CSRF
token, which every form of the portal sends back.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from intake.keys import Principal, authenticate

COOKIE = "pars_portal"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class PortalSession:
    principal: Principal
    provider_name: str
    csrf_token: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def key_id_of(key: str) -> str:
    """The public part of a key (pars_<key_id>_<secret>), as authenticate() reads it."""
    return key.split("_", 2)[1]


async def who_holds(pool: asyncpg.Pool, key: str) -> Principal | None:
    return await authenticate(pool, key.strip())


async def start(pool: asyncpg.Pool, key: str) -> str:
    """A new session for a provider's key (checked by who_holds first): the cookie's token."""
    token = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO portal_sessions (token_hash, key_id, csrf_token, expires_at)"
        " VALUES ($1, $2, $3, now() + $4::interval)",
        _digest(token), key_id_of(key.strip()), secrets.token_urlsafe(32), LIFETIME)
    # Signing in is when expired sessions are let go: no chore needed for a table that grows this slowly.
    await pool.execute("DELETE FROM portal_sessions WHERE expires_at < now()")
    return token


async def session_of(pool: asyncpg.Pool, token: str) -> PortalSession | None:
    """The live session a cookie names, with the key's current standing (a revoked key has none)."""
    row = await pool.fetchrow(
        "SELECT k.role, k.provider_id, k.sandbox, s.csrf_token, p.name FROM portal_sessions s"
        " JOIN api_keys k USING (key_id) LEFT JOIN providers p ON p.id = k.provider_id"
        " WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL", _digest(token))
    if row is None:
        return None
    return PortalSession(Principal(row["role"], row["provider_id"], row["sandbox"]), row["name"] or "",
                         row["csrf_token"])


async def sign_out(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM portal_sessions WHERE token_hash = $1", _digest(token))
