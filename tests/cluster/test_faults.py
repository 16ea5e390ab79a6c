"""Faults a three-node cluster must survive, on the session's own cluster (deploy/local/kafka-cluster.sh) with one
stack whose validation, board-router, board-sim and projector run as two processes each:

- kill -9 of the node leading the most partitions of pars.submissions and pars.record-events during an ingest
  (8,000 records in `make test`, 20,000 in `make chaos`; it comes back later in the ingest): every record answered
  202 ends in its final status exactly once;
- kill -9 of one of the two processes of validation, board-router, board-sim and projector, one after the other
  during one ingest, none brought back: the survivors take the partitions, nothing is lost or doubled;
- one node stopped for a minute during a steady flow of uploads: every request is answered 202 the first time,
  and every record settles.

Each record's outcome is read from the projection in PostgreSQL (status, PARS rejections, and each kept record's
timeline: one RecordSubmitted and one verdict), and each upload's tallies from the upload history.
PARS_CLUSTER_RECORDS (8,000) and PARS_CLUSTER_INSTANCE_RECORDS (6,000) size the first two ingests.
"""

import asyncio
import os
import random
import threading
import time
from functools import partial

import pytest

from pars_cli.stack import local_dir
from shared.service_registry import BOARD_ROUTER, BOARD_SIM, PROJECTOR, VALIDATION
from tests.chaos.harness import Round
from tests.cluster.faults import (
    REPORT,
    ClusterStack,
    Fault,
    Outcome,
    busiest_leader,
    ingest,
    leader_counts,
    outcome,
    paced_ingest,
    plan,
)

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

LEADER_RECORDS = int(os.environ.get("PARS_CLUSTER_RECORDS") or 8_000)
INSTANCE_RECORDS = int(os.environ.get("PARS_CLUSTER_INSTANCE_RECORDS") or 6_000)
OUTAGE_SECONDS = 60.0
PACE = 0.25  # seconds between two requests of the steady flow
FLOW_ITEMS = 1200  # at most 300 s of requests: the outage, the restart, and some before and after
FLOW_FILES, FLOW_ROWS = 200, 10  # of them small files, the rest single completions
FLOW_RECORDS = FLOW_ITEMS - FLOW_FILES + FLOW_FILES * FLOW_ROWS
WORLD_RECORDS = LEADER_RECORDS + INSTANCE_RECORDS + FLOW_RECORDS  # read by tests/cluster/conftest.py
SEED = int(os.environ.get("PARS_CLUSTER_SEED") or random.randrange(1_000_000))
SETTLE_SECONDS = 240.0


