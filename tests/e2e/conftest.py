"""A whole stack of the six services, as processes, in a namespace of its own, on the session's servers."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pars_cli.stack import ServiceProcess, start_services, stop_services, wait_ready
from shared.settings import Settings
from tests.support import free_port, free_port_block, unique_namespace

PARS = str(Path(sys.executable).parent / "pars")
# The e2e worlds are the PARS guide's, with 2021 activities: PARS's clock is set inside their reporting year.
TODAY = "2021-12-01"


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str] = field(repr=False)  # holds the database URL, password and all
    processes: dict[str, ServiceProcess]
    log_dir: Path

    @property
    def api(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def pars(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `pars` command as a user would, against this stack."""
        return subprocess.run([PARS, *args], env=self.env, capture_output=True, text=True, timeout=120)

    def load_world(self, world: dict[str, Any]) -> None:
        """Load a world file with `pars world load`, as an operator would."""
        path = self.log_dir / f"world-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(world), encoding="utf-8")
        loaded = self.pars("world", "load", str(path))
        assert loaded.returncode == 0, loaded.stderr

    def log(self, service: str) -> str:
        return (self.log_dir / f"{service}.log").read_text(encoding="utf-8", errors="replace")

    def restart(self, service: str) -> None:
        process = self.processes[service]
        process.start()
        wait_ready(self.settings, [process])

    def client(self, key: str) -> httpx.Client:
        # Generous: these tests check outcomes, and a busy CI machine (load 20) answered a 5,000-row batch's
        # rejection file in more than 30 s. The benchmarks measure how fast.
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {key}"}, timeout=120)

    def wait_for(self, check: Callable[..., Any], timeout: float = 30.0, every: float = 0.3) -> Any:
        """Poll `check` until it answers something truthy; fail with its last answer after `timeout`. (`check` is
        called without arguments; `...` lets it bind a loop's variable as a defaulted one, which mypy cannot
        infer against `[]`.)"""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(every)
        raise AssertionError(f"condition not met within {timeout} s; last answer: {last!r}")


def start_stack(servers: dict[str, str], log_dir: Path, **extra_env: str) -> Stack:
    env = {**os.environ, **servers, "PARS_NAMESPACE": unique_namespace("e2e"), "PARS_API_HOST": "127.0.0.1",
           "PARS_API_PORT": str(free_port()), "PARS_HEALTH_PORT_BASE": str(free_port_block(6)),
           "PARS_BOARD_LATENCY_SCALE": "0", "PARS_SMTP_HOST": "127.0.0.1", "PARS_SMTP_PORT": str(free_port()),
           "PARS_LOG_LEVEL": "INFO", "PARS_TODAY": TODAY, **extra_env}
    env.pop("PARS_HEALTH_PORT", None)
    fields: dict[str, Any] = {k[5:].lower(): v for k, v in env.items()
                              if k.startswith("PARS_") and k[5:].lower() in Settings.model_fields}
    settings = Settings(_env_file=None, **fields)
    subprocess.run([PARS, "topics"], env=env, check=True, capture_output=True, timeout=120)
    processes = start_services(settings, env, log_dir)
    return Stack(settings, env, {p.service: p for p in processes}, log_dir)


@pytest.fixture(scope="module")
def stack(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(servers, tmp_path_factory.mktemp("stack-logs"))
    yield running
    # SIGTERM is a graceful stop: every service finishes its work and exits cleanly.
    assert stop_services(list(running.processes.values())) == dict.fromkeys(running.processes, 0)


@pytest.fixture
def fresh_stack(servers: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    """A stack of this test's own, for tests that kill or restart services."""
    running = start_stack(servers, tmp_path / "logs")
    yield running
    stop_services(list(running.processes.values()))

