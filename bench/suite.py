"""`python -m bench` (`make bench`): every figure of high-volume ingestion that takes minutes, in one run on the
same servers, printed as one table with each figure's ratio to the Kafka ceiling and, for the API, to wrk's
GET /healthz rate (the floor: what the API's framework answers with no work behind it).

In order: the ceiling (plain aiokafka through the pipeline's hops), and the same chain with the design's
PostgreSQL writes at each hop (inbox, a state row, an outbox); then one stack of the six services (boards
answering at once) and, on it: idle cost (once the broker has removed the ceiling's topics); files at scale and
intake's peak memory while they parse; one workbook alone; files at scale again (the stack's second files: what
the first left in the tables and their statistics); the API with wrk; a caller at 100 requests/s; web
services. Then files at scale again on a stack of two processes of each service, and the outbox relay with one and
two processes (bench/replicas.py). `--profile DIR` also records intake, validation and the projector with py-spy
during files at scale and the wrk run (figures then pay for the sampling).
"""

import argparse
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import api, ceiling, files, idle, replicas
from bench.profile import find_py_spy, profiled
from bench.stack import bench_stack, memory_mb
from bench.table import AT_MOST, Figure, render
from bench.wrk import ensure_wrk
from shared.settings import Settings

PROFILED = ("intake", "validation", "projector")
DURABLE = "ceiling with the design's writes"
SECOND_FILES = "files: settled records/s, the stack's second files"
TOPIC_FILES_DELETED_SECONDS = 65.0  # file.delete.delay.ms (Kafka's default, 60 s) and a margin
# Measured apart: on a projection grown to a million records (3-5 minutes), and through a million records (≈ 25).
APART = {"cost per record, 10k → 1M records in the projection": "make bench BENCH=growth (3-5 min)",
         "pars projection rebuild ≥ 50,000 events/s": "make bench BENCH=growth (3-5 min)",
         "no service's memory grows through a 1M-record run": "make bench BENCH=memory (≈ 35 min)"}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--providers", type=int, default=4, help="files at scale: one 5,000-row file each")
    parser.add_argument("--seconds", type=int, default=15, help="each wrk run and the idle measurement")
    parser.add_argument("--messages", type=int, default=20_000, help="through the ceiling's chain")
    parser.add_argument("--profile", type=Path, help="a folder for py-spy's profiles")
    parser.add_argument("--profile-services", default=",".join(PROFILED), help="which services --profile records")
    args = parser.parse_args(argv)
    ensure_wrk()  # before minutes of other figures
    if args.profile:
        find_py_spy()
    world = files.suite_world(args.providers)
    began, load_before = datetime.now(UTC), _load()

    rate = ceiling.measure(Settings(), args.messages)
    # The same chain with what the design's delivery rules ask of each hop in PostgreSQL, and nothing else: what any
    # pipeline built to DESIGN.md pays at the least here (docs/PERFORMANCE.md, "The ceiling with the design's writes").
    durable = ceiling.measure(Settings(), args.messages, "outbox")
    ceiling_dropped = time.monotonic()
    figures = [Figure("ceiling: plain aiokafka chain", rate, "records/s", per_ceiling=True,
                      note=f"{len(ceiling.HOPS)} hop processes, {args.messages:,} records"),
               Figure(DURABLE, durable, "records/s", per_ceiling=True,
                      note="the same chain; each hop claims every event_id, upserts a state row a record and keeps "
                           "its sends in an outbox, one PostgreSQL transaction a batch")]
    with idle.stolen() as stolen, bench_stack(world, world.providers[0].id) as stack:
        pids = idle.stack_pids(stack)
        profile_pids = {name: pids[name][0] for name in args.profile_services.split(",")}
        idle.wait_quiet(stack)  # the services' start-up done
        # The broker removes a deleted topic's files a minute after the deletion (file.delete.delay.ms): the
        # ceiling's topics, which would be work of the ceiling's in the stack's idle window (≈ 1% of a core).
        time.sleep(max(0.0, ceiling_dropped + TOPIC_FILES_DELETED_SECONDS - time.monotonic()))
        figures.append(idle.idle_cost(stack, args.seconds))
        with (profiled(args.profile, "files", profile_pids), idle.cpu_used(stack) as used, _timed() as took,
              idle.stolen() as stolen_then):
            figures.append(settled := files.files_at_scale(stack, world, args.providers, rate))
        figures.append(Figure(f"files: settled ÷ {DURABLE}", None if settled.value is None else settled.value / durable,
                              "×", note="what the pipeline's own work costs beyond the design's writes"))
        cpu = {"files at scale": idle.cpu_text(used, took(), stolen_then())}
        figures.append(Figure(f"intake peak RSS, {args.providers} files parsing", memory_mb(pids["intake"][0], "VmHWM"),
                              "MB", 200, AT_MOST, note="VmHWM after files at scale (the process's peak so far)"))
        idle.wait_quiet(stack)
        figures.extend(files.one_file(stack, world))
        idle.wait_quiet(stack)
        # The same stack's second files: what the tables, their statistics and autovacuum left after the first files
        # (plans made from statistics of an outbox vacuumed nearly empty once ran this at half speed).
        figures.append(files.files_at_scale(stack, world, args.providers, rate, SECOND_FILES, skip=2 * files.ROWS))
        idle.wait_quiet(stack)
        floor = api.healthz_floor(stack, args.seconds)
        figures.append(Figure("API: GET /healthz (the floor)", floor.requests_per_second, "/s", per_floor=True,
                              note=f"wrk, {api.CONNECTIONS} connections, p99 {floor.p99_ms:.1f} ms"))
        with (profiled(args.profile, "wrk", profile_pids), idle.cpu_used(stack) as used, _timed() as took,
              idle.stolen() as stolen_then):
            posted, p99 = api.completions_with_wrk(stack, world, args.seconds)
        cpu["wrk posting completions"] = idle.cpu_text(used, took(), stolen_then())
        per_floor = None if posted.value is None else posted.value / floor.requests_per_second
        figures += [posted, Figure("API: completions ÷ /healthz floor", per_floor, "×", 0.3), p99]
        idle.wait_quiet(stack)  # the board verdicts of wrk's completions, still on their way after the answers
        figures.append(api.fixed_rate_caller(stack, world, args.seconds))
        idle.wait_quiet(stack)
        figures.append(api.one_caller(stack, world, args.seconds))
        idle.wait_quiet(stack)
        figures.append(api.web_services(stack, world))
        idle.check_alive(stack)
    one_of_each = next(f for f in figures if f.name == replicas.ONE)
    figures += replicas.figures(world, args.providers, rate, one_of_each, args.messages)
    figures += [Figure(name, None, "", note=f"measured apart: {how}") for name, how in APART.items()]
    print(f"\nmake bench, {began:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average (1, 5, 15 min) "
          f"before: {load_before}, after: {_load()}; CPU time the hypervisor took (steal) while the stack ran: "
          f"{stolen():.0%}\n")
    print(render(figures, rate, floor.requests_per_second))
    print("\nCPU-seconds (share of one core) while:")
    for phase, text in cpu.items():
        print(f"  {phase}: {text}")


@contextmanager
def _timed() -> Iterator[Callable[[], float]]:
    """Yields a function answering the block's duration, once it is over."""
    began = time.perf_counter()
    ended: list[float] = []
    yield lambda: ended[0] - began
    ended.append(time.perf_counter())


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())
