"""What the cluster fault tests share: a stack on the session's three-node cluster with a second process of the
workers the tests kill, ingests planned as the chaos suite plans them, faults fired once a share of an ingest was
sent, and where every acknowledged record ended, read from the projection in PostgreSQL.

The chaos suite's parts are reused: its sender (retries a refused request with the same credit ID or looks a
cut-off upload up in the history), its workload (record i is learner i's one completion, with a planned fate)
and its verdict per record and batch tallies.
"""

import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from intake.batch_files.model import FileFormat
from pars_cli.cluster import LocalCluster
from pars_cli.stack import ServiceProcess
from shared.kafka import kafka_client_args
from shared.settings import Settings
from shared.topics import RECORD_EVENTS, SUBMISSIONS
from tests.chaos.harness import Round, Sender
from tests.chaos.outcomes import FinalState, Kept, ParsRejection, batch_tallies, judge
from tests.chaos.workload import PROVIDERS, Item, board_id, index_of
from tests.e2e.conftest import Stack

REPORT = "cluster-faults.txt"  # each scenario's figures, beside the stack's logs
FILE_ROWS = 500
FORMATS = (FileFormat.TXT, FileFormat.XLSX, FileFormat.XML)


@dataclass
class ClusterStack:
    """The six services on the cluster, plus a second process of each worker some test kills."""

    stack: Stack
    cluster: LocalCluster
    keys: dict[str, str]
    second: dict[str, ServiceProcess]  # service -> its second process (its own health port and log)
    rounds: list[Round] = field(default_factory=list)  # every ingest so far (batch tallies look at all uploads)

    def process(self, service: str, which: int) -> ServiceProcess:
        return self.stack.processes[service] if which == 1 else self.second[service]


def plan(number: int, first: int, count: int, rng: random.Random, singles: int,
         rows: int = FILE_ROWS) -> list[Item]:
    """Records first .. first+count-1: `singles` of them one completion a request, the rest in files of `rows`
    rows in every format (most of an ingest's volume comes in files, as a provider's does)."""
    in_files = count - singles
    items = [Item(PROVIDERS[n % 2], list(range(start, min(start + rows, first + in_files))),
                  (f"cluster-r{number}-{n}.{FORMATS[n % 3].value}", FORMATS[n % 3]))
             for n, start in enumerate(range(first, first + in_files, rows))]
    items += [Item(PROVIDERS[i % 2], [i]) for i in range(first + in_files, first + count)]
    rng.shuffle(items)
    return items


@dataclass
class Fault:
    """Something done once the ingest has sent `at` records; what happened is kept for the report."""

    name: str
    at: int
    act: Callable[[], object]
    at_seconds: float | None = None
    took: float | None = None


def ingest(cs: ClusterStack, round_: Round, faults: list[Fault]) -> None:
    """Sends the round's items (SENDERS at a time, retried as the chaos suite does) while the faults fire in turn;
    an exception in a fault fails the test after the sending is over."""
    sender, began, failures = Sender(cs.stack, cs.keys), time.monotonic(), []

    def strike() -> None:
        try:
            for fault in sorted(faults, key=lambda f: f.at):
                sender.wait_sent(fault.at)
                fault.at_seconds = time.monotonic() - began
                fault.act()
                fault.took = time.monotonic() - began - fault.at_seconds
        except BaseException as exc:
            failures.append(exc)

    striker = threading.Thread(target=strike, name=f"faults-round-{round_.number}")
    striker.start()
    sender.run(round_.items)
    striker.join()
    round_.seconds = time.monotonic() - began
    cs.rounds.append(round_)
    if failures:
        raise failures[0]


def paced_ingest(cs: ClusterStack, round_: Round, every: float, until: Callable[[], bool]) -> list[float]:
    """Sends one item each `every` seconds whatever the answers take (a steady flow of uploads, not a flood) until
    `until()` or the planned items run out; the round keeps the items sent. Answers when each was sent."""
    sender, began, sent, at = Sender(cs.stack, cs.keys), time.monotonic(), [], []

    def send(item: Item) -> None:
        try:
            sender._send(item)  # the chaos sender's one request, retried when refused
        except Exception as exc:
            item.refused_for_good = f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(16) as pool:
        for n, item in enumerate(round_.items):
            if until():
                break
            time.sleep(max(0.0, began + n * every - time.monotonic()))
            at.append(time.monotonic())
            sent.append(item)
            pool.submit(send, item)
    round_.items, round_.records = sent, sum(len(i.indexes) for i in sent)
    round_.seconds = time.monotonic() - began
    cs.rounds.append(round_)
    return at


