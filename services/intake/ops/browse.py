"""Browsing any topic of the stack: from an offset, a time or the newest messages, filtered by key, header or a
field of the event; and one record's story across every topic that mentions it.

Readers never join a group and never commit (kafka_admin.reader). Every read is bounded twice: by `scan` messages
and by READ_WITHIN seconds, so a filter that matches nothing on a big topic answers what it looked at instead of
reading the whole log.
"""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from intake.ops.kafka_admin import admin_client, logical, offsets, partitions, reader
from intake.ops.messages import POLL_MS, READ_WITHIN, view
from shared.service_registry import SERVICE_NAMES
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES, RECORD_EVENTS, SUBMISSIONS, dead_letters

FIELDS = ("record_id", "credit_id", "provider_id", "activity_id")  # the event fields one may filter on
DEPTH = 3  # how deep a field is looked for: an envelope's own, its record's, a target's
STORY_SCAN = 20_000  # messages read per topic for a record's story, newest first


def field_values(value: Any, name: str, depth: int = DEPTH) -> set[str]:
    """Every value `name` has in a decoded message, at its top level or nested up to `depth` levels."""
    if depth < 0:
        return set()
    if isinstance(value, list):
        return set().union(*(field_values(v, name, depth - 1) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = {str(value[name])} if value.get(name) is not None else set()
    return found.union(*(field_values(v, name, depth - 1) for v in value.values() if isinstance(v, dict | list)))


@dataclass(frozen=True)
class Filters:
    key: str | None = None
    header: tuple[str, str | None] | None = None  # a name, and the value it must have (None: present at all)
    fields: dict[str, str] = field(default_factory=dict)  # FIELDS -> the value it must have
    event_type: str | None = None

    @staticmethod
    def parse_header(text: str) -> tuple[str, str | None]:
        name, sep, value = text.partition("=")
        return name.strip(), value if sep else None

    def matches(self, record: ConsumerRecord) -> bool:
        if self.key is not None and (record.key or b"").decode("utf-8", "replace") != self.key:
            return False
        headers = {n: (v or b"").decode("utf-8", "replace") for n, v in record.headers or ()}
        if self.header is not None:
            name, wanted = self.header
            if name not in headers or (wanted is not None and headers[name] != wanted):
                return False
        if not self.fields and self.event_type is None:
            return True
        raw = record.value or b""
        # Cheap first: a value that does not even contain the wanted text is not decoded.
        if any(wanted.encode() not in raw for wanted in self.fields.values()):
            return False
        decoded = _decoded(raw)
        if any(wanted not in field_values(decoded, name) for name, wanted in self.fields.items()):
            return False
        if self.event_type is not None:
            found = headers.get("event_type") or (decoded.get("event_type") if isinstance(decoded, dict) else None)
            return found == self.event_type
        return True


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


@dataclass
class Read:
    messages: list[ConsumerRecord]
    scanned: int
    complete: bool  # every partition read to its end (as of the start) within the budget


async def _read(consumer: AIOKafkaConsumer, start: dict[TopicPartition, int], end: dict[TopicPartition, int],
                keep: Callable[[ConsumerRecord], bool], scan: int) -> Read:
    kept: list[ConsumerRecord] = []
    scanned = 0
    for tp, at in start.items():
        consumer.seek(tp, at)
    pending = [tp for tp in start if start[tp] < end[tp]]
    try:
        async with asyncio.timeout(READ_WITHIN):
            while pending and scanned < scan:
                fetched = await consumer.getmany(*pending, timeout_ms=POLL_MS)
                for tp, records in fetched.items():
                    mine = [r for r in records if r.offset < end[tp]][: scan - scanned]
                    scanned += len(mine)
                    kept += [r for r in mine if keep(r)]
                pending = [tp for tp in pending if await consumer.position(tp) < end[tp]]
    except TimeoutError:
        pass  # answered with what was read: the caller sees it is not complete
    return Read(kept, scanned, not pending)


def _order(record: ConsumerRecord) -> tuple[int, str, int, int]:
    return record.timestamp, record.topic, record.partition, record.offset


async def browse(settings: Settings, topic: str, *, partition: int | None = None, offset: int | None = None,
                 since: datetime | None = None, filters: Filters | None = None, limit: int = 50,
                 scan: int = 10_000) -> dict[str, Any]:
    """Messages of `topic` (full name): from `offset` or `since` on, the first `limit` that match, oldest first; with
    neither, the newest `limit` that match among the newest `scan`. `partition` narrows to one partition."""
    wanted = filters or Filters()
    async with admin_client(settings) as admin:
        parts = (await partitions(admin, [topic])).get(topic, [])
    if partition is not None and partition not in parts:
        raise LookupError(f"partition {partition} is not one of {logical(settings, topic)}'s ({len(parts)})")
    tps = [TopicPartition(topic, p) for p in parts if partition is None or p == partition]
    async with reader(settings) as consumer:
        consumer.assign(tps)
        first, end = await offsets(consumer, tps)
        if offset is not None:
            start = {tp: min(max(offset, first[tp]), end[tp]) for tp in tps}
        elif since is not None:
            found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
            start = {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}
        else:  # the newest: an even share of the scan per partition
            share = max(scan // max(len(tps), 1), 1)
            start = {tp: max(first[tp], end[tp] - share) for tp in tps}
        read = await _read(consumer, start, end, wanted.matches, scan)
    read.messages.sort(key=_order)
    shown = read.messages[-limit:] if offset is None and since is None else read.messages[:limit]
    return {"topic": logical(settings, topic), "partitions": [tp.partition for tp in tps],
            "messages": [view(settings, r) for r in shown], "matched": len(read.messages), "scanned": read.scanned,
            "complete": read.complete}


def story_topics(settings: Settings, existing: list[str]) -> list[str]:
    """The topics a record passes through, as full names that exist: its submission, its events, its board's
    requests and answers, and any dead letter it became."""
    fixed = [SUBMISSIONS.name, RECORD_EVENTS.name, BOARD_RESPONSES.name, *(dead_letters(s).name for s in SERVICE_NAMES)]
    boards = sorted(t for t in existing if t.startswith(settings.topic("pars.board.")) and t.endswith(".requests"))
    wanted = [settings.topic(n) for n in fixed[:3]] + boards + [settings.topic(n) for n in fixed[3:]]
    return [t for t in wanted if t in existing]


async def story(settings: Settings, record_id: str, scan: int = STORY_SCAN) -> dict[str, Any]:
    """Every message that names `record_id` (as its key or a field), across the record's topics, oldest first."""
    async with admin_client(settings) as admin:
        topics = story_topics(settings, await admin.list_topics())
        parts = await partitions(admin, topics)
    tps = [TopicPartition(t, p) for t in topics for p in parts.get(t, [])]
    by_id = Filters(fields={"record_id": record_id})
    as_key = Filters(key=record_id)
    async with reader(settings) as consumer:
        consumer.assign(tps)
        first, end = await offsets(consumer, tps)
        share = {t: max(scan // max(len(parts.get(t, [])), 1), 1) for t in topics}
        start = {tp: max(first[tp], end[tp] - share[tp.topic]) for tp in tps}
        read = await _read(consumer, start, end, lambda r: as_key.matches(r) or by_id.matches(r), scan * len(topics))
    read.messages.sort(key=_order)
    return {"record_id": record_id, "topics": [logical(settings, t) for t in topics],
            "messages": [view(settings, r) for r in read.messages], "scanned": read.scanned,
            "complete": read.complete}
