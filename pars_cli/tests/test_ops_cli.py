"""`pars tail`, `pars lag` and `pars dlq` on the real Kafka and PostgreSQL: redacted messages, lag per partition,
dead letters re-driven once and recorded like the console's actions."""

import asyncio
import json
import threading
import time
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from intake.ops.tests.test_ops import RECORD, publish
from pars_cli import main, ops
from shared.kafka import ensure_topics
from shared.settings import Settings
from shared.topics import RECORD_EVENTS, dead_letters

runner = CliRunner()


def test_since_takes_a_time_or_a_span_back() -> None:
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert ops.parse_since("15m", now) == datetime(2026, 1, 5, 11, 45, tzinfo=UTC)
    assert ops.parse_since("1d", now) == datetime(2026, 1, 4, 12, 0, tzinfo=UTC)
    assert ops.parse_since("2026-01-05T09:00") == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    refused = runner.invoke(main.app, ["tail", "pars.record-events", "--since", "yesterday"])
    assert refused.exit_code == 2 and "--since" in refused.output


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(ops, "get_settings", lambda: settings)
    return settings


@pytest.mark.integration
def test_tail_shows_redacted_messages_by_key_and_time_and_follows(cli_settings: Settings) -> None:
    settings = cli_settings
    asyncio.run(ensure_topics(settings, [RECORD_EVENTS]))
    values = [json.dumps({"event_type": "RecordSubmitted", "n": i, "record": RECORD}).encode() for i in range(3)]
    asyncio.run(publish(settings, RECORD_EVENTS.name, values, {"event_type": "RecordSubmitted"}))

    shown = runner.invoke(main.app, ["tail", "pars.record-events", "--json"])
    assert shown.exit_code == 0, shown.output
    assert [m["value"]["n"] for m in json.loads(shown.stdout)] == [0, 1, 2]
    assert "11/11" not in shown.stdout and "MD.205357" not in shown.stdout  # redacted as on the console
    by_key = runner.invoke(main.app, ["tail", "pars.record-events", "--key", "k1", "--json"])
    assert [m["value"]["n"] for m in json.loads(by_key.stdout)] == [1]
    later = runner.invoke(main.app, ["tail", "pars.record-events", "--since", "2099-01-01T00:00", "--json"])
    assert json.loads(later.stdout) == []
    table = runner.invoke(main.app, ["tail", "pars.record-events"])
    assert table.exit_code == 0 and "RecordSubmitted key=k2" in table.stdout
    unknown = runner.invoke(main.app, ["tail", "pars.nothing"])
    assert unknown.exit_code == 2 and "pars.record-events" in unknown.stderr

    result: dict = {}

    def follow() -> None:
        result["run"] = runner.invoke(main.app, ["tail", "pars.record-events", "-f", "--key", "new", "--count", "1",
                                                 "--json"])

    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(3)  # the follower positions itself at the end first; what comes after reaches it either way
    new = [json.dumps({"event_type": "RecordAccepted", "n": "late", "record": RECORD}).encode()]

    async def send_new() -> None:
        from aiokafka import AIOKafkaProducer
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(settings.topic(RECORD_EVENTS.name), new[0], key=b"new")
        finally:
            await producer.stop()

    asyncio.run(send_new())
    follower.join(timeout=30)
    assert not follower.is_alive()
    lines = [json.loads(line) for line in result["run"].stdout.splitlines()]
    assert [m["value"]["n"] for m in lines] == ["late"] and lines[0]["value"]["record"]["dob"] == "[redacted]"


@pytest.mark.integration
def test_lag_lists_every_group_per_partition(cli_settings: Settings) -> None:
    settings = cli_settings
    asyncio.run(ensure_topics(settings, [RECORD_EVENTS]))
    asyncio.run(publish(settings, RECORD_EVENTS.name, [b'{"n": 1}', b'{"n": 2}'], {}))

    async def commit_all() -> None:
        consumer = AIOKafkaConsumer(settings.topic(RECORD_EVENTS.name), group_id=settings.group("pars.projector"),
                                    bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            got = 0
            while got < 2:
                got += sum(len(r) for r in (await consumer.getmany(timeout_ms=2000)).values())
            await consumer.commit()
        finally:
            await consumer.stop()

    asyncio.run(commit_all())
    answer = runner.invoke(main.app, ["lag", "--json"])
    assert answer.exit_code == 0, answer.output
    rows = json.loads(answer.stdout)
    projector = [r for r in rows if r["group"] == "pars.projector"]
    notifier = [r for r in rows if r["group"] == "pars.notifier"]
    assert len(projector) == settings.kafka_partitions and sum(r["lag"] for r in projector) == 0
    assert sum(r["lag"] for r in notifier) == 2 and {r["topic"] for r in notifier} == {"pars.record-events"}
    table = runner.invoke(main.app, ["lag"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "pars.projector" in table.stdout and "total lag" in table.stderr


@pytest.mark.integration
def test_dead_letters_are_listed_redriven_once_and_skipped(cli_settings: Settings) -> None:
    settings = cli_settings
    dlq = dead_letters("projector")
    asyncio.run(ensure_topics(settings, [RECORD_EVENTS, dlq]))
    asyncio.run(publish(settings, dlq.name, [b'{"dob": "11/11"}', b'{"n": 2}', b'{"n": 3}'], {
        "dlq.error": "ValidationError", "dlq.service": "projector",
        "dlq.source.topic": settings.topic(RECORD_EVENTS.name), "dlq.source.partition": "0",
        "dlq.source.offset": "1"}))

    listed = runner.invoke(main.app, ["dlq", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    letters = json.loads(listed.stdout)
    assert [d["letter"] for d in letters] == [f"pars.dlq.projector/0/{i}" for i in range(3)]
    assert all(d["action"] is None for d in letters) and "11/11" not in listed.stdout

    first = runner.invoke(main.app, ["dlq", "redrive", "pars.dlq.projector/0/0", "--json"])
    again = runner.invoke(main.app, ["dlq", "redrive", "pars.dlq.projector/0/0"])
    assert first.exit_code == 0 and json.loads(first.stdout)["done"], first.output
    assert json.loads(first.stdout)["action"]["operator"].startswith("cli")
    assert again.exit_code == 0 and "already handled (redrive by cli" in again.stdout
    missing = runner.invoke(main.app, ["dlq", "skip", "pars.dlq.projector/0/99"])
    assert missing.exit_code == 1 and "no dead letter" in missing.stderr
    assert runner.invoke(main.app, ["dlq", "skip"]).exit_code == 2  # neither letters nor --all
    assert runner.invoke(main.app, ["dlq", "skip", "bad-name"]).exit_code == 2

    skipped = runner.invoke(main.app, ["dlq", "skip", "--all", "--service", "projector", "--json"])
    assert json.loads(skipped.stdout) == {"done": 2, "already": 1, "refused": 0}
    pending = runner.invoke(main.app, ["dlq", "list", "--pending", "--json"])
    assert json.loads(pending.stdout) == []
    done = {d["letter"]: d["action"]["action"] for d in json.loads(runner.invoke(main.app, ["dlq", "list",
                                                                                            "--json"]).stdout)}
    assert done == {"pars.dlq.projector/0/0": "redrive", "pars.dlq.projector/0/1": "skip",
                    "pars.dlq.projector/0/2": "skip"}
    copies = runner.invoke(main.app, ["tail", "pars.record-events", "--json"])
    assert len(json.loads(copies.stdout)) == 1  # the re-driven letter, once
