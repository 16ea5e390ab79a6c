"""Transactional outbox: messages are written with the state they describe, then published by a relay.

Several instances of a service run a relay each over the same schema. Each round a relay takes advisory locks on
key buckets (a hash of the message key, KEY_BUCKETS of them) and publishes only rows of the buckets it holds, so
a key's messages leave from one relay at a time, in the order they were written, while other relays publish other
buckets' rows. A relay alone takes every bucket and runs the statements it ran with one per-schema lock; once a
round filled a whole batch (a backlog), it takes half the buckets, leaving the other half to another instance.

A writer that wants its messages out at once (intake's submissions, validation, the router, the board simulator)
uses an `OutboxWriter`: its rows are kept with a hand-over delay, it publishes them itself right after the commit
and they are deleted once Kafka acknowledged; the relay sends only what the writer did not (it failed: the rows are
handed over, due at once; or it died: they are due once the delay passed). A row is published by its writer only
when no earlier row of its topic and key is held by another writer or due for the relay: else it is the relay's,
which sends no row while an earlier one of its key is held, and due rows in the order they were written, so a
later row never overtakes an earlier one of its key.
"""

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NamedTuple

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared import tracing
from shared.db import Connection
from shared.events import Envelope
from shared.logging import get_logger
from shared.metrics import outbox_rows

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


class KeptRows(list[OutboxRow]):
    """What `OutboxWriter.enqueue` kept for its writer to publish, with how many of the writer's sends had failed
    before the statement that kept them (`publish_soon` leaves them to the relay if another failed since)."""

    def __init__(self, rows: Iterable[OutboxRow] = (), failures_before: int = 0) -> None:
        super().__init__(rows)
        self.failures_before = failures_before


PublishRows = Callable[[Sequence[OutboxRow]], Awaitable[None]]
_TopicKey = tuple[str, bytes | None]

HAND_OVER_SECONDS = 10.0  # rows their writer has not published by then are the relay's
# How long a relay with an empty outbox waits for a NOTIFY before looking anyway. Every row that is the relay's comes
# with a NOTIFY (enqueue, a writer's rows behind another's, a hand-over) and a lost listener connection wakes it, so
# this only bounds how late it finds the held rows of a writer in another process that died. Looking every second,
# as it does while the outbox holds anything, cost each idle service a transaction (five round trips) a second.
IDLE_LOOK_SECONDS = 5.0
# How soon a relay that found every bucket held looks again. Another instance's relay is then in a round (locks last
# one transaction), which leaves half the buckets at its next round if it has a backlog: after a second instead, one
# relay could drain a backlog alone while the other slept, whenever it woke between two of the first one's rounds.
HELD_LOOK_SECONDS = 0.05
PUBLISH_SECONDS = 5.0  # how long a writer waits for Kafka's acks before handing its rows to the relay
# How long a settler gathers published rows before one DELETE takes them all. Under load, the rows published while
# one DELETE ran went in the next anyway; at a few dozen batches a second it was one DELETE a batch on every hop (a
# round trip, and a statement planned and run: 2.8 of 24 statements a completion at 50/s). Rows left when a writer
# dies are sent again by the relay after HAND_OVER_SECONDS, as before.
SETTLE_GATHER_SECONDS = 0.2
# How many rows `publish_soon` lets wait for the writer's sender before its caller waits too: about two of a
# consumer's largest batches, so one batch is sent while the next is handled, and no more piles up while Kafka is slow.
SOON_UNSENT_ROWS = 4_000


@dataclass(frozen=True)
class Alongside:
    """The state a writer changes in the statement that keeps its messages: data-modifying CTEs, whose parameters
    `ctes(first)` numbers from $first on (`args`, their values, follow the outbox's own). PostgreSQL runs each such
    CTE to completion whether or not the statement reads it, and a statement is atomic on its own: the state and its
    messages need no transaction, whose BEGIN and COMMIT were two of a writer's five round trips at a batch of one."""

    ctes: Callable[[int], str]
    args: Sequence[object]


