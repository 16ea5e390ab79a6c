"""`python -m bench growth [--max N] [--records B] [--repeat R] [--queries Q] [--rebuild-events E]`: does the cost
per record stay flat as the projection grows from 10,000 to 1,000,000 records?

The projection (a schema of its own, dropped after) is grown by SQL to each size: records spread over 997
providers and 20,000 activities, two timeline events per record, a PARS rejection per 20 records. One provider
(OWN) has the same 2,000 records over 40 activities at every size, so its pages cost what they cost whatever
the others hold. At each size, in process, best of R:

- **apply**: B records' lives as the topic tells them (bench/projector_apply.py's events, decoded as the
  consumer decodes them) through the projector's batch handler in batches of 1,000; CPU µs per event in this
  process and in its PostgreSQL backend (the scheduler's nanoseconds, /proc/PID/schedstat), and the WAL it wrote
  (bytes per event, from the cluster's WAL position: other sessions' writes would count). The batch's rows are
  deleted (and vacuumed) after each run, so every run meets the same tables; each run's records are new ones, with
  ids of their own, as new records are (the same ids again would find the pages the run before had warmed).
- **queries**: intake's own reads for OWN, Q times each: the record list's first page (newest first, with its
  total) and the Learner Summary by Activity's first page; CPU µs per query here and in PostgreSQL, and the wall
  time.

Then `pars projection rebuild` (projector/rebuild.py, as the command runs it) over E events put on a topic of this
run's own: events/s, CPU µs per event here and in all of PostgreSQL (other sessions' work included). RSS: this
process's resident memory after each size and its peak (VmHWM).
"""

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.projector_apply import postgresql_cpu, record_events
from bench.stack import cpu_seconds, memory_mb
from intake.activities.queries import summary
from intake.keys import Principal
from intake.records.queries import list_records, record_filters
from projector.events import decode_record_event
from projector.handlers import Projector
from projector.rebuild import rebuild
from projector.storage import SqlProjection, Tables, active_tables
from shared.consumer import Delivery
from shared.db import create_pool, migrate, quote_schema
from shared.kafka import ensure_topics, kafka_client_args
from shared.logging import configure_logging
from shared.service_registry import PROJECTOR
from shared.settings import Settings
from shared.topics import RECORD_EVENTS
from tests.support import drop_namespaces, unique_namespace

SIZES = (10_000, 100_000, 1_000_000)
OWN, OWN_RECORDS, OWN_ACTIVITIES = "0007777", 2000, 40
CONSUMER_BATCH = 1000
GROW_STEP = 100_000  # records per INSERT while growing: a progress line each, no transaction of a million rows

_ACTIVITIES = """
INSERT INTO activities (id, provider_id, title, format, start_date, end_date)
SELECT CASE WHEN i <= $1 THEN (310000000 + i)::text ELSE (210000000 + i)::text END,
       CASE WHEN i <= $1 THEN $2 ELSE lpad((10000 + i % 997)::text, 7, '0') END,
       'Activity ' || i, 'Course', date '2021-01-01', date '2021-12-31'
FROM generate_series(1, 20000) AS i
"""
# A time-ordered id made at {at} (shared/ids.py: 48 bits of milliseconds, then version 7 and random bits), as the
# services make them: the projection grown here has the shape theirs would.
_ID_AT = ("encode(set_byte(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send((extract(epoch FROM {at})"
          " * 1000)::bigint) FROM 3) FROM 1 FOR 6), 6, 112 + (random() * 15)::int), 'hex')::uuid")
