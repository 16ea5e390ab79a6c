"""API keys: random, shown once, stored as a SHA-256 digest (the keys carry 256 bits, so no slow hash is needed)."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

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


async def issue_key(conn: asyncpg.Connection, role: str, provider_id: str | None = None, *,
                    sandbox: bool = False) -> str:
    if provider_id is not None and not await conn.fetchval("SELECT 1 FROM providers WHERE id = $1", provider_id):
        raise UnknownProvider(f"no provider {provider_id}: load a world file that has it first")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    await conn.execute("INSERT INTO api_keys (key_id, key_hash, role, provider_id, sandbox)"
                       " VALUES ($1, $2, $3, $4, $5)", key_id, _digest(key), role, provider_id, sandbox)
    return key


async def authenticate(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> Principal | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    row = await conn.fetchrow(
        "SELECT key_hash, role, provider_id, sandbox FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL", parts[1])
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), _digest(key)):
        return None
    return Principal(row["role"], row["provider_id"], row["sandbox"])


async def revoke_key(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> None:
    parts = key.split("_", 2)
    if len(parts) == 3:
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", parts[1])
