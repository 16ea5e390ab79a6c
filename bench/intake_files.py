"""`python -m bench.intake_files [--files 4] [--rows 5000] [--runs 3]`: intake's part of a batch upload, in
process and without servers: one 5,000-row Template B xlsx parsed, its submissions built and its rows made
ready for COPY (what `POST /v1/batches` does before its transaction), timed best of N; then a fresh process
doing the same for several files at once, one thread each (as intake parses off its event loop), and its
peak RSS (VmHWM) above what the process held before the files came. The part of issue 12's "intake ≤ 200 MB
RSS while four files parse" that these files cost, free of other sessions' load."""

import argparse
import contextlib
import inspect
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.files import provider_file, suite_world
from bench.stack import memory_mb
from shared.world import World


def world_and_files(count: int, rows: int) -> tuple[World, list[tuple[str, bytes]]]:
    world = suite_world(max(4, count))
    return world, [provider_file(world, index, rows) for index in range(count)]


def _collector_held() -> Any:
    """shared.collector's hold, or None in the code before it."""
    try:
        from shared.collector import collector_held
    except ImportError:
        return None
    return collector_held


def intake_work(provider: str, content: bytes) -> int:
    """What the upload handler does to a file before its transaction, kept alive until all of it exists."""
    from intake.batches import service
    from shared.settings import Settings

    batch_id, settings = uuid.uuid4(), Settings()
    if hasattr(service, "parse_to_queue"):
        parse_to_queue = service.parse_to_queue
        if held := _collector_held():  # intake's parse holds the collector off (since 2026-12-05)
            parse_to_queue = held()(parse_to_queue)
        parsed = parse_to_queue(settings, "bench.xlsx", content, provider, batch_id)
        messages = [r.message for row in parsed.rows for r in row.records]
        rows = [(batch_id, row.number, row.cells) for row in parsed.rows]
        records = [(r.record_id, batch_id, row.number, r.target, r.own_cells)
                   for row in parsed.rows for r in row.records]
    else:  # the code before parse_to_queue: what accept_batch and save_batch built
        from intake.submitting.messages import submission
        whole = service.parse("bench.xlsx", content, provider, batch_id)
        messages = [submission(settings, r.record, str(batch_id)) for row in whole.rows for r in row.records]
        rows = [(batch_id, row.number, tuple(row.cells)) for row in whole.rows]
        records = [(r.record.record_id, batch_id, row.number, r.record.target.code, tuple(sorted(r.own_cells)))
                   for row in whole.rows for r in row.records]
    return len(rows) + len(records) + len(messages)


@contextlib.contextmanager
def _collector_time() -> Iterator[list[float]]:
    """CPU seconds the cyclic garbage collector spends meanwhile (gc.callbacks), in a one-item list."""
    import gc

    spent, began = [0.0], [0.0]

    def timed(phase: str, _: dict) -> None:
        if phase == "start":
            began[0] = time.process_time()
        else:
            spent[0] += time.process_time() - began[0]

    gc.callbacks.append(timed)
    try:
        yield spent
    finally:
        gc.callbacks.remove(timed)


def child(count: int, rows: int) -> None:
    """Runs in a fresh process: files made, then parsed at once; prints the peak above the files' own bytes."""
    import gc

    _, files = world_and_files(count, rows)
    intake_work(*world_and_files(1, 20)[1][0])  # imports and first-call caches before the baseline
    gc.collect()
    # Lower the high-water mark to the present RSS so the peak is this step's (Linux: clear_refs 5).
    Path("/proc/self/clear_refs").write_text("5")
    base = memory_mb()
    threads = [threading.Thread(target=intake_work, args=f) for f in files]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{memory_mb(field='VmHWM') - base:.1f} {base:.1f} {time.perf_counter() - began:.2f}")


