"""The Idempotency-Key header of POST /v1/completions: a retried request gets the first one's answer.

A completion without a credit ID gets a new one on every POST, so a client that lost an answer (a time-out, a
503 from a proxy) could not tell whether its completion was kept. With a key, a retry of the same completion by
the same provider answers the first request's submission and keeps nothing more; the same key with another
completion is refused. The key is claimed in the transaction that keeps the completion's records, so either both
are kept or neither. Keys are kept KEEP_FOR (24 hours), then deleted.
"""

import asyncio
import contextlib
import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from intake.completions.schemas import Completion, SubmissionAnswer
from intake.errors import ApiError
from shared.db import Connection
from shared.logging import get_logger

log = get_logger(__name__)

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
TIDY_EVERY_SECONDS = 3600.0
MAX_KEY_CHARS = 255
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_CHARS}}}")  # visible ASCII, as HTTP header values are safest


@dataclass(frozen=True)
class IdempotencyKey:
    provider_id: str
    key: str
    fingerprint: bytes  # SHA-256 of the completion as parsed: the same completion however it is spaced


def idempotency_key(provider_id: str, header: str | None, completion: Completion) -> IdempotencyKey | None:
    if header is None:
        return None
    if not _KEY.fullmatch(header):
        raise ApiError(422, "invalid_idempotency_key",
                       f"The {HEADER} header must be 1 to {MAX_KEY_CHARS} visible ASCII characters (a UUID is a good"
                       " key).", [{"field": HEADER, "reason": "not 1 to 255 visible ASCII characters"}])
    return IdempotencyKey(provider_id, header, hashlib.sha256(completion.model_dump_json().encode()).digest())


async def claim(conn: Connection, key: IdempotencyKey, answer: SubmissionAnswer) -> bool:
    """Keep the key with its request's answer; False when the key is held already (a key older than KEEP_FOR is
    free again, even before it is deleted)."""
    return bool(await conn.fetchval(
        "INSERT INTO idempotency_keys (provider_id, idempotency_key, fingerprint, answer) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (provider_id, idempotency_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
        " answer = EXCLUDED.answer, created_at = now() WHERE idempotency_keys.created_at < now() - $5::interval"
        " RETURNING true",
        key.provider_id, key.key, key.fingerprint, answer.model_dump(mode="json"), KEEP_FOR))


async def replay(pool: asyncpg.Pool, key: IdempotencyKey) -> SubmissionAnswer:
    """The answer kept with the key, if the request is the same completion as the key's first one."""
    row = await pool.fetchrow("SELECT fingerprint, answer FROM idempotency_keys"
                              " WHERE provider_id = $1 AND idempotency_key = $2", key.provider_id, key.key)
    if row is None:  # deleted between the claim and now, as it expired
        raise ApiError(409, "idempotency_key_expired", f"This {HEADER} expired just now; send the request again.")
    if row["fingerprint"] != key.fingerprint:
        raise ApiError(422, "idempotency_key_reused",
                       f"This {HEADER} was sent with another completion within the last "
                       f"{KEEP_FOR.total_seconds() / 3600:.0f} hours. A key stands for one completion: send a new "
                       "key with a new completion.", [{"field": HEADER, "reason": "used for another completion"}])
    return SubmissionAnswer.model_validate(row["answer"])


async def remember(pool: asyncpg.Pool, key: IdempotencyKey, answer: SubmissionAnswer) -> None:
    """Keep the answer the first request gave after waiting, for its retries. Best effort: the submission is
    made, and a retry then answers Processing, which is also true."""
    try:
        await pool.execute("UPDATE idempotency_keys SET answer = $3 WHERE provider_id = $1 AND idempotency_key = $2"
                           " AND fingerprint = $4", key.provider_id, key.key, answer.model_dump(mode="json"),
                           key.fingerprint)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning("idempotency key answer not updated", error=type(exc).__name__)


async def forget_expired(pool: asyncpg.Pool) -> int:
    deleted = await pool.execute("DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval", KEEP_FOR)
    return int(deleted.split()[-1])


async def keep_tidy(pool: asyncpg.Pool, every: float = TIDY_EVERY_SECONDS) -> None:
    """Delete expired keys now and then (every intake process does; a DELETE twice is harmless)."""
    while True:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            if deleted := await forget_expired(pool):
                log.info("expired idempotency keys deleted", keys=deleted)
        await asyncio.sleep(every)