async def leader_counts(settings: Settings, cluster: LocalCluster) -> Counter[int]:
    """How many partitions of pars.submissions and pars.record-events each node leads now."""
    admin = AIOKafkaAdminClient(**kafka_client_args(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([settings.topic(SUBMISSIONS.name), settings.topic(RECORD_EVENTS.name)])
    finally:
        await admin.close()
    return Counter(p["leader"] for t in described for p in t["partitions"] if p["leader"] in (1, 2, 3))


def busiest_leader(settings: Settings, cluster: LocalCluster) -> int:
    """The node (its node.id) leading the most partitions of the record topics."""
    counts = asyncio.run(leader_counts(settings, cluster))
    return counts.most_common(1)[0][0]


async def _final_state(settings: Settings, learners: list[str]) -> tuple[FinalState, dict[str, tuple[int, int]]]:
    """Where these learners' records are: kept records (with their status) and PARS rejections from the
    projection, and per kept record how many RecordSubmitted and verdict events its timeline holds."""
    schema, state = settings.schema("projection"), FinalState()
    conn = await asyncpg.connect(settings.database_url)
    try:
        kept = await conn.fetch("SELECT record_id, provider_id, credit_id, board, learner_id, status"
                                f" FROM {schema}.records WHERE NOT deleted AND learner_id = ANY($1::text[])", learners)
        rejected = await conn.fetch(f"SELECT record_id, provider_id, learner_id, errors FROM {schema}.pars_rejections"
                                    " WHERE learner_id = ANY($1::text[])", learners)
        events = await conn.fetch(
            f"SELECT e.record_id::text AS record_id,"
            " count(*) FILTER (WHERE e.event_type = 'RecordSubmitted') AS submitted,"
            " count(*) FILTER (WHERE e.event_type IN ('RecordAccepted', 'RecordRejected')) AS verdicts"
            f" FROM {schema}.records r JOIN {schema}.record_events e USING (record_id)"
            " WHERE NOT r.deleted AND r.learner_id = ANY($1::text[]) GROUP BY e.record_id", learners)
    finally:
        await conn.close()
    for r in kept:
        if (i := index_of(r["learner_id"])) is not None:
            state.kept[i].append(Kept(r["record_id"], r["provider_id"], r["credit_id"], r["board"], r["status"]))
    for r in rejected:
        if (i := index_of(r["learner_id"])) is not None:
            state.rejected_by_pars[i].append(ParsRejection(r["record_id"], r["provider_id"], "",
                                                           [e["code"] for e in json.loads(r["errors"])]))
    return state, {r["record_id"]: (r["submitted"], r["verdicts"]) for r in events}


@dataclass
class Outcome:
    round: Round
    settled: int = 0
    lost: int = 0
    duplicated: int = 0
    unsettled: int = 0
    wrong: list[str] = field(default_factory=list)
    events_off: list[str] = field(default_factory=list)  # kept records whose timeline is not one of each
    batches_ok: int = 0
    batches: int = 0
    batch_problems: list[str] = field(default_factory=list)
    waited: float = 0.0  # seconds from the ingest's end until every record had its outcome

    @property
    def clean(self) -> bool:
        r = self.round
        return (self.settled == r.acknowledged and not (self.lost or self.duplicated or self.unsettled or self.wrong
                                                         or self.events_off or self.batch_problems)
                and self.batches_ok == self.batches and not any(i.refused_for_good for i in r.items))

    def line(self) -> str:
        r = self.round
        return (f"round {r.number} {r.kind}: {r.records} records in {len(r.items)} requests, {r.acknowledged} "
                f"acknowledged (202), {r.refused} refused and sent again, {self.settled} settled exactly once, "
                f"{self.lost + self.unsettled} lost or unsettled, {self.duplicated} doubled, "
                f"batches {self.batches_ok}/{self.batches}; ingest {r.seconds:.0f} s, all settled "
                f"{self.waited:.0f} s later")

    def problems(self) -> str:
        refused = [i.refused_for_good for i in self.round.items if i.refused_for_good]
        return "\n".join([*self.wrong[:10], *self.events_off[:10], *self.batch_problems[:10], *refused[:10]])


def outcome(cs: ClusterStack, round_: Round, within: float) -> Outcome:
    """Waits (up to `within` seconds) until every acknowledged record of the round has a final outcome, then
    judges each: in one final status (or rejected by PARS) as planned, once; its timeline one RecordSubmitted
    and one verdict; every upload's tallies matching its rows."""
    acknowledged = [(i, item) for item in round_.items if item.acknowledged for i in item.indexes]
    learners = [board_id(i) for i, _ in acknowledged]
    began, deadline = time.monotonic(), time.monotonic() + within
    while True:
        state, events = asyncio.run(_final_state(cs.stack.settings, learners))
        verdicts = [judge(i, item, state) for i, item in acknowledged]
        if not any(v.lost or v.unsettled for v in verdicts) or time.monotonic() > deadline:
            break
        time.sleep(2)
    result = Outcome(round_, waited=time.monotonic() - began)
    for v in verdicts:
        result.settled += v.settled
        result.lost += v.lost
        result.duplicated += v.duplicated
        result.unsettled += v.unsettled
        result.wrong += [v.wrong] if v.wrong else []
    for kept in state.kept.values():
        for k in kept:
            counts = events.get(str(k.record_id), (0, 0))
            if counts != (1, 1):
                result.events_off.append(f"record {k.record_id}: {counts[0]} RecordSubmitted, {counts[1]} verdicts")
    result.batches_ok, result.batches, result.batch_problems = batch_tallies(cs.stack.api, cs.keys, cs.rounds)[
        round_.number]
    return result


def wait_process_ready(process: ServiceProcess, port: int, timeout: float = 90.0) -> None:
    """A second process answers /readyz on its own port (PARS_HEALTH_PORT), not the registry's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive:
            raise RuntimeError(f"second {process.service} exited during start-up; see {process.log_file}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"second {process.service} not ready after {timeout:.0f} s")


def second_process(stack: Stack, service: str, port: int, log_dir: Path) -> ServiceProcess:
    process = ServiceProcess(service, {**stack.env, "PARS_HEALTH_PORT": str(port)}, log_dir)
    process.start()
    return process