# One statement: the messages are inserted; each is its writer's (held, for $6 seconds) unless an earlier row of its
# topic and key is held by a writer or due for the relay (other than $7, the rows this writer is publishing or has
# published): then it is the relay's, which sends no row while an earlier one of its key is held. A message with a
# not_before of its own is the relay's at that time, as with `enqueue`. Answers each id with whether its writer may
# publish it. Each key of the batch is asked alone whether it has such a row (LIMIT 1 keeps it a lookup per key): an
# index scan of outbox_by_key that stops at the first live row of the key. Asked as one join, PostgreSQL read the
# whole outbox, tens of thousands of dead rows between autovacuum's visits, for every batch. The lookup is not
# ordered by id either: then the primary key, scanned in id order and filtered, was a way too, and an outbox
# vacuumed while nearly empty, which PostgreSQL then takes for one row however large it grows, was read that way for
# each key (1.8 s a batch of 1,000; docs/PERFORMANCE.md).
_KEEP_HELD_CTES = """
m AS MATERIALIZED (
    SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[], $5::timestamptz[])
        WITH ORDINALITY AS m(topic, key, value, headers, not_before, n)
), earlier AS (
    SELECT q.topic, q.key FROM (SELECT DISTINCT topic, key FROM m) q CROSS JOIN LATERAL (
        SELECT FROM outbox o WHERE o.key = q.key AND o.topic = q.topic AND (o.held OR o.not_before <= now())
            AND o.id <> ALL($7::bigint[]) LIMIT 1) o
), kept AS (
    INSERT INTO outbox (topic, key, value, headers, not_before, held)
    SELECT m.topic, m.key, m.value, m.headers,
        coalesce(m.not_before, CASE WHEN e.key IS NULL THEN now() + make_interval(secs => $6) ELSE now() END),
        m.not_before IS NULL AND e.key IS NULL
    FROM m LEFT JOIN earlier e ON e.topic = m.topic AND e.key = m.key ORDER BY m.n
    RETURNING id, held
)"""


class _Statement(NamedTuple):
    """An outbox statement: its own CTEs (without WITH; "" for none), its query, how many parameters they take."""

    ctes: str
    query: str
    parameters: int

    def along(self, alongside: Alongside | None) -> tuple[str, Sequence[object]]:
        """The statement with `alongside`'s CTEs first, and the parameters they add."""
        if alongside is None:
            return (f"WITH {self.ctes} {self.query}" if self.ctes else self.query), ()
        ctes = ", ".join(c for c in (alongside.ctes(self.parameters + 1), self.ctes) if c)
        return f"WITH {ctes} {self.query}", alongside.args


_KEEP_HELD = _Statement(_KEEP_HELD_CTES, "SELECT id, held AS free FROM kept ORDER BY id", 7)
_KEEP = _Statement("", (
    "INSERT INTO outbox (topic, key, value, headers, not_before, held)"
    " SELECT m.topic, m.key, m.value, m.headers, coalesce(m.not_before, now() + make_interval(secs => $6)),"
    " m.not_before IS NULL AND $6 > 0"
    " FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[], $5::timestamptz[])"
    " WITH ORDINALITY AS m(topic, key, value, headers, not_before, n) ORDER BY m.n RETURNING id"), 6)


async def _alone(conn: Connection, alongside: Alongside | None) -> None:
    """`alongside` when there is no message to keep with it."""
    if alongside is not None:
        await conn.execute(f"WITH {alongside.ctes(1)} SELECT 1", *alongside.args)