# Rows i in ($1, $2]: the first OWN_RECORDS are OWN's ($3, $4 its activities); the others spread like bench/queries.
_GROW = """
WITH r AS (
    INSERT INTO {records} (record_id, submission_id, provider_id, credit_id, activity_id, target_kind, board,
                           first_name, last_name, dob, learner_id, completion_date, submitted_at, credits,
                           credit_types, status, errors, deleted, updated_at)
    SELECT {record_id}, {record_id},
           CASE WHEN i <= $3 THEN $5 ELSE lpad((10000 + i % 997)::text, 7, '0') END, 'ccid:' || i,
           CASE WHEN i <= $3 THEN (310000001 + i % $4)::text ELSE (210000041 + i % 19960)::text END, 'moc',
           (ARRAY['ABOHNS','ABA','ABIM','ABS','ABO'])[1 + i % 5], 'F' || i % 977, 'Last' || i % 5003, '01/01',
           (i % 100000)::text, date '2021-01-01' + (i % 365), timestamptz '2021-01-01' + i * interval '1 second',
           1, '{{}}'::jsonb, (ARRAY['Submitted','Accepted','Rejected','Delete Submitted'])[1 + i % 4], '[]'::jsonb,
           i % 50 = 0, now()
    FROM generate_series($1 + 1, $2) AS i
    RETURNING record_id, submitted_at, status
), rejected AS (
    INSERT INTO {rejections} (record_id, submission_id, provider_id, credit_id, activity_id, target_kind, board,
                              first_name, last_name, dob, learner_id, completion_date, errors, rejected_at)
    SELECT {record_id}, {record_id}, lpad((10000 + i % 997)::text, 7, '0'), 'ccid:x' || i,
           (210000041 + i % 19960)::text, 'moc', 'ABA', 'F', 'Last', '01/01', '1', date '2021-06-01',
           '[{{"code": "690"}}]'::jsonb, now()
    FROM generate_series($1 + 1, $2) AS i WHERE i % 20 = 0
)
INSERT INTO {events} (event_id, record_id, event_type, occurred_at, payload)
SELECT {event_id}, record_id, kind, submitted_at, '{{}}'::json
FROM r CROSS JOIN (VALUES ('RecordSubmitted'), ('RecordAccepted')) AS k(kind)
"""


async def grow(pool: asyncpg.Pool, tables: Tables, have: int, want: int) -> None:
    sql = _GROW.format(records=tables.records, rejections=tables.rejections, events=tables.events,
                       record_id=_ID_AT.format(at="timestamptz '2021-01-01' + i * interval '1 second'"),
                       event_id=_ID_AT.format(at="submitted_at"))
    for start in range(have, want, GROW_STEP):
        began = time.perf_counter()
        await pool.execute(sql, start, min(start + GROW_STEP, want), OWN_RECORDS, OWN_ACTIVITIES, OWN)
        print(f"  grown to {min(start + GROW_STEP, want):,} records ({time.perf_counter() - began:.1f} s)")
    began = time.perf_counter()
    await pool.execute(f"VACUUM ANALYZE {', '.join(tables.all)}")  # as autovacuum leaves a table that stopped growing
    print(f"  vacuum analyze {time.perf_counter() - began:.1f} s")


def backend_cpu(pid: int) -> float:
    """CPU-seconds a process has run: the scheduler's nanoseconds (/proc/PID/schedstat) where the kernel keeps them,
    else /proc/PID/stat's 10 ms ticks, coarse next to a run's ~0.1 s of PostgreSQL."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return cpu_seconds({"pg": [pid]})["pg"]


class Meter:
    """CPU-seconds of this process and of the pool's one PostgreSQL backend, around a piece of work."""

    def __init__(self, backend: int) -> None:
        self.backend = backend

    async def measure(self, work: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
        pg_before = backend_cpu(self.backend)
        cpu_before, began = time.process_time(), time.perf_counter()
        await work()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_before
        return seconds, cpu, backend_cpu(self.backend) - pg_before


def best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return min(runs, key=lambda run: run[1] + run[2])  # least CPU: the run others' work disturbed least


async def applying(pool: asyncpg.Pool, meter: Meter, tables: Tables, runs_of_events: list[list[tuple[bytes, bytes]]],
                   ) -> tuple[tuple[float, float, float], float]:
    """The best run's (seconds, CPU here, CPU in PostgreSQL), and the WAL bytes an event wrote in it. Each run has
    records of its own, as new records come with new ids: the same ids again would find the pages the run before
    warmed (the rows are deleted, and vacuumed, after each run, so every run meets the same tables)."""
    projector, runs = Projector(SqlProjection(pool)), []
    for events in runs_of_events:
        values, record_ids = [value for _, value in events], list({uuid.UUID(key.decode()) for key, _ in events})

        async def apply_all(values: list[bytes] = values) -> None:
            for start in range(0, len(values), CONSUMER_BATCH):
                await projector.on_record_events(
                    [Delivery(decode_record_event(v), None) for v in values[start:start + CONSUMER_BATCH]])

        wal_before = await pool.fetchval("SELECT pg_current_wal_lsn()")
        measured = await meter.measure(apply_all)
        wal = await pool.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)", wal_before)
        runs.append((measured, float(wal) / len(values)))
        async with pool.acquire() as conn, conn.transaction():  # back to the size measured: the batch's rows go
            for table in tables.all:
                await conn.execute(f"DELETE FROM {table} WHERE record_id = ANY($1::uuid[])", record_ids)
        await pool.execute(f"VACUUM {', '.join(tables.all)}")
    return min(runs, key=lambda run: run[0][1] + run[0][2])  # least CPU, as `best`


