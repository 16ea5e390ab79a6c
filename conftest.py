"""Session fixtures: real Kafka and PostgreSQL, started once per test session.

Servers come from `PARS_KAFKA_BOOTSTRAP_SERVERS` / `PARS_DATABASE_URL` when set, from testcontainers when a
Docker engine answers, and otherwise from the project's own scripts (deploy/local/infra.sh), which are
stopped again at the end if this session started them. Tests isolate themselves by namespace (topics,
groups and schemas), never by restarting servers.
"""

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import structlog

import shared.logging as shared_logging
from pars_cli.cluster import REPLICATION, LocalCluster
from pars_cli.stack import local_dir
from shared.settings import Settings
from tests.support import drop_namespaces_now, free_port_block, kafka_release, unique_namespace

REPO = Path(__file__).resolve().parent
INFRA = REPO / "deploy" / "local" / "infra.sh"
SERVER_VARIABLES = ("PARS_KAFKA_BOOTSTRAP_SERVERS", "PARS_DATABASE_URL")  # servers given from outside

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--brokers", type=int, choices=(1, 3), default=int(os.environ.get("PARS_TEST_BROKERS") or 1),
                     help="3: every test on a three-node Kafka cluster of the session's own (topics with three "
                          "replicas, two in sync) instead of the single broker; also PARS_TEST_BROKERS=3")


def _spreads_over_workers(config: pytest.Config) -> bool:
    """True in pytest-xdist's controller when it runs the tests in worker processes (`-n N`: PARS_TEST_WORKERS)."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))


def pytest_configure(config: pytest.Config) -> None:
    """Loggers bind the configuration of the moment (shared.logging.CACHE_LOGGERS): tests configure logging as many
    services and as the CLI, one after another in one process.

    With workers, the controller starts the local servers once and hands them to every worker as `PARS_*`
    variables (workers inherit its environment), instead of each worker racing to start and stop the same ones."""
    shared_logging.CACHE_LOGGERS = False
    given = all(os.environ.get(k) for k in SERVER_VARIABLES)
    if not _spreads_over_workers(config) or given or config.getoption("--brokers") == 3 or _docker_engine():
        return
    local = _from_local_scripts()
    os.environ.update(next(local))
    config.stash[_LOCAL_SERVERS] = local


def pytest_unconfigure(config: pytest.Config) -> None:
    local = config.stash.get(_LOCAL_SERVERS, None)
    if local is not None:
        next(local, None)  # stops the servers this run started


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """With workers, each file is one unit of work, except the files that kill and restart things (ONE_AT_A_TIME):
    they form one unit, so one worker runs them one after another while the other workers take the rest. (Not xdist's
    own `--dist loadgroup`: with pytest 9 its groups never reach the scheduler, as it rewrites an attribute pytest 9
    no longer reads the test's id from.)"""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class OneAtATimeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "one-at-a-time" if path.startswith(ONE_AT_A_TIME) else path

    return OneAtATimeScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With workers, the slowest units first (SLOWEST_FIRST), so the longest ones are not left for the end of the run.
    Stable, so every worker collects the same order. One process keeps pytest's own order."""
    if not hasattr(config, "workerinput"):
        return

    def weight(item: pytest.Item) -> int:
        path = item.path.relative_to(config.rootpath).as_posix()
        return next((i for i, part in enumerate(SLOWEST_FIRST) if path.startswith(part)), len(SLOWEST_FIRST))
    items.sort(key=weight)


# The files that kill, stop or restart servers and services, or start a three-node cluster or two of every service,
# and time how fast the rest recovers: run side by side (load 20-44 on two cores), they missed their deadlines.
ONE_AT_A_TIME = ("tests/cluster/", "tests/chaos/", "tests/e2e/test_submission_reliability.py",
                 "tests/e2e/test_board_faults.py", "tests/e2e/test_stack_run.py",
                 "tests/e2e/test_notifier_digests.py", "tests/e2e/test_validation_restart.py",
                 "tests/e2e/test_replicas.py")
# Folders and files by how long they take (a whole run's figures), slowest first; the rest keep their order after them.
SLOWEST_FIRST = (*ONE_AT_A_TIME, "services/projector/tests/test_query_plans_integration.py",
                 "tests/e2e/test_schemathesis.py", "tests/e2e/", "tests/hostile/", "tests/portal/", "tests/")
_LOCAL_SERVERS = pytest.StashKey[Iterator[dict[str, str]]]()


def _cluster_scope(fixture_name: str, config: pytest.Config) -> Literal["session", "module"]:
    """The session's with `--brokers 3` (every test runs on it); otherwise tests/cluster's module's alone, so its three
    brokers (a third of a core each, idle) are gone before the rest of the run."""
    return "session" if config.getoption("--brokers") == 3 else "module"


@pytest.fixture(autouse=True)
def logging_as_found() -> Iterator[None]:
    """Each test leaves logging as it found it. The CLI run in process (typer's CliRunner) configures structlog to
    print to the runner's stdout, which is closed once the command ends: every later log line in the same process
    then raised ValueError inside whatever was logging (a consumer's retry, a relay), and tests that ran after the
    CLI's failed by the order they ran in."""
    root = logging.getLogger()
    config, handlers, level = structlog.get_config(), list(root.handlers), root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope=_cluster_scope)
