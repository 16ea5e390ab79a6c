"""API keys: random, shown once, stored as a SHA-256 digest (the keys carry 256 bits, so no slow hash is needed).

Each intake process remembers the keys it found valid for KEY_CACHE_SECONDS (`KeyCache`), so a caller's requests
do not each ask PostgreSQL; a revoked key therefore keeps working for at most that long (docs/DESIGN-NOTES.md).
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from shared.db import Connection

PREFIX = "pars"


@dataclass(frozen=True)
class Principal:
    role: str  # provider | operator | webservice
    provider_id: str | None
    sandbox: bool = False  # web-service keys only: records are validated and answered, never kept

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


class UnknownProvider(LookupError):
    pass


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def issue_key(conn: Connection, role: str, provider_id: str | None = None, *,
                    sandbox: bool = False) -> str:
    if provider_id is not None and not await conn.fetchval("SELECT 1 FROM providers WHERE id = $1", provider_id):
        raise UnknownProvider(f"no provider {provider_id}: load a world file that has it first")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    await conn.execute("INSERT INTO api_keys (key_id, key_hash, role, provider_id, sandbox)"
                       " VALUES ($1, $2, $3, $4, $5)", key_id, _digest(key), role, provider_id, sandbox)
    return key


async def authenticate(conn: Connection | asyncpg.Pool, key: str) -> Principal | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = await conn.fetchrow(
        "SELECT key_hash, role, provider_id, sandbox FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL", parts[1])
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), _digest(key)):
        return None
    return Principal(row["role"], row["provider_id"], row["sandbox"])


KEY_CACHE_SECONDS = 15.0  # how long a revoked key may still be taken by a process that checked it before
KEY_CACHE_SIZE = 10_000  # keys remembered at most; past it the expired ones go, then all


class KeyCache:
    """The principals of keys found valid lately, by the key's digest (never the key), each for `ttl` seconds of
    `clock`. Only valid keys are kept: a stream of made-up keys cannot fill it, and a key issued meanwhile is
    looked up like any other."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic,
                 size: int = KEY_CACHE_SIZE) -> None:
        self._ttl, self._clock, self._size = ttl, clock, size
        self._known: dict[bytes, tuple[Principal, float]] = {}

    async def authenticate(self, conn: Connection | asyncpg.Pool, key: str) -> Principal | None:
        digest, now = _digest(key), self._clock()
        known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        principal = await authenticate(conn, key)
        if principal is None:
            self._known.pop(digest, None)
            return None
        if len(self._known) >= self._size:
            self._known = {d: k for d, k in self._known.items() if k[1] > now}
            if len(self._known) >= self._size:
                self._known.clear()
        self._known[digest] = (principal, now + self._ttl)
        return principal


async def revoke_key(conn: Connection | asyncpg.Pool, key: str) -> None:
    parts = key.split("_", 2)
    if len(parts) == 3:
        await revoke_key_id(conn, parts[1])


async def revoke_key_id(conn: Connection | asyncpg.Pool, key_id: str) -> bool:
    """Revoke a key by its ID (the part after `pars_`); False if there is no such key or it was revoked already."""
    revoked = await conn.fetchval("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL"
                                  " RETURNING key_id", key_id)
    return revoked is not None


async def list_keys(conn: Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    """Every key issued, newest first: its ID, role, provider and dates, never its digest."""
    return await conn.fetch("SELECT key_id, role, provider_id, sandbox, created_at, revoked_at FROM api_keys"
                            " ORDER BY created_at DESC, key_id")