async def querying(pool: asyncpg.Pool, meter: Meter, schema: str, count: int,
                   repeat: int) -> dict[str, tuple[float, float, float]]:
    principal = Principal("provider", OWN)
    no_filters: dict[str, Any] = dict.fromkeys(("activity_id", "status", "board", "name", "learner_id",
                                                "completed_from", "completed_to"))
    where, args = record_filters(principal, **no_filters)
    summary_where, summary_args = record_filters(principal, **no_filters, with_provider=False)
    quoted = quote_schema(schema)

    async def record_list() -> None:
        for _ in range(count):
            total, rows = await list_records(pool, quoted, where, args, sort="-submission", page=1, per_page=50)
            assert total > 0 and len(rows) == 50

    async def activity_summary() -> None:
        for _ in range(count):
            total, rows = await summary(pool, quoted, principal, summary_where, summary_args, format=None,
                                        text=None, sort="id", page=1, per_page=50)
            assert total == OWN_ACTIVITIES and len(rows) == OWN_ACTIVITIES

    return {name: best([await meter.measure(work) for _ in range(repeat)])
            for name, work in (("record list, first page", record_list),
                               ("learner summary by activity", activity_summary))}


async def rebuilding(settings: Settings, events: int) -> tuple[float, float, float, int]:
    """Put `events` distinct events on the run's own topic (built and sent in chunks, so none is held long), then
    time the rebuild over them."""
    await ensure_topics(settings, [RECORD_EVENTS])
    topic, sent, chunk, began = settings.topic(RECORD_EVENTS.name), 0, 0, time.perf_counter()
    producer = AIOKafkaProducer(**kafka_client_args(settings), linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        while sent < events:
            chunk += 1
            built = record_events(settings, 10_000, seed=1000 + chunk)[:events - sent]
            await asyncio.gather(*[await producer.send(topic, value, key=key) for key, value in built])
            sent += len(built)
    finally:
        await producer.stop()
    print(f"  {sent:,} events on the topic ({time.perf_counter() - began:.0f} s to build and send)")
    pg_before, cpu_before, began = postgresql_cpu(), time.process_time(), time.perf_counter()
    report = await rebuild(settings)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_before
    await asyncio.sleep(0.5)  # the rebuild's backends have exited: the server reaps them and counts their CPU
    return seconds, cpu, postgresql_cpu() - pg_before, report.events


def ratio(last: float, first: float) -> str:
    return f"{last / first:.2f}×" if first else "-"


async def run(args: argparse.Namespace) -> None:
    sizes = [size for size in SIZES if size <= args.max] or [args.max]
    settings = Settings(namespace=unique_namespace("bg"))
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema, min_size=1, max_size=1)  # one backend to measure
    runs_of_events = [record_events(settings, args.records, seed=12 + run) for run in range(args.repeat)]
    rows: dict[str, list[float]] = {}
    rebuilt, buffers, peak_before_rebuild = None, "?", 0.0
    try:
        await migrate(pool, schema, PROJECTOR.package)
        async with pool.acquire() as conn:
            meter = Meter(await conn.fetchval("SELECT pg_backend_pid()"))
            tables = await active_tables(conn)
        await pool.execute(_ACTIVITIES, OWN_ACTIVITIES, OWN)
        buffers = await pool.fetchval("SHOW shared_buffers")  # past it, index pages come from the OS's cache
        have = 0
        for size in sizes:
            print(f"{size:,} records:")
            await grow(pool, tables, have, size)
            have = size
            (seconds, cpu, pg), wal = await applying(pool, meter, tables, runs_of_events)
            n = len(runs_of_events[0])
            print(f"  apply {n:,} events: {cpu * 1e6 / n:.1f} + {pg * 1e6 / n:.1f} µs/event (here + PostgreSQL),"
                  f" {n / seconds:,.0f} events/s, {wal:,.0f} bytes of WAL/event")
            rows.setdefault("apply, µs CPU/event here", []).append(cpu * 1e6 / n)
            rows.setdefault("apply, µs CPU/event PostgreSQL", []).append(pg * 1e6 / n)
            rows.setdefault("apply, bytes of WAL/event", []).append(wal)
            for name, (seconds, cpu, pg) in (await querying(pool, meter, schema, args.queries,
                                                            args.repeat)).items():
                q = args.queries
                print(f"  {name}: {cpu * 1e6 / q:.0f} + {pg * 1e6 / q:.0f} µs/query, {seconds * 1e3 / q:.2f} ms")
                rows.setdefault(f"{name}, µs CPU/query (both)", []).append((cpu + pg) * 1e6 / q)
                rows.setdefault(f"{name}, ms wall", []).append(seconds * 1e3 / q)
            rows.setdefault("RSS of this process, MB", []).append(memory_mb())
            size_sql = "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest($1::text[]) AS t"
            rows.setdefault("projection tables and indexes, MB", []).append(
                await pool.fetchval(size_sql, list(tables.all)) / 2**20)
        peak_before_rebuild = memory_mb(field="VmHWM")
        if args.rebuild_events:
            print(f"rebuild over {args.rebuild_events:,} events:")
            rebuilt = await rebuilding(settings, args.rebuild_events)
    finally:
        await pool.close()
        await drop_namespaces(settings.kafka_bootstrap_servers, settings.database_url, [settings.namespace])
    width = max(len(name) for name in rows)
    print(f"\n{'records in the projection':{width}}" + "".join(f"{size:>12,}" for size in sizes)
          + f"{sizes[-1] // sizes[0]:>9,}×/1×")
    for name, figures in rows.items():
        print(f"{name:{width}}" + "".join(f"{f:>12,.1f}" for f in figures) + f"{ratio(figures[-1], figures[0]):>12}")
    if rebuilt is not None:
        seconds, cpu, pg, replayed = rebuilt
        print(f"pars projection rebuild: {replayed:,} events in {seconds:.1f} s, {replayed / seconds:,.0f} events/s"
              f" (target 50,000); CPU {cpu * 1e6 / replayed:.1f} µs/event here, {pg * 1e6 / replayed:.1f} in all of"
              " PostgreSQL (others' work included)")
    print(f"peak RSS of this process: {peak_before_rebuild:,.0f} MB before the rebuild, "
          f"{memory_mb(field='VmHWM'):,.0f} MB with it; PostgreSQL's shared_buffers: {buffers}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench growth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max", type=int, default=SIZES[-1], help="largest projection (sizes 10k, 100k, 1M)")
    parser.add_argument("--records", type=int, default=2000, help="records whose events are applied at each size")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200, help="calls of each query per measurement")
    parser.add_argument("--rebuild-events", type=int, default=None,
                        help="events the rebuild reads (default: 1,000,000, or --max if smaller; 0: no rebuild)")
    args = parser.parse_args(argv)
    if args.rebuild_events is None:
        args.rebuild_events = min(args.max, 1_000_000)
    configure_logging("projector", level="WARNING")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
