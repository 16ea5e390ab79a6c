"""The benchmarks' stack: a namespace of their own, free ports, boards answering at once; and CPU accounting."""

import asyncio
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pars_cli import admin
from pars_cli.stack import (
    REPLICA_PORT_STRIDE,
    ServiceProcess,
    start_servers,
    start_services,
    stop_servers,
    stop_services,
)
from shared.settings import Settings
from shared.world import World
from tests.support import drop_namespaces_now, free_port, free_port_block, unique_namespace


@dataclass
class BenchStack:
    settings: Settings
    api: str  # the API's base URL
    key: str  # an API key of the benchmark's provider
    processes: list[ServiceProcess]
    provider: str  # the benchmark's provider, whose key `key` is


@contextmanager
def bench_stack(world: World, provider: str, replicas: int = 1) -> Iterator[BenchStack]:
    """The whole pipeline for one benchmark: servers (started unless PARS_* name them), topics, `world` and a key
    of `provider`'s, all six services (`replicas` processes of each) in a namespace of their own. Afterwards the
    services are stopped, the namespace's topics and schemas dropped, and the servers this started stopped."""
    started = start_servers()
    env, settings = bench_env(replicas)
    processes: list[ServiceProcess] = []
    try:
        asyncio.run(admin.create_topics(settings))
        asyncio.run(admin.load_world(settings, world))
        key = asyncio.run(admin.issue_key(settings, "provider", provider))
        processes = start_services(settings, env, Path(tempfile.mkdtemp(prefix="pars-bench-")), replicas=replicas)
        yield BenchStack(settings, f"http://{settings.api_host}:{settings.api_port}", key, processes, provider)
    finally:
        stop_services(processes)
        drop_namespaces_now(settings.kafka_bootstrap_servers, settings.database_url)
        stop_servers(started)


def bench_env(replicas: int = 1) -> tuple[dict[str, str], Settings]:
    ports = 6 if replicas == 1 else REPLICA_PORT_STRIDE * replicas
    env = {**os.environ, "PARS_NAMESPACE": unique_namespace("bench"), "PARS_API_PORT": str(free_port()),
           "PARS_HEALTH_PORT_BASE": str(free_port_block(ports)), "PARS_BOARD_LATENCY_SCALE": "0",
           "PARS_SMTP_HOST": "127.0.0.1", "PARS_LOG_LEVEL": "WARNING"}
    fields: dict[str, Any] = {k[5:].lower(): v for k, v in env.items()
                              if k.startswith("PARS_") and k[5:].lower() in Settings.model_fields}
    settings = Settings(**fields)
    return env, settings


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) each named group of processes has used so far, from /proc, with what their children
    used once reaped: PostgreSQL's parallel and autovacuum workers come and go within a figure, and only the
    postmaster's count of its reaped children keeps what they used (until 2026-12-04 they were left out)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for name, group in pids.items():
        total = 0
        for pid in group:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        used[name] = total / tick
    return used


def memory_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """A process's memory from /proc/PID/status, in MB: its resident memory (VmRSS) or another field of that
    file, such as its resident high-water mark (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for process {pid}")


def server_pids() -> dict[str, list[int]]:
    """Kafka's and PostgreSQL's processes on this machine, found by their command lines."""
    found: dict[str, list[int]] = {"kafka": [], "postgresql": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"kafka.Kafka" in command:
            found["kafka"].append(int(entry.name))
        elif command.startswith(b"postgres") or b"/bin/postgres" in command:
            found["postgresql"].append(int(entry.name))
    return found
