"""`python -m bench memory [--records N] [--providers P] [--format xlsx|txt] [--rest S]`: does any service's memory grow
through a million-record run?

One stack of the six services (bench/stack.py, boards answering at once) and rounds of P providers' 5,000-row
Template B files uploaded at once, each round followed until every kept record is settled by its board in the
projection, until N records (default 1,000,000) have gone through; the next round's files are written while one
runs. After each round, once the services are quiet and again S seconds later (`--rest`, default 12: each service
gives its freed memory back within 10 s of the end of a burst, shared/heap.py), every service's resident memory
(VmRSS, /proc), the second sample being the one judged; at the end each one's peak (VmHWM).

The first tenth of the records warms the services up (connection pools, caches of the world, Kafka's buffers,
the interpreter's arenas): each service's growth is measured from the first sample after it, as the slope of the
least-squares line through that sample and every later one, in MB per 100,000 records. A service holds flat when
the slope is at most FLAT_MB_PER_100K: a leak of 10 bytes a record would reach it, and one of a record's
messages or rows (≈ 1 KB) kept by mistake would be a hundred times as much.
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bench.files import ROWS, provider_file, provider_keys, send_files
from bench.idle import wait_quiet
from bench.stack import BenchStack, bench_stack, memory_mb
from intake.batch_files.model import FileFormat
from pars_cli.generate import generate_world

FLAT_MB_PER_100K = 1.0
WARM_UP_SHARE = 0.1
MIN_SAMPLES = 5  # rounds after the warm-up before a slope says anything
# The suite's world has too few MOC activities running and holders of their boards for a million rows that differ:
# its rows would repeat from ≈ 10,000 on for some providers. Here ≈ 95% of a million differ.
ACTIVITIES, PHYSICIANS = 800, 20_000


@dataclass
class Samples:
    """Each service's VmRSS (MB) after each round, and the records gone through by then."""
    records: list[int] = field(default_factory=list)
    rss: dict[str, list[float]] = field(default_factory=dict)

    def take(self, stack: BenchStack, records: int) -> None:
        self.records.append(records)
        for service in stack.processes:
            assert service.process is not None
            self.rss.setdefault(service.name, []).append(memory_mb(service.process.pid))


def slope_per_100k(records: list[int], rss: list[float]) -> float:
    """MB per 100,000 records: the least-squares line's slope (0 with fewer than two samples)."""
    if len(records) < 2:
        return 0.0
    return statistics.linear_regression(records, rss).slope * 100_000


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="rows to send, in rounds")
    parser.add_argument("--providers", type=int, default=4, help="files a round, one provider's each")
    parser.add_argument("--format", choices=("xlsx", "txt"), default="xlsx")
    parser.add_argument("--rest", type=float, default=12.0,
                        help="seconds after a round's end before the judged sample (0: as soon as quiet)")
    args = parser.parse_args(argv)
    file_format = FileFormat.XLSX if args.format == "xlsx" else FileFormat.TXT
    rounds = max(1, -(-args.records // (ROWS * args.providers)))
    world = generate_world(providers=args.providers, activities=ACTIVITIES, physicians=PHYSICIANS, seed=3)

    def round_files(number: int) -> list[tuple[str, bytes]]:
        return [provider_file(world, i, ROWS, skip=number * ROWS, file_format=file_format)
                for i in range(args.providers)]

    samples, sent_rows, kept, began = Samples(), 0, 0, time.perf_counter()
    with bench_stack(world, world.providers[0].id) as stack, ThreadPoolExecutor(1) as writer:
        keys = provider_keys(stack, [p.id for p in world.providers[:args.providers]])
        wait_quiet(stack)
        samples.take(stack, 0)
        upcoming = writer.submit(round_files, 0)
        for number in range(rounds):
            files = upcoming.result()
            if number + 1 < rounds:
                upcoming = writer.submit(round_files, number + 1)
            sent = send_files(stack, files, keys, name=f"bench.{args.format}")
            sent_rows, kept = sent_rows + sent.rows, kept + sent.kept
            wait_quiet(stack)
            quiet = {s.name: memory_mb(s.process.pid) for s in stack.processes if s.process}
            time.sleep(args.rest)
            samples.take(stack, sent_rows)
            print(f"round {number + 1}/{rounds}: {sent_rows:,} rows, {kept:,} kept and settled, "
                  f"{sent.kept / sent.settled:,.0f} settled records/s; RSS MB "
                  + ", ".join(f"{name} {rss[-1]:.0f}" + (f" ({quiet[name]:.0f} when quiet)" if args.rest else "")
                              for name, rss in samples.rss.items()), flush=True)
        peaks = {s.name: memory_mb(s.process.pid, "VmHWM") for s in stack.processes if s.process}
    _report(samples, peaks, sent_rows, kept, time.perf_counter() - began, args)


def _report(samples: Samples, peaks: dict[str, float], rows: int, kept: int, seconds: float,
            args: argparse.Namespace) -> None:
    warm = next((i for i, n in enumerate(samples.records) if n >= WARM_UP_SHARE * rows), len(samples.records) - 1)
    print(f"\n{rows:,} rows in {args.providers}-file rounds of {ROWS:,}-row {args.format} files, {kept:,} records kept "
          f"and settled by their boards, in {seconds / 60:.1f} min ({os.cpu_count()} cores); warm after "
          f"{samples.records[warm]:,} rows")
    fifth = max(1, (len(samples.records) - warm) // 5)
    judged = len(samples.records) - warm >= MIN_SAMPLES
    print(f"{'service':<14}{'start MB':>10}{'warm MB':>10}{'end MB':>10}{'peak MB':>10}{'MB/100k':>10}"
          f"{'Δ medians':>11}  flat")
    grows = []
    for name, rss in samples.rss.items():
        slope = slope_per_100k(samples.records[warm:], rss[warm:])
        flat = slope <= FLAT_MB_PER_100K
        if not flat:
            grows.append(name)
        change = statistics.median(rss[-fifth:]) - statistics.median(rss[warm:warm + fifth])
        print(f"{name:<14}{rss[0]:>10.1f}{rss[warm]:>10.1f}{rss[-1]:>10.1f}{peaks.get(name, 0):>10.1f}{slope:>10.2f}"
              f"{change:>+11.1f}  " + ("-" if not judged else "yes" if flat else "NO"))
    print(f"(Δ medians: the median of the last fifth of the samples less that of the first fifth after the warm-up, "
          f"{fifth} samples each: the wandering from round to round weighs less in it than in the slope)")
    print(f"no service's memory grows (slope ≤ {FLAT_MB_PER_100K:g} MB per 100,000 records after the warm-up): "
          + (f"not judged: {len(samples.records) - warm} samples after the warm-up, {MIN_SAMPLES} needed "
             "(more --records)" if not judged else "yes" if not grows else "NO: " + ", ".join(grows)))
