"""Transactional outbox: messages are written with the state they describe, then published by a relay.

The relay holds a per-schema advisory lock while it publishes, so with several instances of a service
exactly one publishes at a time and each key's messages leave in the order they were written.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

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

    async def enqueue(self, conn: asyncpg.Connection, messages: Sequence[OutboxMessage]) -> None:
        """Call inside the transaction that changes the state these messages announce."""
        if not messages:
            return
        await conn.executemany(
            "INSERT INTO outbox (topic, key, value, headers, not_before)"
            " VALUES ($1, $2, $3, $4, coalesce($5, now()))",
            [(m.topic, m.key, m.value, m.headers, m.not_before) for m in messages],
        )
        await conn.execute("SELECT pg_notify($1, '')", self.channel)  # delivered at commit


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
        self._listener = await self._pool.acquire()
        await self._listener.add_listener(self._outbox.channel, self._on_notify)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._outbox.schema}")

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
                published, next_due = await self.drain_once()
            except Exception:
                log.exception("outbox relay failed; retrying", schema=self._outbox.schema)
                published, next_due = 0, None
                await asyncio.sleep(1.0)
            if self._stopping and not published:
                return
            if published:
                continue
            timeout = 1.0
            if next_due is not None:
                timeout = max(0.0, min(timeout, (next_due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def drain_once(self) -> tuple[int, datetime | None]:
        """Publish one batch of due messages; answer how many, and when the next delayed one is due."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))",
                                       f"outbox:{self._outbox.schema}"):
                return 0, None
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox WHERE not_before <= now()"
                " ORDER BY id LIMIT $1", self._batch_size,
            )
            if not rows:
                return 0, await conn.fetchval("SELECT min(not_before) FROM outbox")
            await self._publish([OutboxRow(r["id"], r["topic"], r["key"], r["value"], r["headers"]) for r in rows])
            # Deleted only after Kafka acknowledged every message: a crash in between republishes (same ids).
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        return len(rows), None


def event_message(topic: str, event: Envelope, key: str, not_before: datetime | None = None) -> OutboxMessage:
    """An event as an outbox row: JSON value, its key, and headers that tools can read without decoding."""
    headers = {"event_type": event.event_type, "correlation_id": event.correlation_id,
               "event_id": str(event.event_id)}
    return OutboxMessage(topic=topic, value=event.to_bytes(), key=key.encode(), headers=headers,
                         not_before=not_before)
