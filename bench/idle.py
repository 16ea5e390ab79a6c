"""Idle cost: the CPU a stack with nothing to do uses, per service and for Kafka and PostgreSQL; and waiting for
a stack to be quiet, so one figure does not pay for the work another left behind."""

import contextlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.stack import BenchStack, cpu_seconds, server_pids
from bench.table import AT_MOST, Figure
from pars_cli.stack import exit_reason


def stack_pids(stack: BenchStack) -> dict[str, list[int]]:
    """Each service's process, Kafka's, and PostgreSQL's own processes with the connections of this stack's
    services (not those of whatever else uses the same server; connections come and go: ask again)."""
    services = {p.service: [p.process.pid] for p in stack.processes if p.process}
    servers = server_pids()
    ports = _local_ports([pid for pids in services.values() for pid in pids])
    servers["postgresql"] = [pid for pid in servers["postgresql"] if _client_port(pid) in ports | {None}]
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
def cpu_used(stack: BenchStack) -> Iterator[dict[str, float]]:
    """CPU-seconds each service, Kafka and PostgreSQL used while the block ran (in the dict it yields, filled on
    exit); a process that exits meanwhile (a PostgreSQL connection closing) leaves out what it used."""
    groups = stack_pids(stack)
    per_process = {f"{name}/{pid}": [pid] for name, pids in groups.items() for pid in pids}
    before = cpu_seconds(per_process)
    used = dict.fromkeys(groups, 0.0)
    yield used
    for process, total in cpu_seconds(per_process).items():
        used[process.split("/")[0]] += max(0.0, total - before[process])


def _cpu_shares(stack: BenchStack, seconds: float) -> dict[str, float]:
    """% of a core each service, Kafka and PostgreSQL used over `seconds`."""
    with cpu_used(stack) as used:
        time.sleep(seconds)
    return {name: cpu / seconds * 100 for name, cpu in used.items()}


def cpu_text(used: dict[str, float], seconds: float) -> str:
    """`intake 12.3 s (82%), ...`, the busiest first: CPU-seconds and share of one core over `seconds`."""
    return ", ".join(f"{name} {cpu:.1f} s ({cpu / seconds:.0%})"
                     for name, cpu in sorted(used.items(), key=lambda item: -item[1]))


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
            raise SystemExit(f"{service.service} exited ({exit_reason(code)}) during the benchmark; its log: "
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


def peak_rss_mb(pid: int) -> float:
    """The process's resident-memory high-water mark (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmHWM for process {pid}")