class Outbox:
    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.channel = f"outbox_{schema}"

    async def enqueue(self, conn: Connection, messages: Sequence[OutboxMessage], *, notify: bool = True,
                      hand_over_after: float = 0.0, alongside: Alongside | None = None) -> list[int]:
        """Call inside the transaction that changes the state these messages announce (or give that change as
        `alongside`); answers the rows' ids, in the messages' order. One statement, whatever the number of messages.
        `hand_over_after` (seconds) keeps the relay off rows without a `not_before` while their writer publishes them
        itself."""
        if not messages:
            await _alone(conn, alongside)
            return []
        messages = _traced(messages)
        query, more = _KEEP.along(alongside)
        ids = await conn.fetch(
            query, [m.topic for m in messages], [m.key for m in messages], [m.value for m in messages],
            [m.headers for m in messages], [m.not_before for m in messages], hand_over_after, *more,
        )
        if notify:
            await conn.execute("SELECT pg_notify($1, '')", self.channel)  # delivered at commit
        return sorted(r["id"] for r in ids)  # ids grow in insertion order, which is the messages' order

    async def enqueue_held(self, conn: Connection, messages: Sequence[OutboxMessage], *, hand_over_after: float,
                           publishing: Sequence[int], alongside: Alongside | None = None) -> list[tuple[int, bool]]:
        """Call inside the transaction (or give its change as `alongside`); answers (id, free) per message, in
        order. A free row is held for its writer for `hand_over_after` seconds; a row with an earlier row of its
        topic and key held by a writer or due for the relay, other than `publishing`, is not free: it is the
        relay's, which sends it after those. So is a message with a `not_before` of its own."""
        if not messages:
            await _alone(conn, alongside)
            return []
        messages = _traced(messages)
        query, more = _KEEP_HELD.along(alongside)
        rows = await conn.fetch(
            query, [m.topic for m in messages], [m.key for m in messages], [m.value for m in messages],
            [m.headers for m in messages], [m.not_before for m in messages], hand_over_after, list(publishing), *more,
        )
        return [(r["id"], r["free"]) for r in rows]

    async def notify(self, conn: Connection | asyncpg.Pool) -> None:
        """Wake the relay (at the commit, inside a transaction)."""
        await conn.execute("SELECT pg_notify($1, '')", self.channel)

    @staticmethod
    async def settle(conn: Connection | asyncpg.Pool, ids: Sequence[int]) -> None:
        """Their writer published these rows itself and Kafka acknowledged them: the relay must not send them."""
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", list(ids))

    async def hand_over(self, pool: asyncpg.Pool, ids: Sequence[int]) -> None:
        """Their writer could not publish these rows: they are the relay's now, due at once (the relay is woken)."""
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE outbox SET not_before = now(), held = false WHERE id = ANY($1::bigint[])",
                               list(ids))
            await self.notify(conn)


