"""Session fixtures: real Kafka and PostgreSQL, started once per test session.

Servers come from `PARS_KAFKA_BOOTSTRAP_SERVERS` / `PARS_DATABASE_URL` when set, from testcontainers when a
Docker engine answers, and otherwise from the project's own scripts (deploy/local/infra.sh), which are
stopped again at the end if this session started them. Tests isolate themselves by namespace (topics,
groups and schemas), never by restarting servers.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.support import drop_namespaces_now, kafka_release, unique_namespace

REPO = Path(__file__).resolve().parent
INFRA = REPO / "deploy" / "local" / "infra.sh"

pytest_plugins = ["tests.browser_support"]  # Playwright + chromium fixtures for the browser tests


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _from_containers() -> Iterator[dict[str, str]]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka_image = f"apache/kafka:{kafka_release()}"  # the release deploy/local and docker-compose.yml run
    with KafkaContainer(kafka_image).with_kraft() as kafka, PostgresContainer("postgres:15") as pg:
        url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield {"PARS_KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(), "PARS_DATABASE_URL": url}


def _from_local_scripts() -> Iterator[dict[str, str]]:
    out = subprocess.run(["bash", str(INFRA), "start"], check=True, capture_output=True, text=True)
    started = [line.split(":", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("started:")]
    defaults = Settings(_env_file=None)
    try:
        yield {"PARS_KAFKA_BOOTSTRAP_SERVERS": os.environ.get("PARS_KAFKA_BOOTSTRAP_SERVERS",
                                                             defaults.kafka_bootstrap_servers),
               "PARS_DATABASE_URL": os.environ.get("PARS_DATABASE_URL", defaults.database_url)}
    finally:
        # The local servers' data outlives the session: leave none of its topics and schemas behind.
        drop_namespaces_now(os.environ.get("PARS_KAFKA_BOOTSTRAP_SERVERS", defaults.kafka_bootstrap_servers),
                            os.environ.get("PARS_DATABASE_URL", defaults.database_url))
        if started:
            subprocess.run(["bash", str(INFRA), "stop", *started], check=False, capture_output=True)


class Servers(dict[str, str]):
    """The servers' variables; shown without the database password (pytest prints fixtures in a failure's
    traceback, and CI's output is a log like any other)."""

    def __repr__(self) -> str:
        return repr({k: re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", v) for k, v in self.items()})


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """`PARS_*` variables naming a running Kafka and PostgreSQL for this test session."""
    given = {k: os.environ[k] for k in ("PARS_KAFKA_BOOTSTRAP_SERVERS", "PARS_DATABASE_URL") if os.environ.get(k)}
    if len(given) == 2:
        yield Servers(given)
        drop_namespaces_now(given["PARS_KAFKA_BOOTSTRAP_SERVERS"], given["PARS_DATABASE_URL"])
    elif not given and _docker_engine():
        yield from (Servers(s) for s in _from_containers())
    else:
        yield from (Servers(s) for s in _from_local_scripts())


@pytest.fixture
def settings(servers: dict[str, str]) -> Settings:
    """Settings on the session's servers, in a namespace of this test's own."""
    return Settings(kafka_bootstrap_servers=servers["PARS_KAFKA_BOOTSTRAP_SERVERS"],
                    database_url=servers["PARS_DATABASE_URL"], namespace=unique_namespace(),
                    board_latency_scale=0.0)