def cluster() -> Iterator[LocalCluster]:
    """A three-node Kafka cluster of this session's own (deploy/local/kafka-cluster.sh in .local/test-cluster, on
    free ports), stopped when its scope ends: tests/cluster kill its nodes, and `--brokers 3` runs every test on it."""
    running = LocalCluster(local_dir() / "test-cluster", free_port_block(6))
    running.stop()  # nodes an interrupted session left behind (on whatever ports it had)
    # A fresh cluster each session: no topics of earlier sessions for a killed node to recover at its restart.
    for node in running.state_dir.glob("node-*"):
        shutil.rmtree(node)
    (running.state_dir / "cluster.id").unlink(missing_ok=True)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def _from_local_scripts(*only: str) -> Iterator[dict[str, str]]:
    out = subprocess.run(["bash", str(INFRA), "start", *only], check=True, capture_output=True, text=True)
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
        if started:  # without the PARS_* the workers' controller exported: infra.sh leaves a server so named alone
            own = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
            subprocess.run(["bash", str(INFRA), "stop", *started], check=False, capture_output=True, env=own)


class Servers(dict[str, str]):
    """The servers' variables; shown without the database password (pytest prints fixtures in a failure's
    traceback, and CI's output is a log like any other)."""

    def __repr__(self) -> str:
        return repr({k: re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", v) for k, v in self.items()})


def _on_cluster(cluster: LocalCluster) -> Iterator[Servers]:
    """`--brokers 3`: Kafka is the session's cluster, PostgreSQL the given one or the local scripts'. Every Settings
    and every stack of the session creates its topics with three replicas, two in sync."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in REPLICATION.items():
            env.setenv(name, value)
        if os.environ.get("PARS_DATABASE_URL"):
            yield Servers({"PARS_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
                           "PARS_DATABASE_URL": os.environ["PARS_DATABASE_URL"]})
            drop_namespaces_now(cluster.bootstrap, os.environ["PARS_DATABASE_URL"])
            return
        for found in _from_local_scripts("postgres"):
            yield Servers(found | {"PARS_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap})
            drop_namespaces_now(cluster.bootstrap, found["PARS_DATABASE_URL"])


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """`PARS_*` variables naming a running Kafka and PostgreSQL for this test session."""
    given = {k: os.environ[k] for k in SERVER_VARIABLES if os.environ.get(k)}
    if request.config.getoption("--brokers") == 3:
        if "PARS_KAFKA_BOOTSTRAP_SERVERS" in given:
            raise pytest.UsageError("--brokers 3 starts a cluster of its own; unset PARS_KAFKA_BOOTSTRAP_SERVERS")
        yield from _on_cluster(request.getfixturevalue("cluster"))
    elif len(given) == 2:
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
