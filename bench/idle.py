"""Idle cost: the CPU a stack with nothing to do uses, per service and for Kafka and PostgreSQL; and waiting for
a stack to be quiet, so one figure does not pay for the work another left behind.

`python -m bench idle [--seconds S] [--rounds R]`: one stack of the six services (bench/stack.py), quiet after
its start, then R windows of S seconds; each process's CPU time over a window (/proc: what our processes used,
whatever else loads the machine) as a share of one core, and the lowest of R for each. PostgreSQL: the
stack's connections (its server's own processes work for every user of the server). Kafka is the broker
serving the stack's bootstrap port, all of it: point PARS_KAFKA_BOOTSTRAP_SERVERS at a broker of one's own
to leave other users' load out of its figure.
"""

import argparse
import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.stack import BenchStack, bench_stack, cpu_seconds, server_pids
from bench.table import AT_MOST, Figure
from pars_cli.generate import generate_world
from pars_cli.stack import exit_reason


def stack_pids(stack: BenchStack, pg_background: bool = True) -> dict[str, list[int]]:
    """Each service's process, Kafka's, and PostgreSQL's own processes with the connections of this stack's
    services (not those of whatever else uses the same server; connections come and go: ask again).
    `pg_background` False: the connections only, not the server's own processes (WAL writer, checkpointer...),
    which work for every user of a shared server."""
    services: dict[str, list[int]] = {}  # a service's processes together (several with --replicas)
    for p in stack.processes:
        if p.process:
            services.setdefault(p.service, []).append(p.process.pid)
    servers = server_pids()
    ports = _local_ports([pid for pids in services.values() for pid in pids])
    ours = ports | {None} if pg_background else ports
    servers["postgresql"] = [pid for pid in servers["postgresql"] if _client_port(pid) in ours]
    if len(servers["kafka"]) > 1:  # another broker on this machine: only the one serving the stack
        port = int(stack.settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
        servers["kafka"] = [pid for pid in servers["kafka"] if port in _local_ports([pid])]
    return services | servers


def _client_port(pid: int) -> int | None:
    """The client's port a PostgreSQL backend serves (`postgres: user db 127.0.0.1(PORT) idle`); None: none."""
    try:
        found = re.search(rb"\((\d+)\)", Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return -1  # gone
    return int(found.group(1)) if found else None


def _local_ports(pids: list[int]) -> set[int]:
    """The local TCP ports of these processes' sockets."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if (target := os.readlink(fd)).startswith("socket:["):
                        inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@contextmanager
def cpu_used(stack: BenchStack, pg_background: bool = True) -> Iterator[dict[str, float]]:
    """CPU-seconds each service, Kafka and PostgreSQL used while the block ran (in the dict it yields, filled on
    exit); a process that exits meanwhile (a PostgreSQL connection closing) leaves out what it used."""
    groups = stack_pids(stack, pg_background)
    per_process = {f"{name}/{pid}": [pid] for name, pids in groups.items() for pid in pids}
    before = cpu_seconds(per_process)
    used = dict.fromkeys(groups, 0.0)
    yield used
    for process, total in cpu_seconds(per_process).items():
        used[process.split("/")[0]] += max(0.0, total - before[process])


def _machine_ticks() -> tuple[int, int]:
    """The machine's CPU time so far, in ticks: (stolen, all). /proc/stat's `cpu` line: user nice system idle iowait
    irq softirq steal ..."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return fields[7], sum(fields)


@contextmanager
def stolen() -> Iterator[Callable[[], float]]:
    """Yields a function answering the share of the machine's CPU time its hypervisor took from it (steal) while the
    block ran, once it is over. On a shared host it swung from 2% to 36% within minutes, and every figure with it."""
    steal, total = _machine_ticks()
    after: list[tuple[int, int]] = []
    yield lambda: (after[0][0] - steal) / max(1, after[0][1] - total)
    after.append(_machine_ticks())


def _cpu_shares(stack: BenchStack, seconds: float, pg_background: bool = True) -> dict[str, float]:
    """% of a core each service, Kafka and PostgreSQL used over `seconds`."""
    with cpu_used(stack, pg_background) as used:
        time.sleep(seconds)
    return {name: cpu / seconds * 100 for name, cpu in used.items()}


def cpu_text(used: dict[str, float], seconds: float, steal: float | None = None) -> str:
    """`intake 12.3 s (82%), ...`, the busiest first: CPU-seconds and share of one core over `seconds`; and the
    share of the machine's time the hypervisor took meanwhile, if given."""
    return ", ".join(f"{name} {cpu:.1f} s ({cpu / seconds:.0%})"
                     for name, cpu in sorted(used.items(), key=lambda item: -item[1])) + (
        "" if steal is None else f"; stolen by the hypervisor {steal:.0%}")


def idle_cost(stack: BenchStack, seconds: float) -> Figure:
    share = _cpu_shares(stack, seconds)
    return Figure("idle: CPU of a core, whole stack", sum(share.values()), "%", 3, AT_MOST,
                  note=f"{seconds:.0f} s: " + ", ".join(f"{name} {used:.1f}" for name, used in
                                                        sorted(share.items(), key=lambda item: -item[1]))
                  + " (Kafka: the whole broker, shared)")


def check_alive(stack: BenchStack) -> None:
    """Stop the run if a service exited: every figure after it would be wrong, or would never end."""
    for service in stack.processes:
        if not service.alive:
            code = service.process.returncode if service.process else None
            raise SystemExit(f"{service.name} exited ({exit_reason(code)}) during the benchmark; its log: "
                             f"{service.log_file}")


def wait_quiet(stack: BenchStack, below: float = 20.0, timeout: float = 120.0) -> None:
    """Until the six services together use under `below`% of a core over a second: the work before is done."""
    check_alive(stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        share = _cpu_shares(stack, 1.0)
        if sum(used for name, used in share.items() if name not in ("kafka", "postgresql")) < below:
            return
    raise SystemExit(f"the stack was still busy {timeout:.0f} s after the last figure")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench idle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="each window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds left to start-up once quiet")
    args = parser.parse_args(argv)
    world = generate_world(providers=1, activities=10, physicians=100, seed=3)
    with bench_stack(world, world.providers[0].id) as stack:
        wait_quiet(stack)
        time.sleep(args.settle)  # group joins, first digest round, relays' first empty polls
        rounds = []
        for _ in range(args.rounds):
            rounds.append(_cpu_shares(stack, args.seconds, pg_background=False))
            check_alive(stack)
    print(f"\nidle, {args.rounds} windows of {args.seconds:.0f} s, % of one core (load average before the "
          f"last window's end: {os.getloadavg()[0]:.2f})")
    for name in sorted(rounds[0], key=lambda n: -min(r[n] for r in rounds)):
        print(f"  {name:<14} lowest {min(r[name] for r in rounds):5.2f}   windows "
              + " ".join(f"{r[name]:5.2f}" for r in rounds))
    totals = [sum(r.values()) for r in rounds]
    services = [sum(v for n, v in r.items() if n not in ("kafka", "postgresql")) for r in rounds]
    print(f"  {'whole stack':<14} lowest {min(totals):5.2f}   windows " + " ".join(f"{t:5.2f}" for t in totals))
    print(f"  {'six services':<14} lowest {min(services):5.2f}   windows " + " ".join(f"{t:5.2f}" for t in services))
