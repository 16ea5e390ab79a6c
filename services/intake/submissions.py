"""The way API completions, web-service reports and deletes reach pars.submissions (batch files take the same
outbox in batches/service.py).

A submission's messages, with its Idempotency-Key when it has one, are written to intake's outbox in one
transaction: all of them are kept or none. Right after the commit the request publishes them itself and deletes
them once Kafka acknowledged (shared.outbox.OutboxWriter), so a 202 costs no relay round; the outbox relay sends
only what the request could not (Kafka failed meanwhile, or the process died): at once when the request gave up,
else after HAND_OVER_SECONDS, and a record whose credit ID still has a message waiting for the relay (a batch
file's, or one left there) waits behind it. A message sent twice is harmless: validation claims each
SubmitRecord's event_id.

Before writing anything a submission is refused with 503 while Kafka is known to be unreachable, and with 413
when a message would not fit in Kafka.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from intake.completions.schemas import RecordAnswer
from intake.errors import ApiError
from intake.waiters import Waiters
from shared.events import ReportedRecord, SubmitRecord
from shared.kafka import KAFKA_MAX_MESSAGE_BYTES, KafkaHealth
from shared.logging import get_logger
from shared.outbox import Outbox, OutboxMessage, OutboxWriter, PublishRows
from shared.settings import Settings
from shared.topics import SUBMISSIONS

log = get_logger(__name__)

HAND_OVER_SECONDS = 10.0  # rows their request has not published by then are the relay's
PUBLISH_SECONDS = 5.0  # how long a request waits for Kafka's acks before leaving its rows to the relay
RETRY_AFTER_SECONDS = 5
# A record's SubmitRecord must fit in Kafka, and so must every event that repeats it further on (RecordSubmitted,
# the board request, RecordRejectedByPars with its messages): a quarter of Kafka's limit leaves them room.
MAX_SUBMISSION_BYTES = KAFKA_MAX_MESSAGE_BYTES // 4

# Runs inside the submission's transaction before anything is written; False: keep nothing (the key was taken).
Claim = Callable[[asyncpg.Connection], Awaitable[bool]]


def submission(settings: Settings, record: ReportedRecord, correlation_id: str) -> OutboxMessage:
    """A record's SubmitRecord on pars.submissions, keyed by provider and credit ID so an Add and its Delete
    stay in order."""
    command = SubmitRecord(record=record, correlation_id=correlation_id, provider_id=record.provider_id,
                           record_id=record.record_id, submission_id=record.submission_id)
    return OutboxMessage(topic=settings.topic(SUBMISSIONS.name), value=command.to_bytes(),
                         key=f"{record.provider_id}:{record.credit_id}".encode(),
                         headers={"event_type": command.event_type, "correlation_id": correlation_id})


def kafka_unavailable() -> ApiError:
    return ApiError(503, "submissions_unavailable",
                    "PARS cannot take submissions right now: its message log (Kafka) does not answer. Nothing was "
                    f"kept; send the request again in {RETRY_AFTER_SECONDS} seconds.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def message_bytes(message: OutboxMessage) -> int:
    return (len(message.value) + len(message.key or b"")
            + sum(len(k.encode()) + len(v.encode()) for k, v in message.headers.items()))


def _shown(text: str, chars: int = 40) -> str:
    """A caller's value, cut short and with anything unencodable escaped, to name it in a message."""
    cut = text[:chars].encode("utf-8", "backslashreplace").decode("utf-8")
    return cut + ("..." if len(text) > chars else "")


def largest_field(record: ReportedRecord) -> tuple[str, int]:
    """The record's field that takes most room once encoded, and how much."""
    sizes: dict[str, Any] = record.model_dump(mode="json")
    return max(((name, len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")))
                for name, value in sizes.items()), key=lambda pair: pair[1])


def refuse_oversized(records: list[ReportedRecord], messages: list[OutboxMessage]) -> None:
    """413 naming the target and the field when a record's message would be over MAX_SUBMISSION_BYTES."""
    details = []
    for record, message in zip(records, messages, strict=True):
        size = message_bytes(message)
        if size > MAX_SUBMISSION_BYTES:
            field, field_size = largest_field(record)
            details.append({"field": field, "target": _shown(record.target.code),
                            "reason": f"the record for this target would be {size:,} bytes, {field_size:,} of them"
                                      f" {field}; at most {MAX_SUBMISSION_BYTES:,} bytes are allowed"})
    if details:
        first = details[0]
        raise ApiError(413, "record_too_large",
                       f"The record for target '{first['target']}' is too large to keep: its {first['field']} is "
                       f"too long ({first['reason']}). Nothing was kept.", details)


class Submissions:
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
        async with self._pool.acquire() as conn:
            if claim is None:  # one INSERT is all or nothing by itself: no BEGIN and COMMIT round trips
                rows = await self._writer.enqueue(conn, messages)
            else:
                async with conn.transaction():
                    if not await claim(conn):
                        return None
                    rows = await self._writer.enqueue(conn, messages)
        record_ids = [r.record_id for r in records]
        futures = self._waiters.expect(record_ids) if wait_seconds > 0 else []
        deadline = asyncio.get_running_loop().time() + wait_seconds
        try:
            published = await self._writer.publish(rows)
            if not published:  # the rows are the relay's; the next submissions are refused while Kafka is down
                self._health.suspect()
            if published and futures:
                await asyncio.wait(futures, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        finally:
            self._waiters.forget(record_ids)
        return [
            future.result() if future is not None and future.done()
            else RecordAnswer(record_id=record.record_id, target=record.target.code, status="Processing")
            for record, future in zip(records, futures or [None] * len(records), strict=True)
        ]