async def accepted(files: list[tuple[str, bytes]], runs: int) -> None:
    """The upload's transaction (service.accept_batch: the batch, its rows, records and outbox rows) and the outbox
    relay's rounds that publish its messages (to a counting stand-in for Kafka), on real PostgreSQL: wall time,
    this process's CPU and PostgreSQL's, best of `runs`."""
    import asyncpg

    from bench.stack import cpu_seconds
    from intake.batch_files.writers import outcome_files
    from intake.batches import service, storage
    from intake.batches.storage import Outcome
    from shared.db import create_pool, migrate
    from shared.outbox import Outbox, OutboxRelay, OutboxRow
    from shared.service_registry import INTAKE
    from shared.settings import Settings
    from tests.support import drop_namespaces, unique_namespace

    async def rejection_file(pool: "asyncpg.Pool", batch: "asyncpg.Record") -> bytes:
        """What GET /v1/batches/{id}/rejections does once it has the batch (intake/batches/router.py)."""
        wanted = ("rejected",) if len(inspect.signature(storage.row_outcomes).parameters) > 2 else ()  # older: all
        outcomes = await storage.row_outcomes(pool, batch["batch_id"], *wanted)
        return outcome_files.outcome_file(batch, outcomes, rejected=True).content

    namespace = unique_namespace("bi")
    settings = Settings(namespace=namespace)
    schema = settings.schema(INTAKE.schema)
    pool = await create_pool(settings.database_url, schema, min_size=2, max_size=2)
    sent = 0

    async def publish(rows: "Sequence[OutboxRow]") -> None:
        nonlocal sent
        sent += len(rows)

    try:
        await migrate(pool, schema, INTAKE.package)
        provider, content = files[0]
        await pool.execute("INSERT INTO providers (id, name, email) VALUES ($1, 'bench', 'bench@example.org')",
                           provider)
        held = [await pool.acquire() for _ in range(2)]
        backends = [await c.fetchval("SELECT pg_backend_pid()") for c in held]
        for c in held:
            await pool.release(c)
        outbox = Outbox(schema)
        relay = OutboxRelay(pool, outbox, publish)
        best: list[tuple[float, float, float, float, float, float, float]] = []
        for _ in range(runs):
            batch_id = uuid.uuid4()
            parsed = service.parse_to_queue(settings, "bench.xlsx", content, provider, batch_id)
            pg0, cpu0, t0 = cpu_seconds({"pg": backends})["pg"], time.process_time(), time.perf_counter()
            await service.accept_batch(pool, outbox, batch_id, provider, "bench.xlsx", parsed)
            t1 = time.perf_counter()
            while (await relay.drain_once())[0]:
                pass
            t2, cpu, pg = time.perf_counter(), time.process_time() - cpu0, cpu_seconds({"pg": backends})["pg"] - pg0
            # Validation's outcomes, every 10th record rejected, then the two files as GET …/rejections writes them.
            ids = [r.record_id for row in parsed.rows for r in row.records]
            async with pool.acquire() as conn:
                rejected = [{"code": "622", "message": "x"}]
                await storage.apply_outcomes(conn, [Outcome(i, "rejected", rejected) if n % 10 == 0 else
                                                    Outcome(i, "added", []) for n, i in enumerate(ids)])
            batch = await storage.get_batch(pool, batch_id, None)
            assert batch is not None  # accepted above
            pg_r, cpu_r, began = cpu_seconds({"pg": backends})["pg"], time.process_time(), time.perf_counter()
            await rejection_file(pool, batch)
            cpu_r, pg_r = time.process_time() - cpu_r, cpu_seconds({"pg": backends})["pg"] - pg_r
            best.append((t1 - t0, t2 - t1, cpu, pg, time.perf_counter() - began, cpu_r, pg_r))
        n = parsed.record_count
        _, _, cpu, pg, _, _, _ = min(best, key=lambda b: b[2] + b[3])
        print(f"accept_batch {min(b[0] for b in best):.3f} s, relay rounds {min(b[1] for b in best):.3f} s (best of "
              f"{runs}); lowest CPU {cpu * 1e6 / n:.0f} µs/record here + {pg * 1e6 / n:.0f} µs PostgreSQL "
              f"({sent} messages sent)")
        wall, cpu, pg = min(b[4] for b in best), min(b[5] for b in best), min(b[6] for b in best)
        print(f"the rejection file (500 of 5,000 rows rejected): {wall:.3f} s, CPU {cpu:.3f} s here + {pg:.3f} s "
              f"PostgreSQL (best of {runs})")
    finally:
        await pool.close()
        await drop_namespaces(settings.kafka_bootstrap_servers, settings.database_url, [namespace])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intake_files", description=__doc__)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--accept", action="store_true", help="also time the upload's transaction and relay rounds")
    args = parser.parse_args(argv)
    if args.child:
        child(args.files, args.rows)
        return
    _, files = world_and_files(1, args.rows)
    if args.accept:
        import asyncio
        asyncio.run(accepted(files, args.runs))
    provider, content = files[0]
    intake_work(provider, content)  # warm
    wall, cpu = [], []
    with _collector_time() as collecting:
        for _ in range(args.runs):
            w, c = time.perf_counter(), time.process_time()
            intake_work(provider, content)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
    print(f"one {args.rows}-row xlsx ({len(content) / 1e6:.2f} MB): parse + submissions + COPY rows, best of "
          f"{args.runs}: {min(wall):.3f} s wall, {min(cpu):.3f} s CPU ({min(cpu) / args.rows * 1e6:.0f} µs/row; "
          f"the cyclic collector {collecting[0] / args.runs / args.rows * 1e6:.0f} µs/row on average)")
    peaks = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-m", "bench.intake_files", "--child", "--files", str(args.files),
                              "--rows", str(args.rows)], check=True, capture_output=True, text=True).stdout
        peak, base, seconds = out.split()
        peaks.append((float(peak), float(base), float(seconds)))
    best = min(peaks)
    print(f"{args.files} files parsed at once, one thread each: peak RSS {best[0]:.0f} MB above the process's "
          f"{best[1]:.0f} MB before them (lowest of {args.runs}; all: "
          + ", ".join(f"{p:.0f}" for p, _, _ in peaks) + f"), {best[2]:.2f} s wall")


if __name__ == "__main__":
    main(sys.argv[1:])
