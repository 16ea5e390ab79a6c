"""One stack for the cluster fault tests: the six services on the session's three-node cluster, with a second
process of validation, board-router, board-sim and projector, the workload's world loaded and its keys issued."""

import asyncio
import contextlib
import shutil
import time
from collections.abc import Iterator

import pytest

from pars_cli.cluster import LocalCluster
from pars_cli.stack import local_dir, stop_services
from shared.service_registry import BOARD_ROUTER, BOARD_SIM, PROJECTOR, VALIDATION
from tests.chaos.workload import BOARD, PROVIDERS, world
from tests.cluster.faults import ClusterStack, second_process, wait_process_ready
from tests.e2e.conftest import start_stack
from tests.support import drop_namespaces, free_port

DOUBLED = (VALIDATION.name, BOARD_ROUTER.name, BOARD_SIM.name, PROJECTOR.name)


@pytest.fixture(scope="module")
def cluster_stack(cluster: LocalCluster, servers: dict[str, str], request: pytest.FixtureRequest
                  ) -> Iterator[ClusterStack]:
    records, began = request.module.WORLD_RECORDS, time.monotonic()
    # Logs outlive pytest's temporary folders, for a look after a failure.
    logs = local_dir() / "test-cluster" / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    stack = start_stack({"PARS_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
                         "PARS_DATABASE_URL": servers["PARS_DATABASE_URL"]}, logs, **cluster.env(),
                        PARS_BOARDS=BOARD)  # board-sim serves the workload's one board
    second = {}
    try:
        ports = {s: free_port() for s in DOUBLED}
        second = {s: second_process(stack, s, ports[s], logs / "second") for s in DOUBLED}
        for s, process in second.items():
            wait_process_ready(process, ports[s])
        stack.load_world(world(records))
        keys = {p: stack.pars("provider", "key", p).stdout.strip() for p in PROVIDERS}
        with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
            print(f"\ncluster faults: cluster up in {cluster.start_seconds:.0f} s; stack of "
                  f"{len(stack.processes) + len(second)} processes ready and a world of {records} physicians loaded "
                  f"in {time.monotonic() - began:.0f} s", flush=True)
        yield ClusterStack(stack, cluster, keys, second)
    finally:
        stop_services([*stack.processes.values(), *second.values()])
        with contextlib.suppress(Exception):  # the cluster's data outlives the session
            asyncio.run(drop_namespaces(cluster.bootstrap, servers["PARS_DATABASE_URL"], [stack.settings.namespace]))
