"""`python -m bench ceiling [--messages N]`: what plain aiokafka moves through the pipeline's hops on this machine.

The ceiling the pipeline's figures are measured against, on the same broker and in the same run: one process per
hop, as the services are, and the same hops a kept MOC record takes (intake → validation → router → board →
router → projector). Every hop is a consumer group member that decodes each message's JSON, adds a field,
encodes it and produces it on (acks=all, idempotent producer, the pipeline's batch and linger settings), then
commits its offsets once the batch's sends are acknowledged, as the services do. No database, no rules: what
remains is the cost of Kafka and of the JSON at each hop.

`--writes` adds what the design's delivery rules ask of a hop that keeps state (DESIGN.md: offsets committed once
the work is durable, every write keyed so a redelivery is a no-op, an outbox or Kafka transactions for what it
publishes), still without rules: `inbox`: each batch in one PostgreSQL transaction that claims every message's
event_id (a primary key) and upserts one state row per record (jsonb, keyed by record_id: the router's second pass
updates the row its first inserted), publishing after the commit; `outbox`: that, and the batch's messages kept as
outbox rows in the same transaction and deleted once Kafka acknowledged them. What the pipeline's design costs at
the least on this machine, beside what Kafka alone costs.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Any, Literal, cast

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.ids import new_id
from shared.settings import Settings
from tests.support import drop_namespaces_now, unique_namespace

PARTITIONS = 6  # as the registry's record topics
# A submission about the size of the pipeline's SubmitRecord (one MOC target), so bytes per message compare.
SAMPLE: dict[str, Any] = {
    "event_type": "SubmitRecord", "event_id": "", "correlation_id": "", "provider_id": "0008001",
    "record": {"record_id": "", "submission_id": "", "provider_id": "0008001", "channel": "api", "action": "Add",
               "credit_id": "ccid:bench:0", "activity_id": "210016865", "first_name": "Harper",
               "last_name": "Benton", "dob": "11/11", "npi": None, "medical_school": None,
               "completion_date": "2021-11-02", "target": {"kind": "moc", "code": "ABOHNS"},
               "learner_id": "19927", "credits": "8",
               "credit_types": [{"name": "Self-Assessment", "points": "8"}, {"name": "Patient Safety", "points": "1"}],
               "rems": None},
}


@dataclass(frozen=True)
class Hop:
    """One process: what it reads, and where each event type it reads goes next (None: the end of the line)."""

    name: str
    reads: tuple[str, ...]
    routes: dict[str, tuple[str, str] | None]  # event_type in -> (topic out, event_type out)


HOPS = (
    Hop("validation", ("submissions",), {"SubmitRecord": ("record-events", "RecordSubmitted")}),
    Hop("router", ("record-events", "board-responses"),
        {"RecordSubmitted": ("board-requests", "ProcessBoardRequest"),
         "BoardVerdict": ("record-events", "RecordAccepted")}),
    Hop("board", ("board-requests",), {"ProcessBoardRequest": ("board-responses", "BoardVerdict")}),
    Hop("projector", ("record-events",), {"RecordSubmitted": None, "RecordAccepted": None}),
)
TOPICS = ("submissions", "record-events", "board-requests", "board-responses")
SETTLED = "RecordAccepted"  # the event that ends a record's way through the chain
Writes = Literal["none", "inbox", "outbox"]
WRITES: tuple[Writes, ...] = ("none", "inbox", "outbox")
# Each hop's tables, in a schema of its own (as each service has), like the services' processed_events and outbox.
SCHEMA = """
CREATE SCHEMA IF NOT EXISTS "{schema}";
SET search_path TO "{schema}";
CREATE TABLE processed_events (event_id uuid PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE state (record_id uuid PRIMARY KEY, body jsonb NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE outbox (id bigserial PRIMARY KEY, topic text NOT NULL, key bytea, value bytea NOT NULL);
"""
CLAIM = "INSERT INTO processed_events (event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id"
KEEP_STATE = ("INSERT INTO state (record_id, body, updated_at) SELECT s.id, s.body::jsonb, now()"
              " FROM unnest($1::uuid[], $2::text[]) AS s(id, body)"
              " ON CONFLICT (record_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at")
KEEP_OUTBOX = ("INSERT INTO outbox (topic, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])"
               " RETURNING id")


class _Store:
    """A hop's PostgreSQL part (`--writes`): one transaction a batch, and the outbox rows' deletes after the sends."""

    def __init__(self, conn: asyncpg.Connection, writes: Writes) -> None:
        self._conn, self._writes = conn, writes

    @classmethod
    async def open(cls, database_url: str, schema: str, writes: Writes) -> "_Store":
        conn = await asyncpg.connect(database_url)
        await conn.execute(SCHEMA.format(schema=schema))
        return cls(conn, writes)

    async def keep(self, claims: list[uuid.UUID], states: list[tuple[uuid.UUID, str]],
                   sends: list[tuple[str, bytes | None, bytes]]) -> tuple[set[uuid.UUID], list[int]]:
        """The event ids claimed now (a redelivered one is not), and the outbox rows kept for `sends`."""
        async with self._conn.transaction():
            claimed = {r["event_id"] for r in await self._conn.fetch(CLAIM, claims)}
            await self._conn.execute(KEEP_STATE, [i for i, _ in states], [b for _, b in states])
            kept = [] if self._writes != "outbox" or not sends else [r["id"] for r in await self._conn.fetch(
                KEEP_OUTBOX, [t for t, _, _ in sends], [k for _, k, _ in sends], [v for _, _, v in sends])]
        return claimed, kept

    async def sent(self, kept: list[int]) -> None:
        if kept:
            await self._conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", kept)

    async def close(self) -> None:
        await self._conn.close()


def _producer(servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=5,
                            max_batch_size=512 * 1024)


async def _run_hop(hop: Hop, servers: str, namespace: str, expected: int, ready: Event, done: Event,
                   writes: Writes = "none", database_url: str = "") -> None:
    consumer = AIOKafkaConsumer(*(f"{namespace}.{t}" for t in hop.reads), bootstrap_servers=servers,
                                group_id=f"{namespace}.{hop.name}", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=1000)
    producer = _producer(servers)
    store = None if writes == "none" else await _Store.open(database_url, f"{namespace}_{hop.name}", writes)
    await consumer.start()
    await producer.start()
    settled = 0
    try:
        for _ in range(2400):  # the group join, up to 2 minutes: then measure() gives up
            if consumer.assignment():
                ready.set()
                break
            await asyncio.sleep(0.05)
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            events = [(json.loads(record.value), record.key) for records in batches.values() for record in records]
            events = [(event, key) for event, key in events if event["event_type"] in hop.routes]
            sends = [_next(hop, event, namespace, key, fresh_id=store is not None) for event, key in events]
            kept: list[int] = []
            if store is not None and events:
                claimed, kept = await store.keep(
                    [uuid.UUID(event["event_id"]) for event, _ in events],
                    [(uuid.UUID(event["record"]["record_id"]), json.dumps(event["record"])) for event, _ in events],
                    [send for send in sends if send is not None])
            # A redelivered message (its event_id claimed before) is sent on again but settles nothing twice.
            fresh = [True] * len(events) if store is None or not events else [
                uuid.UUID(event["event_id"]) in claimed for event, _ in events]
            pending = []
            for (event, _), send, new in zip(events, sends, fresh, strict=True):
                if send is None:
                    settled += new and event["event_type"] == SETTLED
                else:
                    pending.append(await producer.send(send[0], send[2], key=send[1]))
            if pending:
                await asyncio.gather(*pending)
            if store is not None:
                await store.sent(kept)
            if batches:
                await consumer.commit()
            if expected and settled >= expected:
                done.set()
    finally:
        await producer.stop()
        await consumer.stop()
        if store is not None:
            await store.close()


def _next(hop: Hop, event: dict[str, Any], namespace: str, key: bytes | None,
          fresh_id: bool) -> tuple[str, bytes | None, bytes] | None:
    """What the hop sends on for `event`: (topic, key, value), or None at the end of the line. `fresh_id`: the event
    sent on gets an event_id of its own, which the next hop's inbox claims."""
    route = hop.routes[event["event_type"]]
    if route is None:
        return None
    topic, event_type = route
    sent = {**event, hop.name: time.time(), "event_type": event_type}  # the field each hop adds
    if fresh_id:
        sent["event_id"] = str(new_id())
    return f"{namespace}.{topic}", key, json.dumps(sent).encode()


def _hop_process(hop: Hop, servers: str, namespace: str, expected: int, ready: Event, done: Event, writes: Writes,
                 database_url: str) -> None:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # group joins and leaves say nothing worth printing
    asyncio.run(_run_hop(hop, servers, namespace, expected, ready, done, writes, database_url))


async def _create_topics(servers: str, namespace: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{namespace}.{t}", PARTITIONS, 1) for t in TOPICS])
    finally:
        await admin.close()


async def _send(servers: str, namespace: str, count: int) -> None:
    producer = _producer(servers)
    await producer.start()
    try:
        pending = []
        for i in range(count):
            event = {**SAMPLE, "event_id": str(new_id()),
                     "record": {**SAMPLE["record"], "record_id": str(new_id()), "credit_id": f"ccid:bench:{i}"}}
            pending.append(await producer.send(f"{namespace}.submissions", json.dumps(event).encode(),
                                               key=f"0008001:ccid:bench:{i}".encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def measure(settings: Settings, messages: int, writes: Writes = "none") -> float:
    """Records per second through the whole chain, first send to last record settled at the projector; `writes`:
    what each hop keeps in PostgreSQL (the module's docstring)."""
    namespace = unique_namespace("ceiling")
    servers = settings.kafka_bootstrap_servers
    asyncio.run(_create_topics(servers, namespace))
    spawn = multiprocessing.get_context("spawn")
    done = spawn.Event()
    readies = [spawn.Event() for _ in HOPS]
    processes = [spawn.Process(target=_hop_process, daemon=True,
                               args=(hop, servers, namespace, messages if hop.name == "projector" else 0, ready,
                                     done, writes, settings.database_url))
                 for hop, ready in zip(HOPS, readies, strict=True)]
    try:
        for process in processes:
            process.start()
        for ready in readies:
            if not ready.wait(120):
                raise SystemExit("the ceiling's consumers did not join their groups within 120 s")
        began = time.perf_counter()
        asyncio.run(_send(servers, namespace, messages))
        if not done.wait(600):
            raise SystemExit("the ceiling's chain did not settle every message within 600 s")
        return messages / (time.perf_counter() - began)
    finally:
        done.set()
        for process in processes:
            process.join(15)
            if process.is_alive():
                process.kill()
        drop_namespaces_now(servers, settings.database_url)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ceiling", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--writes", default="none",
                        help=f"what each hop keeps in PostgreSQL, one or several of {', '.join(WRITES)} (in turn)")
    parser.add_argument("--rounds", type=int, default=1, help="each --writes this many times, in turn")
    args = parser.parse_args(argv)
    chosen = args.writes.split(",")
    if unknown := [w for w in chosen if w not in WRITES]:
        parser.error(f"--writes: unknown {', '.join(unknown)}")
    for round_ in range(args.rounds):
        for writes in chosen:
            rate = measure(Settings(), args.messages, cast(Writes, writes))
            print(f"ceiling (plain aiokafka, {len(HOPS)} hop processes, writes: {writes}): {rate:.0f} records/s end "
                  f"to end ({args.messages} records, round {round_ + 1})", flush=True)
