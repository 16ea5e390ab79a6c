"""POST /v1/completions when things go wrong: a retried request (Idempotency-Key), PostgreSQL restarting and Kafka
down. The outages run on a PostgreSQL and a Kafka of the test's own (deploy/local scripts, their own folder and
ports), never on the session's shared servers."""

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from pars_cli.stack import stop_services
from shared.settings import Settings
from shared.topics import RECORD_EVENTS, SUBMISSIONS
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.worlds import GUIDE_WORLD
from tests.support import free_port_block

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PROVIDER = "0008001"
WORLD = GUIDE_WORLD
# No credit ID: every POST of it would be a new completion, were it not for the Idempotency-Key.
COMPLETION = {"activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
              "completion_date": "2021-11-02",
              "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8, "credit_types": {"Self-Assessment": 8}}]}


def provider_key(stack: Stack) -> str:
    stack.load_world(WORLD)
    issued = stack.pars("provider", "key", PROVIDER)
    assert issued.returncode == 0, issued.stderr
    return issued.stdout.strip()


def records_of(api: httpx.Client) -> list[str]:
    return sorted(item["record_id"] for item in api.get("/v1/records", params={"per_page": 1000}).json()["items"])


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    return provider_key(stack)


# Idempotency-Key ---------------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_answers_the_first_submission(stack: Stack, key: str) -> None:
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    with stack.client(key) as api:
        before = records_of(api)
        first = api.post("/v1/completions", params={"wait": "true"}, json=COMPLETION, headers=headers)
        assert first.status_code == 202, first.text
        # The same completion spelt otherwise is the same completion.
        retry = api.post("/v1/completions", params={"wait": "true"}, content=json.dumps(COMPLETION, indent=2),
                         headers=headers | {"Content-Type": "application/json"})
        assert retry.status_code == 202, retry.text
        assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        [record] = first.json()["records"]
        assert record["status"] == "Submitted"
        stack.wait_for(lambda: record["record_id"] in records_of(api))
        assert records_of(api) == sorted([*before, record["record_id"]])  # one record, not two


def test_the_same_key_with_another_completion_is_refused(stack: Stack, key: str) -> None:
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    with stack.client(key) as api:
        assert api.post("/v1/completions", json=COMPLETION, headers=headers).status_code == 202
        other = api.post("/v1/completions", json=COMPLETION | {"completion_date": "2021-11-03"}, headers=headers)
        malformed = api.post("/v1/completions", json=COMPLETION, headers={"Idempotency-Key": "two words"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.json()["error"]["message"]
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_idempotency_key"


def test_simultaneous_retries_make_one_submission(stack: Stack, key: str) -> None:
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}

    def post(_: int) -> httpx.Response:
        with stack.client(key) as api:
            return api.post("/v1/completions", json=COMPLETION, headers=headers)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.json()["submission_id"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true", "true", "true"]


async def read_topic(settings: Settings, topic: str) -> list[ConsumerRecord]:
    """Every message of a topic of the stack's namespace (a few dozen here), from its start."""
    consumer = AIOKafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got: list[ConsumerRecord] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            got += [m for records in batch.values() for m in records]
    finally:
        await consumer.stop()
    return got


async def send_again(settings: Settings, record_id: str) -> None:
    """Publish a record's SubmitRecord again, as the relay does after a crash between Kafka's ack and the delete."""
    [sent] = [m for m in await read_topic(settings, SUBMISSIONS.name) if record_id.encode() in m.value]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(sent.topic, sent.value, key=sent.key, headers=list(sent.headers))
    finally:
        await producer.stop()


async def event_types(settings: Settings, record_id: str) -> list[str]:
    return [dict(m.headers)["event_type"].decode() for m in await read_topic(settings, RECORD_EVENTS.name)
            if record_id.encode() in m.value]


def test_a_submission_sent_twice_is_decided_once(stack: Stack, key: str) -> None:
    completion = COMPLETION | {"credit_id": f"twice-{uuid.uuid4().hex[:8]}"}
    with stack.client(key) as api:
        [record] = api.post("/v1/completions", params={"wait": "true"}, json=completion).json()["records"]
        assert record["status"] == "Submitted"
        asyncio.run(send_again(stack.settings, record["record_id"]))
        # Same credit ID, same key, same partition: once this one is decided, validation has read the copy.
        later = api.post("/v1/completions", params={"wait": "true"}, json=completion).json()["records"][0]
        assert [e["code"] for e in later["errors"]] == ["603"]  # the first record is live
    types = asyncio.run(event_types(stack.settings, record["record_id"]))
    # Decided again, the copy would have been rejected with 603 under the first record's ID.
    assert types.count("RecordSubmitted") == 1 and "RecordRejectedByPars" not in types


# Outages -----------------------------------------------------------------------------------------------------


class OwnServer:
    """A PostgreSQL or Kafka of this test's own, started and stopped with the project's deploy/local script."""

    def __init__(self, kind: str, folder: Path, port: int) -> None:
        self.kind, self.folder, self.port = kind, folder, port
        self.env = {"PARS_LOCAL_DIR": str(folder), f"PARS_LOCAL_{'PG' if kind == 'postgres' else 'KAFKA'}_PORT":
                    str(port)}

    def run(self, command: str) -> None:
        done = subprocess.run(["bash", str(REPO / "deploy" / "local" / f"{self.kind}.sh"), command],
                              env={**os.environ, **self.env}, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr

    @property
    def database_url(self) -> str:
        url_file = self.folder / "pg" / "database.url"  # the script's own password, when it makes one
        return url_file.read_text().strip() if url_file.exists() else \
            f"postgresql://postgres@127.0.0.1:{self.port}/pars"


@contextmanager
def own_server(kind: str) -> Iterator[OwnServer]:
    folder = Path("/tmp") / f"pars-e2e-{kind}-{uuid.uuid4().hex[:8]}"  # /tmp: the postgres user can reach it
    folder.mkdir(mode=0o755)
    server = OwnServer(kind, folder, free_port_block(2))
    if kind == "kafka":  # the broker's jars, as `make infra-start` fetched them, when there are some
        shipped = REPO / ".local" / "kafka"
        if (shipped / "libs.stamp").exists():
            (folder / "kafka").mkdir()
            shutil.copytree(shipped / "libs", folder / "kafka" / "libs")
            shutil.copy(shipped / "libs.stamp", folder / "kafka" / "libs.stamp")
    try:
        server.run("start")
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def stack_on(servers: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    stack = start_stack(servers, log_dir)
    try:
        yield stack
    finally:
        stop_services(list(stack.processes.values()))


def unavailable(answer: httpx.Response) -> bool:
    return answer.status_code == 503 and answer.headers.get("Retry-After", "").isdigit()


def test_postgresql_restarting_answers_503_with_retry_after(servers: dict[str, str], tmp_path: Path) -> None:
    with own_server("postgres") as postgres, \
            stack_on(servers | {"PARS_DATABASE_URL": postgres.database_url}, tmp_path / "logs") as stack:
        key = provider_key(stack)
        with stack.client(key) as api:
            assert api.post("/v1/completions", json=COMPLETION).status_code == 202
            postgres.run("stop")
            answers = [api.post("/v1/completions", json=COMPLETION), api.get("/v1/records"),
                       api.get("/v1/batches"), api.get("/v1/activities")]
            for answer in answers:
                assert unavailable(answer), answer.text
                assert answer.json()["error"]["code"] == "database_unavailable"
            postgres.run("start")
            again = stack.wait_for(lambda: (a := api.post("/v1/completions", json=COMPLETION)).status_code == 202
                                   and a, timeout=60)
            # Every service is back on its feet: the record is validated, sent to its board and listed.
            [record] = again.json()["records"]
            stack.wait_for(lambda: api.get(f"/v1/records/{record['record_id']}").status_code == 200, timeout=60)


def test_kafka_down_answers_503_at_once_and_keeps_what_it_answered(servers: dict[str, str], tmp_path: Path) -> None:
    with own_server("kafka") as kafka, \
            stack_on(servers | {"PARS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka.port}"}, tmp_path / "logs") as stack:
        key = provider_key(stack)
        # A client time-out well under the 65-90 s the API once hung: a hanging request fails the test.
        with httpx.Client(base_url=stack.api, headers={"Authorization": f"Bearer {key}"}, timeout=10) as api:
            assert api.post("/v1/completions", json=COMPLETION).status_code == 202
            kafka.run("stop")
            answered: list[str] = []  # records answered 202 while the outage was not noticed yet: kept

            def refused() -> bool:
                answer = api.post("/v1/completions", json=COMPLETION)
                if answer.status_code == 202:
                    answered.extend(r["record_id"] for r in answer.json()["records"])
                return unavailable(answer)

            stack.wait_for(refused, timeout=30)
            refusal = api.post("/v1/completions", json=COMPLETION)
            assert unavailable(refusal) and refusal.json()["error"]["code"] == "submissions_unavailable"
            with_key = api.post("/v1/completions", json=COMPLETION, headers={"Idempotency-Key": "outage-1"})
            assert unavailable(with_key)
            kafka.run("start")
            after = stack.wait_for(lambda: (a := api.post("/v1/completions", json=COMPLETION,
                                                          headers={"Idempotency-Key": "outage-1"})).status_code
                                   == 202 and a, timeout=90)
            answered += [r["record_id"] for r in after.json()["records"]]
            # Whatever was answered 202 reaches a status the provider sees.
            for record_id in answered:
                stack.wait_for(lambda r=record_id: api.get(f"/v1/records/{r}").status_code == 200, timeout=90)