class OutboxSettler:
    """Deletes the rows their writers published themselves, off the writers' way and many writers' rows in one
    statement: the ids published within `gather_seconds` of the first, or while a DELETE runs, go in one DELETE. A
    row still there when the process dies is sent again by the relay once its hand-over time passes, which is
    harmless: consumers claim each event_id once."""

    def __init__(self, pool: asyncpg.Pool, on_settled: Callable[[Sequence[int]], None] | None = None, *,
                 gather_seconds: float = SETTLE_GATHER_SECONDS) -> None:
        self._pool = pool
        self._on_settled = on_settled  # told of the ids once their DELETE ended (done, or failed)
        self._gather_seconds = gather_seconds
        self._ids: list[int] = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # set by stop(): ends a gathering at once
        self._task: asyncio.Task[None] | None = None

    def settle(self, ids: Sequence[int]) -> None:
        self._ids.extend(ids)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-settler")

    async def stop(self) -> None:
        """Delete what is pending, then stop."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._delete_pending()

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self._wake.wait()
            with contextlib.suppress(TimeoutError):  # the rows published meanwhile go with these
                async with asyncio.timeout(self._gather_seconds):
                    await self._stop.wait()
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
        finally:
            if self._on_settled is not None:
                self._on_settled(ids)


class OutboxWriter:
    """Keeps a writer's messages in the outbox in its transaction and publishes them right after the commit, so no
    relay round (a NOTIFY, a wake-up, the rows read back, a transaction of its own) stands between a commit and its
    messages in Kafka:

        async with pool.acquire() as conn, conn.transaction():
            ...
            rows = await writer.enqueue(conn, messages)
        await writer.publish(rows)

    The relay stays the fallback. Nothing is lost: a writer that dies after its commit leaves its rows to the relay,
    due `hand_over_after` seconds after they were written; one whose publish fails or takes over `publish_within`
    hands them over, due at once. Order per topic and key holds: a row is published by its writer only when no
    earlier row of its key is held by another writer or due for the relay (this writer's own are published, or
    being published: its sends queue in order on one producer, one round at a time); otherwise the row is the
    relay's, which sends no row while an earlier one of its key is held (for at most the hand-over delay) and due
    rows in the order they were written.
    A message may leave twice (writer and relay, after a crash or a slow ack): consumers claim each event_id once.
    Messages with a `not_before` still ahead are the relay's, as with `Outbox.enqueue`.

    A consumer that need not know when Kafka has its batch's messages calls `publish_soon` instead of `publish`: the
    writer's sender sends them while the consumer takes its next batch.

    A writer whose messages are all its transaction would hold (intake's submissions without an Idempotency-Key)
    calls `keep_and_publish` instead: the messages of every caller waiting meanwhile are kept by one statement and
    published by one send (a group commit, see `keep_and_publish`).
    """

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, publish: PublishRows, *,
                 hand_over_after: float = HAND_OVER_SECONDS, publish_within: float = PUBLISH_SECONDS) -> None:
        self.outbox = outbox
        self._pool, self._publish = pool, publish
        self._hand_over_after, self._publish_within = hand_over_after, publish_within
        # Rows this writer is publishing, or published and has not deleted yet: their topic and key, and the ids of
        # each topic and key (what `enqueue` asks; scanning every row it holds cost intake ≈ 14% of its CPU a request).
        self._mine: dict[int, _TopicKey] = {}
        self._mine_by_key: dict[_TopicKey, set[int]] = {}
        self._settler = OutboxSettler(pool, on_settled=self._forget)
        # keep_and_publish: callers waiting for a statement, groups kept and waiting to be sent, in order.
        self._to_keep: deque[_Caller] = deque()
        self._to_send: list[_KeptGroup] = []
        self._keeper: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._groups_begun = 0  # statements begun, counted: a kept group's place
        self._hand_over_through = 0  # groups up to this place hand their rows over (an earlier send failed)
        self._failures = 0  # sends that failed, counted (KeptRows.failures_before)
        self._unsent = 0  # rows publish_soon gave the sender that it has not sent (or handed over) yet
        self._below_unsent_limit = asyncio.Event()
        self._below_unsent_limit.set()

    def _forget(self, ids: Sequence[int]) -> None:
        for i in ids:
            key = self._mine.pop(i, None)
            if key is not None:
                same = self._mine_by_key[key]
                same.discard(i)
                if not same:
                    del self._mine_by_key[key]

    async def enqueue(self, conn: Connection, messages: Sequence[OutboxMessage], *,
                      alongside: Alongside | None = None) -> KeptRows:
        """Inside the transaction, or outside one with the state the messages announce given as `alongside`: keep
        the messages; answers the rows to `publish` once it committed (the others are the relay's, and it is woken
        for them at the commit)."""
        failures_before = self._failures  # before the statement: a send failing while it runs counts as after
        if not messages:
            await _alone(conn, alongside)
            return KeptRows()
        messages = _traced(messages)  # the rows it publishes carry the trace context too
        now = datetime.now(UTC)
        due = [m.not_before is None or m.not_before <= now for m in messages]
        if not any(due):  # all delayed (a board's latency): the relay's, as they always were
            await self.outbox.enqueue(conn, messages, alongside=alongside)
            return KeptRows()
        # A message due already is its writer's like any other (the relay would send it at once, and twice).
        # Built anew, not dataclasses.replace: that was 6% of board-sim's handler, whose answers all carry a time.
        held = [OutboxMessage(m.topic, m.value, m.key, m.headers) if d and m.not_before is not None else m
                for m, d in zip(messages, due, strict=True)]
        # Only this writer's rows of the messages' keys: the statement compares the others with nothing, and asyncpg
        # spent ≈ 0.5 µs encoding each id (a hundred or more under load, on every request).
        keys = {(m.topic, m.key) for m in held}
        kept = await self.outbox.enqueue_held(conn, held, hand_over_after=self._hand_over_after,
                                              publishing=[i for key in keys for i in self._mine_by_key.get(key, ())],
                                              alongside=alongside)
        rows = KeptRows((OutboxRow(i, m.topic, m.key, m.value, m.headers)
                         for (i, free), m, d in zip(kept, messages, due, strict=True) if free and d), failures_before)
        if len(rows) < len(messages):
            await self.outbox.notify(conn)  # delivered at the commit
        return rows

    async def publish(self, rows: Sequence[OutboxRow]) -> bool:
        """After the commit: publish the rows; once Kafka has them all they are deleted (in the background, with
        other batches' rows). On failure or after `publish_within` seconds they are handed to the relay, due at once.
        Answers whether Kafka took them."""
        if not rows:
            return True
        self._remember(rows)
        return await self._send(rows)

    async def publish_soon(self, rows: KeptRows) -> None:
        """After the commit: the rows go to the writer's sender, which sends them after every earlier call's, in
        order, and deletes them once Kafka has them (or hands them to the relay, as `publish` does); the caller goes
        on to its next batch meanwhile. Validation waited for the acks of a file's batch before taking the next: a
        third of its time a batch (docs/PERFORMANCE.md). Rows kept before another send of this writer failed are the
        relay's at once: sent now, they could overtake that send's rows of their keys. Waits while SOON_UNSENT_ROWS
        rows are still unsent, so a slow Kafka slows the consumer instead of filling memory."""
        if not rows:
            return
        if rows.failures_before != self._failures:
            await self._leave_to_relay([r.id for r in rows])
            return
        self._remember(rows)
        self._groups_begun += 1
        self._to_send.append(_KeptGroup(self._groups_begun, list(rows), []))
        self._unsent += len(rows)
        if self._unsent >= SOON_UNSENT_ROWS:
            self._below_unsent_limit.clear()
        self._wake_sender()
        await self._below_unsent_limit.wait()

    def _remember(self, rows: Sequence[OutboxRow]) -> None:
        """From now on the writer's next statements count these rows as its own (being published)."""
        for r in rows:
            self._mine[r.id] = key = (r.topic, r.key)
            self._mine_by_key.setdefault(key, set()).add(r.id)

    async def _send(self, rows: Sequence[OutboxRow]) -> bool:
        ids = [r.id for r in rows]
        try:
            async with asyncio.timeout(self._publish_within):  # in this task: wait_for made a task per publish
                await self._publish(rows)
        except Exception as exc:  # a time-out included: the rows are kept, the relay delivers them
            # First, before any await: rows kept from now on must not overtake these, nor the groups waiting behind
            # them, which are the relay's too (_send_groups), so none of them counts as this writer's any more.
            self._failures += 1
            self._hand_over_through = self._groups_begun
            for group in self._to_send:
                self._forget([r.id for r in group.rows])
            log.warning("messages left to the outbox relay", error=type(exc).__name__, messages=len(rows))
            await self._leave_to_relay(ids)
            return False
        self._settler.settle(ids)
        return True

    async def _leave_to_relay(self, ids: Sequence[int]) -> None:
        """These rows are the relay's now, due at once; from now on later rows of their keys queue behind them."""
        self._forget(ids)
        with contextlib.suppress(Exception):  # else the relay takes them after the hand-over delay
            await self.outbox.hand_over(self._pool, ids)

    async def keep_and_publish(self, messages: Sequence[OutboxMessage]) -> bool:
        """Keep the messages in the outbox, with nothing else in their transaction, and publish them: together with
        those of every caller that came while the previous statement ran (a group commit). Each group is one INSERT
        on one connection, all or nothing for every caller in it, and one send: alone, each caller cost PostgreSQL
        a statement of its own (≈ 0.6 ms of its CPU a message, ten times a group's share) and its process ≈ 0.3 ms.
        Groups are kept one at a time, and sent in the order they were kept while the next is being kept; a key's
        messages keep their order because they are kept in it. Raises what the statement raised (nothing of the
        caller's was kept); answers whether Kafka took them (else they are the relay's, as with `publish`)."""
        if not messages:
            return True
        caller = _Caller(messages, asyncio.get_running_loop().create_future())
        self._to_keep.append(caller)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_groups(), name=f"outbox-keeper-{self.outbox.schema}")
        return await caller.published

    async def _keep_groups(self) -> None:
        while self._to_keep:
            group = _take_group(self._to_keep)
            if not group:
                continue
            self._groups_begun += 1
            place = self._groups_begun
            try:
                async with self._pool.acquire() as conn:
                    rows = await self.enqueue(conn, [m for c in group for m in c.messages])
            except Exception as exc:  # nothing of the group was kept: each caller raises it
                for c in group:
                    if not c.published.done():
                        c.published.set_exception(exc)
                continue
            if place > self._hand_over_through:  # else a send failed meanwhile: the relay's, not this writer's
                self._remember(rows)  # before the next statement, which must count them as this writer's
            self._to_send.append(_KeptGroup(place, rows, group))
            self._wake_sender()

    def _wake_sender(self) -> None:
        """The one sender task sends the groups queued in `_to_send`; started again once it ran out of them."""
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_groups(), name=f"outbox-sender-{self.outbox.schema}")

    async def _send_groups(self) -> None:
        """Every group kept so far in one send, in the order kept; again while more were kept meanwhile."""
        while self._to_send:
            groups, self._to_send = self._to_send, []
            soon = sum(len(g.rows) for g in groups if not g.callers)  # publish_soon's groups (no caller waits)
            behind_a_failure = [g for g in groups if g.place <= self._hand_over_through]
            if behind_a_failure:
                # Kept while an earlier group's send was pending, which failed and left its rows to the relay:
                # sent now they could overtake those rows of their keys, so they are the relay's too.
                await self._leave_to_relay([r.id for g in behind_a_failure for r in g.rows])
                _answer(behind_a_failure, False)
                groups = [g for g in groups if g.place > self._hand_over_through]
            rows = [r for g in groups for r in g.rows]
            published = not rows or await self._send(rows)  # a failure marks the groups behind it (_send)
            _answer(groups, published)
            self._unsent -= soon
            if self._unsent < SOON_UNSENT_ROWS:
                self._below_unsent_limit.set()

    async def stop(self) -> None:
        """Keep and send what callers are waiting for, delete the published rows still in the outbox, then stop."""
        if self._keeper is not None:
            await self._keeper
        if self._sender is not None:  # the keeper's and publish_soon's: none start after the callers stopped
            await self._sender
        await self._settler.stop()


