"""Reading messages for operators: the last N of some topics, new ones as they arrive, each shown redacted."""

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from intake.ops.kafka_admin import admin_client, logical, offsets, partitions, reader
from intake.ops.redaction import shown_value
from shared.logging import scrub_error_text
from shared.settings import Settings

READ_WITHIN = 10.0  # seconds; a broker that stops answering mid-read must not hold the request forever
POLL_MS = 1000


async def _assign(settings: Settings, consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    async with admin_client(settings) as admin:
        parts = await partitions(admin, topics)
    tps = [TopicPartition(topic, p) for topic, numbers in parts.items() for p in numbers]
    consumer.assign(tps)
    return tps


async def last_messages(settings: Settings, topics: list[str], limit: int) -> list[ConsumerRecord]:
    """The newest `limit` messages across `topics` (full names) as of now, oldest first."""
    kept: list[ConsumerRecord] = []
    async with reader(settings) as consumer:
        tps = await _assign(settings, consumer, topics)
        first, end = await offsets(consumer, tps)
        for tp in tps:  # no partition can hold more than `limit` of the newest messages
            consumer.seek(tp, max(first[tp], end[tp] - limit))
        async with asyncio.timeout(READ_WITHIN):
            while pending := [tp for tp in tps if await consumer.position(tp) < end[tp]]:
                fetched = await consumer.getmany(*pending, timeout_ms=POLL_MS)
                kept += [r for tp, records in fetched.items() for r in records if r.offset < end[tp]]
    kept.sort(key=lambda r: (r.timestamp, r.topic, r.partition, r.offset))
    return kept[-limit:]


async def follow(settings: Settings, topic: str) -> AsyncGenerator[list[ConsumerRecord], None]:
    """Messages published to `topic` from now on, a poll's worth at a time (empty when none came)."""
    async with reader(settings) as consumer:  # closed however the caller stops iterating
        tps = await _assign(settings, consumer, [topic])
        _, end = await offsets(consumer, tps)
        for tp in tps:
            consumer.seek(tp, end[tp])
        yield []  # positioned: whatever is published from here on comes through
        while True:
            fetched = await consumer.getmany(*tps, timeout_ms=POLL_MS)
            yield sorted((r for records in fetched.values() for r in records), key=lambda r: (r.timestamp, r.offset))


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def view(settings: Settings, record: ConsumerRecord) -> dict[str, Any]:
    """A message as operators see it: where it is, its headers and its value, personal fields redacted."""
    headers = {name: scrub_error_text(_text(value) or "") for name, value in record.headers or ()}
    return {
        "topic": logical(settings, record.topic), "partition": record.partition, "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(),
        "key": _text(record.key), "event_type": headers.get("event_type"), "headers": headers,
        **shown_value(record.value),
    }


def dead_letter_view(settings: Settings, record: ConsumerRecord) -> dict[str, Any]:
    """A dead letter: the message view plus what the DLQ headers say (shared/consumer.py writes them)."""
    shown = view(settings, record)
    h = shown["headers"]
    source = {"topic": logical(settings, h.get("dlq.source.topic", "")) or None,
              "partition": _int(h.get("dlq.source.partition")), "offset": _int(h.get("dlq.source.offset"))}
    service = h.get("dlq.service") or shown["topic"].removeprefix("pars.dlq.")
    return {"service": service, "error": h.get("dlq.error"), "failed_at": h.get("dlq.failed_at"),
            "source": source, **shown}


def _int(text: str | None) -> int | None:
    return int(text) if text and text.lstrip("-").isdigit() else None
