"""`python -m bench boards [--records N] [--repeat R]`: the board router's and board-sim's batch handlers alone,
in process.

N RecordSubmitted events (the demo world's physicians and their boards, built with shared.events and encoded as
the outbox sends them) go, in batches of the consumer's `max_records`, through three hops, each decoded the way
its consumer decodes it (counted: it runs in the service's process) and handled against schemas of their own on
the shared PostgreSQL: the router turns them into board requests, board-sim judges those (boards answering at
once), and the router turns the verdicts into record events. Kafka is a stand-in that keeps the rows each hop
publishes for the next. Each repetition starts from empty tables; the run that cost least is printed per hop,
CPU µs per record in this process (the service's share) and in PostgreSQL, with the outcomes, so two versions
of the code can be checked to decide alike. The records' ids are the same on every run (`--seed`), so the md5 of
what each hop published (ids drawn afresh and times masked) and of the router's rows tells whether two versions
wrote the same bytes.
"""

import argparse
import asyncio
import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg

from bench.stack import cpu_seconds
from board_router.events import decode_record_event, decode_verdict
from board_router.handlers import Router
from board_router.storage import RouterStorage
from board_router.world import load_world as load_router_world
from board_sim.handlers import BoardDesk
from board_sim.requests import decode_request
from board_sim.storage import DeskStorage
from board_sim.world import load_world as load_sim_world
from pars_cli.generate import generate_world
from shared.boards import shipped_boards
from shared.consumer import Delivery
from shared.db import create_pool, migrate
from shared.events import LearnerRecord, RecordSubmitted, Target
from shared.ids import repeatable_ids
from shared.logging import configure_logging
from shared.outbox import Outbox, OutboxRow, OutboxWriter, event_message
from shared.service_registry import BOARD_ROUTER, BOARD_SIM
from shared.settings import Settings
from shared.topics import RECORD_EVENTS
from tests.support import drop_namespaces, unique_namespace

BATCH = 500  # the consumers' max_records (shared.consumer.subscribe_batches)


def submitted_events(settings: Settings, count: int, seed: int) -> list[bytes]:
    world = generate_world(providers=2, activities=20, physicians=2000, seed=3)
    boards = {code for code, b in shipped_boards().items() if b.kind == "moc" and b.needs_board}
    learners = [(p, c) for p in world.physicians for c in p.certifications if c.board in boards]
    activities = [a for a in world.activities if a.moc]
    new_id = repeatable_ids(seed, datetime(2026, 11, 2, 9, tzinfo=UTC)).__next__  # the same ids in every run

    topic, submission_id = settings.topic(RECORD_EVENTS.name), new_id()
    values = []
    for i in range(count):
        physician, cert = learners[i % len(learners)]
        activity = activities[i % len(activities)]
        record = LearnerRecord(
            record_id=new_id(), submission_id=submission_id, provider_id=activity.provider_id, channel="batch",
            credit_id=f"ccid:{i}", activity_id=activity.id, first_name=physician.first_name,
            last_name=physician.last_name, dob=physician.dob, completion_date=date(2026, 11, 2),
            target=Target(kind="moc", code=cert.board), learner_id=cert.id, credits=Decimal("1.25"),
            credit_types={"Medical Knowledge": Decimal("1.25")}, activity_max_credits=Decimal(10),
            batch_id=submission_id, row_number=i + 2)
        event = RecordSubmitted(event_id=new_id(), record=record, correlation_id=f"batch:{submission_id}",
                                provider_id=record.provider_id, record_id=record.record_id,
                                submission_id=submission_id)
        values.append(event_message(topic, event, str(record.record_id)).value)
    return values


class Kafka:
    """Kafka's stand-in: keeps each published row, for the next hop and for an md5 of what the hop published."""

    def __init__(self) -> None:
        self.published: list[OutboxRow] = []

    async def __call__(self, rows: Sequence[OutboxRow]) -> None:
        self.published += rows

    @property
    def rows(self) -> list[tuple[str, bytes]]:
        return [(r.topic, r.value) for r in self.published]

    def md5(self) -> str:
        """Of the rows published, whatever the order the writers' publishing tasks sent them in (not timed)."""
        digests = []
        for r in self.published:
            topic = r.topic.split(".", 1)[1]  # without the run's namespace
            headers = {k: v for k, v in r.headers.items() if k not in _FRESH_HEADERS}
            row = b"%s|%s|%s|%s" % (topic.encode(), r.key or b"", json.dumps(headers).encode(),
                                    _FRESH.sub(rb'"\1":"-"', r.value))
            digests.append(hashlib.md5(row, usedforsecurity=False).digest())
        return hashlib.md5(b"".join(sorted(digests)), usedforsecurity=False).hexdigest()


# What differs from run to run in the same messages: ids drawn afresh (new_id) and times; other ids derive from these.
_FRESH = re.compile(rb'"(event_id|occurred_at)":"[^"]*"')
_FRESH_HEADERS = {"event_id", "traceparent"}
# The router's rows, as they decide what it does next: the times aside.
_ROUTER_ROWS = (
    "SELECT md5(string_agg(record_id::text || board || record::text, ',' ORDER BY record_id)) FROM routed_records",
    "SELECT md5(string_agg(concat_ws('|', request_id, record_id, board, action, correlation_id, provider_id,"
    " settled_at IS NULL, verdict_id, attempts), ',' ORDER BY request_id)) FROM requests",
)