@dataclass
class _Caller:
    messages: Sequence[OutboxMessage]
    published: asyncio.Future[bool]


@dataclass
class _KeptGroup:
    place: int  # the order its statement began in
    rows: list[OutboxRow]  # the rows its writer publishes (the others are the relay's)
    callers: list[_Caller]


GROUP_MESSAGES = 1_000  # a group's statement takes callers until it holds this many messages (at least one caller)


def _take_group(waiting: deque[_Caller]) -> list[_Caller]:
    """The next group off the front of `waiting` (callers that gave up meanwhile are dropped: nothing of theirs was
    kept)."""
    group: list[_Caller] = []
    count = 0
    while waiting and (not group or count + len(waiting[0].messages) <= GROUP_MESSAGES):
        caller = waiting.popleft()
        if not caller.published.done():
            group.append(caller)
            count += len(caller.messages)
    return group


def _answer(groups: Sequence[_KeptGroup], published: bool) -> None:
    for group in groups:
        for caller in group.callers:
            if not caller.published.done():
                caller.published.set_result(published)


# A row's key bucket: every row of one key falls in the same one, whatever its topic (rows without a key keep no
# order, and share the empty key's bucket). Relays lock buckets with pg_try_advisory_xact_lock(hashtext(schema
# label), bucket) for the length of a round.
KEY_BUCKETS = 16