def show(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """On the terminal though pytest captures output (CI's log shows each scenario's figures), and in
    .local/test-cluster/logs/cluster-faults.txt."""
    with capsys.disabled():
        print(f"\n{text}", flush=True)
    with (local_dir() / "test-cluster" / "logs" / REPORT).open("a", encoding="utf-8") as report:
        print(text, file=report)


def judged(capsys: pytest.CaptureFixture[str], result: Outcome, faults: list[Fault], extra: str = "") -> None:
    done = "; ".join(f"{f.name} at {f.at_seconds:.0f} s (+{f.took:.0f} s)" for f in faults
                     if f.at_seconds is not None and f.took is not None)
    show(capsys, f"cluster faults (seed {SEED}): {result.line()}" + (f"\n  faults: {done}{extra}" if faults else ""))
    assert result.clean, f"{result.line()}\n{result.problems()}"
    assert len([f for f in faults if f.took is not None]) == len(faults), "a fault did not happen during the ingest"


def leader_counts_now(cs: ClusterStack) -> dict[int, int]:
    return dict(asyncio.run(leader_counts(cs.stack.settings, cs.cluster)))


@pytest.mark.timeout(900)
def test_killing_the_busiest_leader_loses_and_doubles_nothing(cluster_stack: ClusterStack,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    cs, rng = cluster_stack, random.Random(SEED)
    settings, cluster = cs.stack.settings, cs.cluster
    led_before = leader_counts_now(cs)
    round_ = Round(1, "leader killed", 0, LEADER_RECORDS, plan(1, 0, LEADER_RECORDS, rng, LEADER_RECORDS // 50), [])
    killed: list[int] = []

    def kill_leader() -> None:
        node = busiest_leader(settings, cluster)
        cluster.kill(node)
        killed.append(node)

    faults = [Fault("kill -9 of the busiest leader", LEADER_RECORDS * 3 // 10, kill_leader),
              Fault("its restart", LEADER_RECORDS * 6 // 10, lambda: cluster.start(*killed))]
    ingest(cs, round_, faults)
    led_after = leader_counts_now(cs)
    result = outcome(cs, round_, SETTLE_SECONDS)
    judged(capsys, result, faults, f"; node {killed} killed; partitions led per node before {dict(led_before)}, "
                                   f"after {dict(led_after)}")
    assert killed and led_before[killed[0]] > 0  # the node killed led record partitions


@pytest.mark.timeout(600)
def test_killing_one_of_two_processes_of_each_worker_loses_and_doubles_nothing(
        cluster_stack: ClusterStack, capsys: pytest.CaptureFixture[str]) -> None:
    cs, rng, first = cluster_stack, random.Random(SEED + 1), LEADER_RECORDS
    round_ = Round(2, "worker processes killed", first, INSTANCE_RECORDS,
                   plan(2, first, INSTANCE_RECORDS, rng, INSTANCE_RECORDS // 50), [])
    # The first process of validation and the router, the second of board-sim and the projector: either may go.
    # (Intake reaches validation's own routes on the first one's port, but only for dry runs, which this
    # workload does not send.)
    victims = [(VALIDATION.name, 1), (BOARD_ROUTER.name, 1), (BOARD_SIM.name, 2), (PROJECTOR.name, 2)]
    exits: dict[str, int | None] = {}

    def kill(service: str, which: int) -> None:
        process, survivor = cs.process(service, which), cs.process(service, 3 - which)
        assert process.alive and survivor.alive, f"both {service} processes run before the kill"
        assert process.process is not None
        process.process.kill()  # SIGKILL: no commit, no leaving the group; its partitions move at the session's end
        exits[f"{service} #{which}"] = process.wait(10)

    # At 15, 30, 45 and 60% of the round's records (the sender counts the round's own).
    faults = [Fault(f"kill -9 of {service} #{which}", INSTANCE_RECORDS * (15 + 15 * n) // 100,
                    partial(kill, service, which)) for n, (service, which) in enumerate(victims)]
    ingest(cs, round_, faults)
    result = outcome(cs, round_, SETTLE_SECONDS)
    judged(capsys, result, faults, f"; exit codes {exits}")
    assert set(exits.values()) == {-9}, exits
    # The survivors did the rest: none was restarted, and each is still running.
    assert all(cs.process(s, 3 - w).alive and not cs.process(s, w).alive for s, w in victims)


@pytest.mark.timeout(600)
def test_one_node_stopped_for_a_minute_every_upload_is_accepted(cluster_stack: ClusterStack,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    cs, rng = cluster_stack, random.Random(SEED + 2)
    first = LEADER_RECORDS + INSTANCE_RECORDS
    round_ = Round(3, "node stopped for a minute", first, FLOW_RECORDS,
                   plan(3, first, FLOW_RECORDS, rng, FLOW_ITEMS - FLOW_FILES, rows=FLOW_ROWS), [])
    node = busiest_leader(cs.stack.settings, cs.cluster)
    window: dict[str, float] = {}

    def outage() -> None:
        time.sleep(10)  # the flow runs a while before
        window["stopping"] = time.monotonic()
        cs.cluster.stop(node)  # SIGTERM: a controlled shutdown, its partitions led elsewhere first
        window["down"] = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        window["back"] = time.monotonic()
        cs.cluster.start(node)
        window["started"] = time.monotonic()

    striker = threading.Thread(target=outage, name="node-outage")
    striker.start()
    # The flow goes on until the node is back and serving, and 5 s more.
    sent_at = paced_ingest(cs, round_, PACE, until=lambda: time.monotonic() > window.get("started", float("inf")) + 5)
    striker.join()
    assert "started" in window, f"the flow of {FLOW_ITEMS} requests ended before the node was back"
    during = [i for i, at in zip(round_.items, sent_at, strict=True) if window["stopping"] <= at < window["back"]]
    result = outcome(cs, round_, SETTLE_SECONDS)
    refused_during = sum(i.attempts - 1 for i in during) + sum(not i.acknowledged for i in during)
    show(capsys, f"round 3: node {node} stopping {window['down'] - window['stopping']:.0f} s, down "
                 f"{window['back'] - window['down']:.0f} s, starting {window['started'] - window['back']:.0f} s: "
                 f"{len(during)} requests sent while it stopped or was down, {len(during) - refused_during} answered "
                 "202 the first time")
    judged(capsys, result, [])
    assert len(during) >= OUTAGE_SECONDS / PACE * 0.9
    assert refused_during == 0 and round_.refused == 0, [i.refused_for_good for i in round_.items if
                                                         i.refused_for_good]