async def backends(pool: asyncpg.Pool, size: int) -> list[int]:
    held = [await pool.acquire() for _ in range(size)]
    pids = [await c.fetchval("SELECT pg_backend_pid()") for c in held]
    for c in held:
        await pool.release(c)
    return pids


async def timed(handle: Callable[[list[Delivery]], Awaitable[None]], decode: Callable[[bytes], object],
                values: list[bytes], pids: list[int]) -> tuple[float, float]:
    """CPU seconds (this process, PostgreSQL) to decode and handle these messages in consumer-sized batches."""
    pg_before, cpu_before = cpu_seconds({"pg": pids})["pg"], time.process_time()
    for start in range(0, len(values), BATCH):
        await handle([Delivery(decode(v), None) for v in values[start:start + BATCH]])
    return time.process_time() - cpu_before, cpu_seconds({"pg": pids})["pg"] - pg_before


async def run(args: argparse.Namespace) -> None:
    namespace = unique_namespace("bb")
    settings = Settings(namespace=namespace, board_latency_scale=0.0)
    values = submitted_events(settings, args.records, args.seed)
    n = len(values)
    pools = {}
    try:
        world = generate_world(providers=2, activities=20, physicians=2000, seed=3)
        for service in (BOARD_ROUTER, BOARD_SIM):
            schema = settings.schema(service.schema)
            pools[service.name] = await create_pool(settings.database_url, schema, min_size=4, max_size=4)
            await migrate(pools[service.name], schema, service.package)
        await load_router_world(pools[BOARD_ROUTER.name], world)
        await load_sim_world(pools[BOARD_SIM.name], world)
        pids = {name: await backends(pool, 4) for name, pool in pools.items()}
        lowest: dict[str, tuple[float, float]] = {}
        outcomes: Counter[str] = Counter()
        digests: set[str] = set()
        for _ in range(args.repeat):
            await pools[BOARD_ROUTER.name].execute("TRUNCATE routed_records, requests, processed_events, outbox")
            await pools[BOARD_SIM.name].execute(
                "TRUNCATE answers, outbox; DELETE FROM credits WHERE record_id IS NOT NULL")
            figures = {}
            # Hop 1: the router routes submitted records to their boards.
            kafka = Kafka()
            writer = OutboxWriter(pools[BOARD_ROUTER.name], Outbox(settings.schema(BOARD_ROUTER.schema)), kafka)
            router = Router(RouterStorage(pools[BOARD_ROUTER.name], writer), settings)
            figures["router: records"] = await timed(router.on_record_events, decode_record_event,
                                                     values, pids[BOARD_ROUTER.name])
            await writer.stop()
            published = [kafka.md5()]
            # Hop 2: board-sim judges each board's requests.
            by_board: dict[str, list[bytes]] = defaultdict(list)
            for topic, value in kafka.rows:
                by_board[topic].append(value)
            kafka = Kafka()
            writer = OutboxWriter(pools[BOARD_SIM.name], Outbox(settings.schema(BOARD_SIM.schema)), kafka)
            cpu = pg = 0.0
            for topic, requests in by_board.items():
                code = topic.split(".")[-2]
                desk = BoardDesk(code, DeskStorage(pools[BOARD_SIM.name], writer), settings)
                c, p = await timed(desk.on_requests, decode_request, requests,
                                   pids[BOARD_SIM.name])
                cpu, pg = cpu + c, pg + p
            figures["board-sim: requests"] = (cpu, pg)
            await writer.stop()
            published.append(kafka.md5())
            verdicts = [v for _, v in kafka.rows]
            # Hop 3: the router turns verdicts into record events.
            kafka = Kafka()
            writer = OutboxWriter(pools[BOARD_ROUTER.name], Outbox(settings.schema(BOARD_ROUTER.schema)), kafka)
            router = Router(RouterStorage(pools[BOARD_ROUTER.name], writer), settings)
            figures["router: verdicts"] = await timed(router.on_verdicts, decode_verdict,
                                                      verdicts, pids[BOARD_ROUTER.name])
            await writer.stop()
            published.append(kafka.md5())
            rows = [await pools[BOARD_ROUTER.name].fetchval(q) for q in _ROUTER_ROWS]
            digests.add(" ".join(h[:12] for h in published) + "; router rows " + " ".join(h[:12] for h in rows))
            outcomes = Counter(json.loads(v)["event_type"] + "".join(f" {e['code']}" for e in json.loads(v).get(
                "errors", [])) for _, v in kafka.rows)
            print("  run: " + "; ".join(f"{k} {c * 1e6 / n:.0f} + PG {p * 1e6 / n:.0f} µs/record"
                                        for k, (c, p) in figures.items()))
            for k, f in figures.items():
                lowest[k] = min(lowest.get(k, f), f, key=lambda x: x[0])
        print(f"records:   {n:,} RecordSubmitted, batches of {BATCH}, {len(by_board)} boards")
        print(f"outcomes:  {dict(sorted(outcomes.items()))}")
        print(f"md5:       published by each hop {' | '.join(sorted(digests))}")
        print(f"lowest CPU of {args.repeat} runs, µs per record, this process (PostgreSQL):")
        for k, (c, p) in lowest.items():
            print(f"  {k:22} {c * 1e6 / n:6.0f}  ({p * 1e6 / n:.0f})")
    finally:
        for pool in pools.values():
            await pool.close()
        await drop_namespaces(settings.kafka_bootstrap_servers, settings.database_url, [namespace])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench boards", description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12, help="draws the records' ids (and so the md5s)")
    configure_logging("board-router", level="WARNING")
    asyncio.run(run(parser.parse_args(argv)))