def key_bucket(key_column: str) -> str:
    """The SQL expression of a key's bucket: the relays' statements and their tests say it the same way."""
    return f"(hashtext(encode(coalesce({key_column}, ''::bytea), 'hex')) & {KEY_BUCKETS - 1})"


def relay_lock_label(schema: str) -> str:
    """The advisory lock label of a schema's relays: with a bucket, the key of one bucket's lock."""
    return f"outbox:{schema}"


_BUCKET = key_bucket("o.key")
# The first $3 buckets of $1 (a shuffled list) that no other relay holds, locked till the round's end. The Limit node
# pulls one bucket at a time through the filter, so no more than $3 are locked.
_TAKE_BUCKETS = ("SELECT coalesce(array_agg(b), '{}') FROM (SELECT b FROM unnest($1::int[]) b"
                 " WHERE pg_try_advisory_xact_lock(hashtext($2), b) LIMIT $3) t")
# The first $1 due rows by id, less those waiting while an earlier row of their key is still held by its writer
# (OutboxWriter): the writer publishes that one, or hands it over, or its time runs out; then the two leave in order.
# The due rows' ids are found first, on their own: asked in one join, PostgreSQL planned by the table's statistics,
# which an outbox never has right (it churns between empty and a file's backlog, and mostly holds dead rows), and
# chose parallel workers for a look that found nothing, or sorted every due row's value on disk for each batch
# (20,000 rows: 120-190 ms a round against 14-46 this way; one relay drains a backlog 40-58% faster,
# docs/PERFORMANCE.md).
# Every other step can go only one way, whatever PostgreSQL believes of the table. An outbox vacuumed while nearly
# empty is taken for one row however large it grows, and then every plan costs the same: a join by id was planned
# as a scan of the whole table for each due row (10 s a round of 2,000 among 20,000). So each due row is read by
# its place in the table (ctid: only a TID scan takes it), and the held row before it is asked of its key alone by a
# subquery run for that row: its position as (key, id) and its hold as one IS TRUE test leave no index but
# outbox_by_key a condition to use (with "e.id < o.id" or "e.not_before > now()" the primary key or outbox_due, each
# scanned whole, were ways too).
_DUE = ("WITH c AS MATERIALIZED (SELECT id, ctid AS t FROM outbox o WHERE not_before <= now() {buckets}ORDER BY id"
        " LIMIT $1) SELECT o.id, o.topic, o.key, o.value, o.headers FROM c JOIN outbox o ON o.ctid = c.t"
        " WHERE (SELECT true FROM outbox e WHERE e.key = o.key AND (e.key, e.id) < (o.key, o.id) AND e.topic = o.topic"
        " AND (e.held AND e.not_before > now()) IS TRUE LIMIT 1) IS NULL ORDER BY o.id")
