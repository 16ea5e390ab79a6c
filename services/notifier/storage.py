"""The notifier schema: records and activities a digest line names, rejections kept, digests closed per window,
what was sent."""

import json
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from notifier.digests import Digest, Rejection, digest_id
from notifier.rejections import KeptRejection, SubmittedDetails
from shared.db import Connection, array_columns
from shared.inbox import keep_fresh

UPSERT_TITLE = ("INSERT INTO activities (id, title) VALUES ($1, $2)"
                " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title")


class RejectionTablesSql:
    """notifier.ports.RejectionTables in one transaction of `conn`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def submitted_details(self, record_ids: Collection[UUID]) -> dict[UUID, SubmittedDetails]:
        if not record_ids:
            return {}
        rows = await self._conn.fetch(
            "SELECT record_id, activity_id, first_name, last_name, learner_id, completion_date FROM records"
            " WHERE record_id = ANY($1::uuid[])", list(record_ids))
        return {r[0]: SubmittedDetails(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    async def opted_in(self, provider_ids: Collection[str]) -> set[str]:
        if not provider_ids:
            return set()
        rows = await self._conn.fetch("SELECT id FROM providers WHERE digest_pars_rejections AND id = ANY($1::text[])",
                                      list(provider_ids))
        return {r[0] for r in rows}

    async def keep(self, rejections: list[KeptRejection]) -> list[KeptRejection]:
        if not rejections:
            return []
        # The errors as JSON text: a list inside the jsonb[] argument would be read as one more dimension.
        rows = await self._conn.fetch(
            "INSERT INTO rejections (event_id, provider_id, record_id, board, errors, occurred_at, activity_id,"
            " first_name, last_name, learner_id, completion_date) SELECT e, p, r, b, x::jsonb, o, a, f, l, i, d"
            " FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[],"
            " $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) AS k(e, p, r, b, x, o, a, f, l, i, d)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            *array_columns([(k.event_id, k.provider_id, k.record_id, k.board, json.dumps(k.errors), k.occurred_at,
                             k.activity_id, k.first_name, k.last_name, k.learner_id, k.completion_date)
                            for k in rejections], 11))
        return keep_fresh(rejections, {r[0] for r in rows})  # a rejection twice in the batch: once


class NotifierStorage:
    """The notifier's ports (notifier.ports) on its PostgreSQL schema."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RejectionTablesSql]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield RejectionTablesSql(conn)

    async def save_titles(self, titles: list[tuple[str, str]]) -> None:
        await save_titles(self._pool, titles)


async def save_titles(conn: Connection | asyncpg.Pool, titles: list[tuple[str, str]]) -> None:
    """Activity titles a digest names its groups by, from the world file and from registrations through the API."""
    await conn.executemany(UPSERT_TITLE, titles)


async def save_providers(conn: Connection, providers: list[tuple[str, str, str, bool]]) -> None:
    """(id, name, e-mail, digest PARS's own rejections) of each provider."""
    await conn.executemany(
        "INSERT INTO providers (id, name, email, digest_pars_rejections) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,"
        " digest_pars_rejections = EXCLUDED.digest_pars_rejections", providers)


# A digest being sent is not picked up by another instance meanwhile; longer than the SMTP time-out (30 s).
LEASE = timedelta(seconds=40)


async def close_window(conn: Connection, start: datetime, end: datetime) -> list[UUID]:
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
    assert head is not None  # leased a moment ago (lease_due); digests are never deleted
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
