"""Transactional outbox: messages are written with the state they describe, then published by a relay.

The relay holds a per-schema advisory lock while it publishes, so with several instances of a service
exactly one publishes at a time and each key's messages leave in the order they were written.

A writer that wants its messages out at once (intake's submissions) enqueues them with a hand-over delay,
publishes them itself after the commit and `settle`s them once Kafka acknowledged; the relay sends only what
the writer did not (it failed, or died): `hand_over` makes such rows due at once.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from shared.events import Envelope
from shared.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    not_before: datetime | None = None  # publish no earlier than this (board latency)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


PublishRows = Callable[[Sequence[OutboxRow]], Awaitable[None]]


class Outbox:
    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.channel = f"outbox_{schema}"

    async def enqueue(self, conn: asyncpg.Connection, messages: Sequence[OutboxMessage], *, notify: bool = True,
                      hand_over_after: float = 0.0) -> list[int]:
        """Call inside the transaction that changes the state these messages announce; answers the rows' ids, in
        the messages' order. One statement, whatever the number of messages. `hand_over_after` (seconds) keeps the
        relay off rows without a `not_before` while their writer publishes them itself."""
        if not messages:
            return []
        ids = await conn.fetch(
            "INSERT INTO outbox (topic, key, value, headers, not_before)"
            " SELECT m.topic, m.key, m.value, m.headers, coalesce(m.not_before, now() + make_interval(secs => $6))"
            " FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[], $5::timestamptz[])"
            " WITH ORDINALITY AS m(topic, key, value, headers, not_before, n) ORDER BY m.n RETURNING id",
            [m.topic for m in messages], [m.key for m in messages], [m.value for m in messages],
            [m.headers for m in messages], [m.not_before for m in messages], hand_over_after,
        )
        if notify:
            await conn.execute("SELECT pg_notify($1, '')", self.channel)  # delivered at commit
        return sorted(r["id"] for r in ids)  # ids grow in insertion order, which is the messages' order

    @staticmethod
    async def settle(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[int]) -> None:
        """Their writer published these rows itself and Kafka acknowledged them: the relay must not send them."""
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", list(ids))

    @staticmethod
    async def hand_over(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[int]) -> None:
        """Their writer could not publish these rows: they are the relay's now, due at once (it looks every second)."""
        await conn.execute("UPDATE outbox SET not_before = now() WHERE id = ANY($1::bigint[])", list(ids))


class OutboxSettler:
    """Deletes the rows their writers published themselves, off the writers' way and many writers' rows in one
    statement: while one DELETE runs, the next writers' ids gather for the next. A row still there when the process
    dies is sent again by the relay once its hand-over time passes, which is harmless: consumers claim each
    event_id once."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._ids: list[int] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def settle(self, ids: Sequence[int]) -> None:
        self._ids.extend(ids)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-settler")

    async def stop(self) -> None:
        """Delete what is pending, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._delete_pending()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            await self._delete_pending()

    async def _delete_pending(self) -> None:
        ids, self._ids = self._ids, []
        if not ids:
            return
        try:
            await Outbox.settle(self._pool, ids)
        except Exception as exc:  # the relay sends them again after their hand-over time; consumers ignore copies
            log.warning("published rows not cleared from the outbox", error=type(exc).__name__, rows=len(ids))


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, publish: PublishRows, batch_size: int = 2000) -> None:
        self._pool = pool
        self._outbox = outbox
        self._publish = publish
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._outbox.schema}")

    async def _listen(self) -> None:
        """Listen for NOTIFY on a connection of its own; again after PostgreSQL restarted and closed the old one."""
        if self._listener is not None:
            if _open(self._listener):
                return
            with contextlib.suppress(Exception):  # the pool may have taken it back already
                await self._pool.release(self._listener)
            self._listener = None
        listener = await self._pool.acquire()
        await listener.add_listener(self._outbox.channel, self._on_notify)
        self._listener = listener

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task
        if self._listener:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(self._outbox.channel, self._on_notify)
            await self._pool.release(self._listener)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
                published, next_due = await self.drain_once()
            except Exception:
                log.exception("outbox relay failed; retrying", schema=self._outbox.schema)
                published, next_due = 0, None
                await asyncio.sleep(1.0)
            if self._stopping and not published:
                return
            if published:
                continue
            timeout = 1.0 if next_due is None else max(0.0, min(1.0, next_due))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def drain_once(self) -> tuple[int, float | None]:
        """Publish one batch of due messages; answer how many, and in how many seconds the next delayed one is due
        (by PostgreSQL's clock, which set it)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))",
                                       f"outbox:{self._outbox.schema}"):
                return 0, None
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox WHERE not_before <= now()"
                " ORDER BY id LIMIT $1", self._batch_size,
            )
            if not rows:
                return 0, await conn.fetchval("SELECT extract(epoch FROM min(not_before) - now())::float FROM outbox")
            await self._publish([OutboxRow(r["id"], r["topic"], r["key"], r["value"], r["headers"]) for r in rows])
            # Deleted only after Kafka acknowledged every message: a crash in between republishes (same ids).
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        return len(rows), None


def _open(conn: asyncpg.Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # the server closed it and the pool took it back
        return False


def event_message(topic: str, event: Envelope, key: str, not_before: datetime | None = None) -> OutboxMessage:
    """An event as an outbox row: JSON value, its key, and headers that tools can read without decoding."""
    headers = {"event_type": event.event_type, "correlation_id": event.correlation_id,
               "event_id": str(event.event_id)}
    return OutboxMessage(topic=topic, value=event.to_bytes(), key=key.encode(), headers=headers,
                         not_before=not_before)