_DUE_ANY = _DUE.format(buckets="")
# Rows of the buckets taken, said as "none of the buckets left": PostgreSQL guesses each inequality true for 99.5% of
# rows, so it keeps reading outbox in id order until the batch is full. Said as "= ANY(taken)" it guessed 4% for
# half the buckets and sorted all the backlog's rows (8 buckets of 20,000 rows: 150 ms instead of 2).
_DUE_IN_BUCKETS = _DUE.format(buckets=f"AND {_BUCKET} <> ALL($2::int[]) ")

# When to look again: the next delayed row's time, and whether any row is left: each the first row in outbox_due's
# order, which no other index has and a scan would have to sort. `EXISTS (SELECT FROM outbox)` read the table from
# its first page, past every dead row autovacuum had not yet removed (55 ms a look among a file's deleted rows);
# `min(id)`, with the outbox taken for one row (above), was read from the whole of outbox_by_key (13 ms), and a
# `min(not_before)` of the future rows read every held row (4 ms among 4,000).
_NEXT_LOOK = ("SELECT (SELECT extract(epoch FROM not_before - now())::float FROM outbox WHERE not_before > now()"
              " ORDER BY not_before LIMIT 1), (SELECT not_before FROM outbox ORDER BY not_before LIMIT 1) IS NOT NULL")


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, publish: PublishRows, batch_size: int = 2000) -> None:
        self._pool = pool
        self._outbox = outbox
        self._publish = publish
        self._batch_size = batch_size
        self._lock_label = relay_lock_label(outbox.schema)
        self._backlog = False  # the last round filled a batch: take half the buckets, for another instance's relay
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener: PoolConnectionProxy | None = None

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
        listener.add_termination_listener(self._on_notify)  # NOTIFYs sent while it is gone are lost: look at once
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
                self._listener.remove_termination_listener(self._on_notify)
                await self._listener.remove_listener(self._outbox.channel, self._on_notify)
            await self._pool.release(self._listener)

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
                published, next_due = await self.drain_once()
            except Exception:
                log.exception("outbox relay failed; retrying", schema=self._outbox.schema)
                published, next_due = 0, 1.0
                await asyncio.sleep(1.0)
            if self._stopping and not published:
                return
            if published:
                continue
            timeout = IDLE_LOOK_SECONDS if next_due is None else max(0.0, min(1.0, next_due))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def measure_backlog(self) -> None:
        """For /metrics: the rows due and not yet published (a backlog), and those due later (a board's latency);
        the rows their writers are publishing are neither."""
        row = await self._pool.fetchrow("SELECT count(*) FILTER (WHERE not_before <= now()),"
                                        " count(*) FILTER (WHERE not_before > now() AND NOT held) FROM outbox")
        assert row is not None  # an aggregate answers one row
        outbox_rows(self._outbox.schema, row[0], row[1])

    async def drain_once(self) -> tuple[int, float | None]:
        """Publish one batch of due messages; answer how many, and in how many seconds to look again: when the next
        delayed one is due (by PostgreSQL's clock, which set it), at most a second while the outbox holds any row
        (one due may wait for another writer's held row of its key), None when it is empty."""
        want = KEY_BUCKETS // 2 if self._backlog else KEY_BUCKETS
        async with self._pool.acquire() as conn, conn.transaction():
            taken = await conn.fetchval(_TAKE_BUCKETS, random.sample(range(KEY_BUCKETS), KEY_BUCKETS),
                                        self._lock_label, want)
            if not taken:
                return 0, HELD_LOOK_SECONDS  # other instances' relays hold every bucket, in a round
            if len(taken) == KEY_BUCKETS:  # alone: no bucket filter, the statement of a relay with one lock
                rows = await conn.fetch(_DUE_ANY, self._batch_size)
            else:
                rows = await conn.fetch(_DUE_IN_BUCKETS, self._batch_size,
                                        [b for b in range(KEY_BUCKETS) if b not in taken])
            self._backlog = len(rows) == self._batch_size
            if not rows:
                if want < KEY_BUCKETS:
                    return 0, 0.0  # its half was empty: at once, every bucket it can take
                later = await conn.fetchrow(_NEXT_LOOK)
                assert later is not None  # a SELECT without FROM answers one row
                return 0, None if not later[1] else 1.0 if later[0] is None else later[0]
            await self._publish([OutboxRow(r["id"], r["topic"], r["key"], r["value"], r["headers"]) for r in rows])
            # Deleted only after Kafka acknowledged every message: a crash in between republishes (same ids).
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        return len(rows), None


def _traced(messages: Sequence[OutboxMessage]) -> Sequence[OutboxMessage]:
    """With tracing on, each message's headers carry the trace context of what wrote it, kept in its row, so the trace
    goes on across a relay that publishes it later (shared.tracing); off, the messages as they are."""
    if not tracing.enabled():
        return messages
    stamped = tracing.stamp([(m.topic, m.headers) for m in messages])
    return [replace(m, headers=headers) for m, headers in zip(messages, stamped, strict=True)]


def _open(conn: Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # the server closed it and the pool took it back
        return False


def event_message(topic: str, event: Envelope, key: str, not_before: datetime | None = None, *,
                  value: bytes | None = None) -> OutboxMessage:
    """An event as an outbox row: JSON value (`value`, where the caller has encoded it already), its key, and
    headers that tools can read without decoding."""
    headers = {"event_type": event.event_type, "correlation_id": event.correlation_id,
               "event_id": str(event.event_id)}
    return OutboxMessage(topic=topic, value=event.to_bytes() if value is None else value, key=key.encode(),
                         headers=headers, not_before=not_before)
