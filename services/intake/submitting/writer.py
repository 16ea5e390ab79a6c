"""The one writer of pars.submissions: every channel's SubmitRecord messages (submitting/messages.py) are kept in
intake's outbox first, in the transaction that keeps what they announce, so none is lost or sent without it.

Interactive channels (API completions, web-service reports, deletes) call `submit`: a submission's messages, with
its Idempotency-Key when it has one, are written in one transaction: all of them are kept or none. Without a key,
the submissions that arrive while one statement runs are kept together by the next and published together right
after it (a group commit: `OutboxWriter.keep_and_publish`); with one, the request publishes them itself right after
its commit. Either way they are deleted once Kafka acknowledged (shared.outbox.OutboxWriter), so a 202 costs no
relay round; the outbox relay sends only what the request could not (Kafka failed meanwhile, or the
process died): at once when the request gave up, else after HAND_OVER_SECONDS, and a record whose credit ID still
has a message waiting for the relay (a batch file's, or one left there) waits behind it. Before writing anything a
submission is refused with 503 while Kafka is known to be unreachable, and with 413 when a message would not fit.

Batch files call `queue_batch` inside the upload's transaction (the batch's rows with its messages): thousands of
messages at once, for the relay, woken once at the commit; nobody waits on them.

A message sent twice is harmless: validation claims each SubmitRecord's event_id.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from intake.completions.schemas import RecordAnswer
from intake.errors import ApiError
from intake.submitting.messages import refuse_oversized, submission
from intake.waiters import Waiters
from shared.db import Connection
from shared.events import ReportedRecord
from shared.kafka import KafkaHealth
from shared.outbox import Outbox, OutboxMessage, OutboxWriter, PublishRows
from shared.settings import Settings

HAND_OVER_SECONDS = 10.0  # rows their request has not published by then are the relay's
PUBLISH_SECONDS = 5.0  # how long a request waits for Kafka's acks before leaving its rows to the relay
RETRY_AFTER_SECONDS = 5
OUTBOX_CHUNK = 1_000  # a batch's messages an INSERT into the outbox (`queue_batch`)

# Runs inside the submission's transaction before anything is written; False: keep nothing (the key was taken).
Claim = Callable[[Connection], Awaitable[bool]]


def kafka_unavailable() -> ApiError:
    return ApiError(503, "submissions_unavailable",
                    "PARS cannot take submissions right now: its message log (Kafka) does not answer. Nothing was "
                    f"kept; send the request again in {RETRY_AFTER_SECONDS} seconds.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def queue_batch(conn: Connection, outbox: Outbox, messages: Sequence[OutboxMessage]) -> None:
    """A batch's messages, inside the upload's transaction: the relay's, woken once at the commit.

    Several statements of OUTBOX_CHUNK messages: asyncpg builds each statement's arguments in one buffer
    (≈ 1.2 KB a message), and four uploads at once need not hold four 6 MB buffers."""
    for start in range(0, len(messages), OUTBOX_CHUNK):
        await outbox.enqueue(conn, messages[start:start + OUTBOX_CHUNK], notify=start + OUTBOX_CHUNK >= len(messages))


class Submissions:
    """`submit`: an interactive channel's records, kept and published at once (see above)."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, publish: PublishRows, health: KafkaHealth,
                 settings: Settings, waiters: Waiters) -> None:
        self._pool, self._health = pool, health
        self._settings, self._waiters = settings, waiters
        self._writer = OutboxWriter(pool, outbox, publish, hand_over_after=HAND_OVER_SECONDS,
                                    publish_within=PUBLISH_SECONDS)

    async def stop(self) -> None:
        await self._writer.stop()

    async def submit(self, records: list[ReportedRecord], correlation_id: str, wait_seconds: float,
                     claim: Claim | None = None) -> list[RecordAnswer] | None:
        """Keep and publish these records, then wait up to `wait_seconds` for validation's decisions; undecided
        records answer Processing. None when `claim` refused: nothing was kept."""
        if not records:
            return []
        if not self._health.reachable:
            raise kafka_unavailable()
        messages = [submission(self._settings, r, correlation_id) for r in records]
        refuse_oversized(records, messages)
        record_ids = [r.record_id for r in records]
        futures = self._waiters.expect(record_ids) if wait_seconds > 0 else []
        deadline = asyncio.get_running_loop().time() + wait_seconds
        try:
            if claim is None:  # all or nothing by itself: kept and sent with the concurrent submissions' messages
                published = await self._writer.keep_and_publish(messages)
            else:
                async with self._pool.acquire() as conn, conn.transaction():
                    if not await claim(conn):
                        return None
                    rows = await self._writer.enqueue(conn, messages)
                published = await self._writer.publish(rows)
            if not published:  # the rows are the relay's; the next submissions are refused while Kafka is down
                self._health.suspect()
            if published and futures:
                await asyncio.wait(futures, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        finally:
            self._waiters.forget(record_ids)
        waited: Sequence[asyncio.Future[RecordAnswer] | None] = futures or [None] * len(records)
        return [
            future.result() if future is not None and future.done()
            else RecordAnswer(record_id=record.record_id, target=record.target.code, status="Processing")
            for record, future in zip(records, waited, strict=True)
        ]
