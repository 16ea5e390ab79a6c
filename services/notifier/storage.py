"""The notifier schema: digests closed per window, their rejections, what was sent."""

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from notifier.digests import Digest, Rejection, digest_id

# A digest being sent is not picked up by another instance meanwhile; longer than the SMTP time-out (30 s).
LEASE = timedelta(seconds=40)


async def close_window(conn: asyncpg.Connection, start: datetime, end: datetime) -> list[UUID]:
    """Put every rejection received before `end` and not yet in a digest into its provider's digest for
    the window [start, end); at most one digest per provider and window. Answer the digests created."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('notifier:close-window'))")
    providers = [r["provider_id"] for r in await conn.fetch(
        "SELECT DISTINCT provider_id FROM rejections WHERE digest_id IS NULL AND received_at < $1", end)]
    created = []
    for provider in providers:
        did = digest_id(provider, start)
        inserted = await conn.fetchval(
            "INSERT INTO digests (digest_id, provider_id, window_start, window_end, rejections)"
            " VALUES ($1, $2, $3, $4, 0) ON CONFLICT (provider_id, window_start) DO NOTHING RETURNING digest_id",
            did, provider, start, end)
        if inserted is None:
            continue  # this window's digest exists already: these rejections wait for the next window
        count = await conn.fetchval(
            "WITH taken AS (UPDATE rejections SET digest_id = $1 WHERE provider_id = $2 AND digest_id IS NULL"
            " AND received_at < $3 RETURNING 1) SELECT count(*) FROM taken", did, provider, end)
        await conn.execute("UPDATE digests SET rejections = $2 WHERE digest_id = $1", did, count)
        created.append(did)
    return created


async def lease_due(pool: asyncpg.Pool, limit: int = 100) -> list[UUID]:
    """Pending digests due for a (re)send, leased to this instance for a while."""
    rows = await pool.fetch(
        "UPDATE digests SET next_attempt_at = now() + $2::interval WHERE digest_id IN ("
        " SELECT digest_id FROM digests WHERE status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING digest_id", limit, LEASE)
    return [r["digest_id"] for r in rows]


async def load_digest(pool: asyncpg.Pool, did: UUID) -> Digest:
    head = await pool.fetchrow(
        "SELECT d.digest_id, d.window_start, d.window_end, p.name, p.email FROM digests d"
        " JOIN providers p ON p.id = d.provider_id WHERE d.digest_id = $1", did)
    rows = await pool.fetch(
        "SELECT r.record_id, r.activity_id, a.title, r.first_name, r.last_name, r.board, r.learner_id,"
        " r.completion_date, r.errors FROM rejections r LEFT JOIN activities a ON a.id = r.activity_id"
        " WHERE r.digest_id = $1 ORDER BY r.occurred_at, r.record_id", did)
    return Digest(
        digest_id=head["digest_id"], provider_name=head["name"], email=head["email"],
        window_start=head["window_start"], window_end=head["window_end"],
        rejections=[Rejection(r["record_id"], r["activity_id"], r["title"], r["first_name"], r["last_name"],
                              r["board"], r["learner_id"], r["completion_date"], r["errors"]) for r in rows])


async def mark_sent(pool: asyncpg.Pool, did: UUID) -> None:
    await pool.execute("UPDATE digests SET status = 'sent', sent_at = now(), attempts = attempts + 1,"
                       " last_error = NULL WHERE digest_id = $1", did)


async def mark_failed(pool: asyncpg.Pool, did: UUID, error: str, retry_in: timedelta) -> None:
    await pool.execute("UPDATE digests SET attempts = attempts + 1, last_error = $2,"
                       " next_attempt_at = now() + $3::interval WHERE digest_id = $1", did, error[:500], retry_in)


async def attempts(pool: asyncpg.Pool, did: UUID) -> int:
    return await pool.fetchval("SELECT attempts FROM digests WHERE digest_id = $1", did)
