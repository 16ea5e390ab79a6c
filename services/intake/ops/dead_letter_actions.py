"""Re-driving and skipping dead letters, each action recorded: the one implementation behind the console's buttons
and `pars dlq redrive|skip`.

A dead letter is named by where it sits (its DLQ topic, partition and offset). Its action row is inserted in the
same transaction that re-publishes it, and the row's primary key is that position: a double click, a retry or a
second operator waits for the first transaction and then finds the letter done, so nothing is re-driven twice.
A publish that fails rolls the row back, so the letter stays pending.
"""

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition

from intake.ops.kafka_admin import admin_client, logical, partitions, reader
from intake.ops.messages import READ_WITHIN, dead_letter_view, last_messages
from shared.kafka import kafka_client_args
from shared.service_registry import SERVICE_NAMES
from shared.settings import Settings
from shared.topics import dead_letters

Action = Literal["redrive", "skip"]
REDRIVEN_FROM = "dlq.redriven.from"  # header on a re-driven copy: the dead letter it came from
ALL_AT_ONCE = 5000  # dead letters `redrive all` / `skip all` look at, newest first
COLUMNS = ("dlq_topic, dlq_partition, dlq_offset, action, operator, source_topic, source_partition, source_offset,"
           " redriven_to, acted_at")


class DeadLetterRefused(ValueError):
    """The dead letter cannot take this action (no such letter, or no source topic of this stack to send it to)."""


@dataclass(frozen=True)
class Outcome:
    done: bool  # False: an earlier action (shown in `row`) had handled it already
    row: dict[str, Any]


def dlq_topics(settings: Settings, service: str | None = None) -> list[str]:
    """The DLQ topics' full names: one service's, or every service's."""
    return [settings.topic(dead_letters(s).name) for s in ([service] if service else SERVICE_NAMES)]


async def read_one(settings: Settings, topic: str, partition: int, offset: int) -> ConsumerRecord | None:
    """The message at topic (full name), partition and offset; None when there is none."""
    async with admin_client(settings) as admin:
        if partition not in (await partitions(admin, [topic])).get(topic, []):
            return None
    tp = TopicPartition(topic, partition)
    async with reader(settings) as consumer:
        consumer.assign([tp])
        first, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
        if not first <= offset < end:
            return None
        consumer.seek(tp, offset)
        async with asyncio.timeout(READ_WITHIN):
            while True:
                for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    if record.offset == offset:
                        return record
                    if record.offset > offset:  # compacted or aborted away
                        return None


def _source(settings: Settings, record: ConsumerRecord) -> tuple[str | None, int | None, int | None]:
    shown = dead_letter_view(settings, record)["source"]
    return shown["topic"], shown["partition"], shown["offset"]


async def act(pool: asyncpg.Pool, settings: Settings, producer: AIOKafkaProducer | None, who: str, action: Action,
              topic: str, partition: int, offset: int, record: ConsumerRecord | None = None) -> Outcome:
    """Re-drive (to its source topic, as it first came: key, value, its own headers) or skip one dead letter.

    `topic` is the DLQ topic's logical or full name; `record`, the letter when the caller has read it already.
    `producer` is needed for re-driving only.
    """
    name = logical(settings, topic)
    if settings.topic(name) not in dlq_topics(settings):
        raise DeadLetterRefused(f"{topic!r} is not a dead-letter topic of this stack")
    async with pool.acquire() as conn:
        done = await conn.fetchrow(f"SELECT {COLUMNS} FROM dead_letter_actions WHERE dlq_topic = $1 AND "
                                   "dlq_partition = $2 AND dlq_offset = $3", name, partition, offset)
    if done is not None:
        return Outcome(False, dict(done))
    record = record or await read_one(settings, settings.topic(name), partition, offset)
    if record is None:
        raise DeadLetterRefused(f"no dead letter at {name}[{partition}]@{offset}")
    source, source_partition, source_offset = _source(settings, record)
    if action == "redrive" and (source is None or not source.startswith("pars.") or source.startswith("pars.dlq.")):
        raise DeadLetterRefused(f"the dead letter at {name}[{partition}]@{offset} names no source topic to re-drive "
                                "it to; skip it instead")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO dead_letter_actions (dlq_topic, dlq_partition, dlq_offset, action, operator, source_topic,"
            " source_partition, source_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            f" ON CONFLICT DO NOTHING RETURNING {COLUMNS}",
            name, partition, offset, action, who, source, source_partition, source_offset)
        if row is None:  # another action got there first, and has committed
            again = await conn.fetchrow(f"SELECT {COLUMNS} FROM dead_letter_actions WHERE dlq_topic = $1 AND "
                                        "dlq_partition = $2 AND dlq_offset = $3", name, partition, offset)
            return Outcome(False, dict(again or {}))
        if action == "skip":
            return Outcome(True, dict(row))
        assert producer is not None and source is not None
        headers = [(n, v) for n, v in record.headers or () if not n.startswith("dlq.")]
        headers.append((REDRIVEN_FROM, f"{name}/{partition}/{offset}".encode()))
        sent = await producer.send_and_wait(settings.topic(source), record.value, key=record.key, headers=headers)
        row = await conn.fetchrow(f"UPDATE dead_letter_actions SET redriven_to = $4 WHERE dlq_topic = $1 AND "
                                  f"dlq_partition = $2 AND dlq_offset = $3 RETURNING {COLUMNS}",
                                  name, partition, offset, f"{sent.partition}/{sent.offset}")
        return Outcome(True, dict(row or {}))


async def act_on_all(pool: asyncpg.Pool, settings: Settings, producer: AIOKafkaProducer | None, who: str,
                     action: Action, service: str | None = None) -> dict[str, int]:
    """`act` on every pending dead letter (of one service, or all), oldest first; counts of done, already done and
    refused (a letter with no source cannot be re-driven: skip it)."""
    letters = await last_messages(settings, dlq_topics(settings, service), ALL_AT_ONCE)
    counts = {"done": 0, "already": 0, "refused": 0}
    for letter in letters:
        try:
            outcome = await act(pool, settings, producer, who, action, letter.topic, letter.partition, letter.offset,
                                letter)
        except DeadLetterRefused:
            counts["refused"] += 1
            continue
        counts["done" if outcome.done else "already"] += 1
    return counts


async def actions_for(pool: asyncpg.Pool, letters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`letters` (dead_letter_view answers) each with the action taken on it, or None while it is pending."""
    if not letters:
        return letters
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM dead_letter_actions WHERE (dlq_topic, dlq_partition, dlq_offset) IN "
            "(SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))",
            [d["topic"] for d in letters], [d["partition"] for d in letters], [d["offset"] for d in letters])
    done = {(r["dlq_topic"], r["dlq_partition"], r["dlq_offset"]): dict(r) for r in rows}
    return [dict(d, action=done.get((d["topic"], d["partition"], d["offset"]))) for d in letters]


async def recent_actions(pool: asyncpg.Pool, limit: int = 50) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM dead_letter_actions ORDER BY acted_at DESC LIMIT $1", limit)
    return [dict(r) for r in rows]


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # Idempotent and acks=all: a re-driven copy is written once, or the action rolls back.
    return AIOKafkaProducer(**kafka_client_args(settings), client_id="pars-ops", acks="all", enable_idempotence=True)
