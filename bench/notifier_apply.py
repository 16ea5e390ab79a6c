"""`python -m bench notifier [--records N] [--batch B] [--repeat R]`: the notifier's consumer alone, in process.

The record events of N records as bench/projector_apply.py builds them (validation's RecordSubmitted, every 20th
a RecordRejectedByPars instead, then the board's RecordAccepted or, every 7th, RecordRejected), with the
`event_type` header the outbox gives them, reach the notifier's consumer path in batches of B: the header check
that passes over events it does not read, its decoder for the others, then RejectionCollector. Tables start empty
at each repetition; the best of R is printed with CPU per event (every event of the topic, read or passed over)
in this process and in PostgreSQL, and what was kept.
"""

import argparse
import asyncio
import json
import time
from types import SimpleNamespace

from bench.projector_apply import record_events
from bench.stack import cpu_seconds
from notifier.events import READ, decode_record_event
from notifier.handlers import RejectionCollector
from notifier.storage import NotifierStorage
from shared.consumer import Delivery, event_type_of, event_types
from shared.db import create_pool, migrate
from shared.logging import configure_logging
from shared.service_registry import NOTIFIER
from shared.settings import Settings
from tests.support import drop_namespaces, unique_namespace

# What the digests will hold, so two versions of the code can be checked to keep the same.
CHECKSUM = (
    "SELECT md5(string_agg((j.event_id, j.provider_id, j.record_id, j.board, j.errors, j.occurred_at, j.activity_id,"
    " j.first_name, j.last_name, j.learner_id, j.completion_date)::text, '|' ORDER BY j.event_id)) FROM rejections j"
)


def as_records(values: list[bytes]) -> list[SimpleNamespace]:
    """Each value as the consumer sees it: a record with the outbox's headers."""
    return [SimpleNamespace(value=v, headers=[("event_type", json.loads(v)["event_type"].encode())]) for v in values]


async def apply(args: argparse.Namespace, settings: Settings, records: list[SimpleNamespace]) -> None:
    schema = settings.schema(NOTIFIER.schema)
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=1)
    wanted = event_types(*READ)
    try:
        await migrate(pool, schema, NOTIFIER.package)
        backend = await pool.fetchval("SELECT pg_backend_pid()")
        best: tuple[float, float, float] | None = None
        for _ in range(args.repeat):
            await pool.execute("TRUNCATE records, rejections, processed_events")
            collector = RejectionCollector(NotifierStorage(pool))
            pg_before = cpu_seconds({"pg": [backend]})["pg"]
            cpu_before, began = time.process_time(), time.perf_counter()
            for start in range(0, len(records), args.batch):
                batch = [Delivery(decode_record_event(r.value), r) for r in records[start:start + args.batch]
                         if event_type_of(r) in wanted]  # as shared.consumer's `only`
                await collector.on_record_events(batch)
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_before
            pg = cpu_seconds({"pg": [backend]})["pg"] - pg_before
            n = len(records)
            print(f"  run: {n / seconds:,.0f} events/s, {seconds:.2f} s; CPU {cpu * 1e6 / n:.1f} µs/event here,"
                  f" {pg * 1e6 / n:.1f} µs/event PostgreSQL")
            if best is None or cpu + pg < best[1] + best[2]:
                best = (seconds, cpu, pg)
        assert best is not None
        seconds, cpu, pg = best
        n = len(records)
        kept = await pool.fetchval("SELECT count(*) FROM rejections")
        print(f"events:       {n:,} record events of {args.records:,} records, batches of {args.batch:,}")
        print(f"outcome:      {kept:,} rejections kept, rows md5"
              f" {await pool.fetchval(CHECKSUM)}")
        print(f"best of {args.repeat}:    CPU/event: this process {cpu * 1e6 / n:.1f} µs, PostgreSQL"
              f" {pg * 1e6 / n:.1f} µs ({n / seconds:,.0f} events/s)")
    finally:
        await pool.close()


async def run(args: argparse.Namespace) -> None:
    namespace = unique_namespace("bn")
    settings = Settings(namespace=namespace)
    records = as_records([value for _, value in record_events(settings, args.records)])
    try:
        await apply(args, settings, records)
    finally:
        await drop_namespaces(settings.kafka_bootstrap_servers, settings.database_url, [namespace])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench notifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch (the consumer's max_records)")
    parser.add_argument("--repeat", type=int, default=5)
    configure_logging("notifier", level="WARNING")
    asyncio.run(run(parser.parse_args(argv)))
