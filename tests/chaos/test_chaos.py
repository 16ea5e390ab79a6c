"""The chaos suite: rounds of ingest (batch files of every format and API completions, from two providers)
while every service is killed with SIGKILL at random moments, Kafka is killed with SIGKILL and started
again, and PostgreSQL is restarted. Once the pipeline is quiet, every record answered 202 must be in exactly
one final status, every batch's tallies must match its rows, and every rejection a digest should carry must
be in exactly one e-mail. A table of rounds and outcomes is printed either way.

`make test` runs it at a size that fits CI; `make chaos` at full size (PARS_CHAOS_RECORDS=20000, more
rounds). PARS_CHAOS_SEED repeats a run's plan (which records, which kills when); PARS_CHAOS_KINDS=postgres
(or kafka, services, or several, comma-separated) gives every round one kind.

The suite starts a Kafka and a PostgreSQL of its own (`.local/chaos`, other ports) with the project's
scripts: it kills those, never the servers other tests share.
"""

import asyncio
import contextlib
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from pars_cli.stack import local_dir
from tests.chaos.harness import KINDS, Chaos, Round, Sender, plan_kills
from tests.chaos.outcomes import batch_tallies, mailed_rejections, outcomes, read_final_state, table, unresolved
from tests.chaos.servers import ChaosServers
from tests.chaos.workload import PROVIDERS, plan_round, world
from tests.e2e.conftest import start_stack, stop_services
from tests.e2e.test_notifier_digests import Mailbox, linked_records
from tests.support import drop_namespaces, free_port

pytestmark = pytest.mark.e2e

RECORDS = int(os.environ.get("PARS_CHAOS_RECORDS", "1200"))
ROUNDS = int(os.environ.get("PARS_CHAOS_ROUNDS", "3"))
# What the rounds kill, in turn: "services" (each of the six once), "kafka", "postgres".
ROUND_KINDS = tuple(os.environ.get("PARS_CHAOS_KINDS", ",".join(KINDS)).split(","))
SEED = int(os.environ.get("PARS_CHAOS_SEED") or random.randrange(1_000_000))
DIGEST_SECONDS = 5
QUIET_SECONDS = 150 + RECORDS // 40  # for the pipeline to settle after the last round


@pytest.fixture
def chaos_servers() -> Iterator[ChaosServers]:
    servers = ChaosServers.fresh(local_dir() / "chaos")
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def chaos_mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def show(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """On the terminal even though pytest captures output: CI's log shows it, and so does `make chaos`."""
    with capsys.disabled():
        print(f"\n{text}", flush=True)


@pytest.mark.timeout(900 + RECORDS // 5)
def test_kills_during_ingest_lose_and_double_nothing(chaos_servers: ChaosServers,
                                                     chaos_mailbox: tuple[Mailbox, int],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    box, smtp_port = chaos_mailbox
    rng = random.Random(SEED)
    servers = {"PARS_KAFKA_BOOTSTRAP_SERVERS": chaos_servers.kafka, "PARS_DATABASE_URL": chaos_servers.database_url}
    logs = chaos_servers.local_dir / "logs"  # outlives pytest's temporary folders, for a look after a failure
    shutil.rmtree(logs, ignore_errors=True)
    stack = start_stack(servers, logs, PARS_SMTP_HOST="127.0.0.1", PARS_SMTP_PORT=str(smtp_port),
                        PARS_DIGEST_SECONDS=str(DIGEST_SECONDS))
    try:
        stack.load_world(world(RECORDS))
        keys = {p: stack.pars("provider", "key", p).stdout.strip() for p in PROVIDERS}
        sender, chaos, rounds, first = Sender(stack, keys), Chaos(stack, chaos_servers, rng), [], 0
        for number in range(1, ROUNDS + 1):
            count = RECORDS // ROUNDS if number < ROUNDS else RECORDS - first
            kind = ROUND_KINDS[(number - 1) % len(ROUND_KINDS)]
            round_ = Round(number, kind, first, count, plan_round(number, first, count, rng),
                           plan_kills(kind, count, rng))
            rounds.append(round_)
            chaos.run_round(round_, sender)
            first += count

        # Quiet: every acknowledged record has its outcome, or the wait gives up and the table says what is not.
        deadline = time.monotonic() + QUIET_SECONDS
        while True:
            state = read_final_state(stack.settings)
            if not unresolved(rounds, state) or time.monotonic() > deadline:
                break
            time.sleep(3)
        tallies = batch_tallies(stack.api, keys, rounds)

        expected_mail, deadline = mailed_rejections(state), time.monotonic() + 60 + 3 * DIGEST_SECONDS

        def mails_per_record() -> Counter[str]:
            return Counter(r for m in box.by_message_id().values() for r in set(linked_records(m)))

        while not expected_mail <= set(mails_per_record()) and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(DIGEST_SECONDS + 1)  # a further window passes: no digest repeats a rejection
        mailed = mails_per_record()
        results = outcomes(rounds, state, tallies, mailed)
        report = table(results, state, len(box.by_message_id()), len(set(mailed) - expected_mail))
        show(capsys, f"chaos suite: {RECORDS} records, {ROUNDS} rounds, seed {SEED}\n{report}")
        (logs / "chaos-table.txt").write_text(report, encoding="utf-8")

        assert all(o.clean for o in results), report
        assert state.dead_letters == 0 and state.same_credit_id == 0, report
        assert set(mailed) == expected_mail, report
    finally:
        stop_services(list(stack.processes.values()))
        with contextlib.suppress(Exception):
            asyncio.run(drop_namespaces(chaos_servers.kafka, chaos_servers.database_url, [stack.settings.namespace]))
