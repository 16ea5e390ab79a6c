"""`python -m bench ceiling [--messages N]`: what plain aiokafka moves through the pipeline's hops on this machine.

The ceiling the pipeline's figures are measured against, on the same broker and in the same run: one process per
hop, as the services are, and the same hops a kept MOC record takes (intake → validation → router → board →
router → projector). Every hop is a consumer group member that decodes each message's JSON, adds a field,
encodes it and produces it on (acks=all, idempotent producer, the pipeline's batch and linger settings), then
commits its offsets once the batch's sends are acknowledged, as the services do. No database, no rules: what
remains is the cost of Kafka and of the JSON at each hop.
"""

import argparse
import asyncio
import json
import logging
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.settings import Settings
from tests.support import drop_namespaces_now, unique_namespace

PARTITIONS = 6  # as the registry's record topics
# A submission about the size of the pipeline's SubmitRecord (one MOC target), so bytes per message compare.
SAMPLE: dict[str, Any] = {
    "event_type": "SubmitRecord", "event_id": "", "correlation_id": "", "provider_id": "0008001",
    "record": {"record_id": "", "submission_id": "", "provider_id": "0008001", "channel": "api", "action": "Add",
               "credit_id": "ccid:bench:0", "activity_id": "210016865", "first_name": "Harper",
               "last_name": "Benton", "dob": "11/11", "npi": None, "medical_school": None,
               "completion_date": "2021-11-02", "target": {"kind": "moc", "code": "ABOHNS"},
               "learner_id": "19927", "credits": "8",
               "credit_types": [{"name": "Self-Assessment", "points": "8"}, {"name": "Patient Safety", "points": "1"}],
               "rems": None},
}


@dataclass(frozen=True)
class Hop:
    """One process: what it reads, and where each event type it reads goes next (None: the end of the line)."""

    name: str
    reads: tuple[str, ...]
    routes: dict[str, tuple[str, str] | None]  # event_type in -> (topic out, event_type out)


HOPS = (
    Hop("validation", ("submissions",), {"SubmitRecord": ("record-events", "RecordSubmitted")}),
    Hop("router", ("record-events", "board-responses"),
        {"RecordSubmitted": ("board-requests", "ProcessBoardRequest"),
         "BoardVerdict": ("record-events", "RecordAccepted")}),
    Hop("board", ("board-requests",), {"ProcessBoardRequest": ("board-responses", "BoardVerdict")}),
    Hop("projector", ("record-events",), {"RecordSubmitted": None, "RecordAccepted": None}),
)
TOPICS = ("submissions", "record-events", "board-requests", "board-responses")
SETTLED = "RecordAccepted"  # the event that ends a record's way through the chain


def _producer(servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=servers, acks="all", enable_idempotence=True, linger_ms=5,
                            max_batch_size=512 * 1024)


async def _run_hop(hop: Hop, servers: str, namespace: str, expected: int, ready: Event, done: Event) -> None:
    consumer = AIOKafkaConsumer(*(f"{namespace}.{t}" for t in hop.reads), bootstrap_servers=servers,
                                group_id=f"{namespace}.{hop.name}", enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=1000)
    producer = _producer(servers)
    await consumer.start()
    await producer.start()
    settled = 0
    try:
        for _ in range(2400):  # the group join, up to 2 minutes: then measure() gives up
            if consumer.assignment():
                ready.set()
                break
            await asyncio.sleep(0.05)
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            pending = []
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["event_type"] not in hop.routes:
                        continue
                    route = hop.routes[event["event_type"]]
                    if route is None:
                        settled += event["event_type"] == SETTLED
                        continue
                    topic, event_type = route
                    event[hop.name] = time.time()  # the field each hop adds
                    event["event_type"] = event_type
                    pending.append(await producer.send(f"{namespace}.{topic}", json.dumps(event).encode(),
                                                       key=record.key))
            if pending:
                await asyncio.gather(*pending)
            if batches:
                await consumer.commit()
            if expected and settled >= expected:
                done.set()
    finally:
        await producer.stop()
        await consumer.stop()


def _hop_process(hop: Hop, servers: str, namespace: str, expected: int, ready: Event, done: Event) -> None:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # group joins and leaves say nothing worth printing
    asyncio.run(_run_hop(hop, servers, namespace, expected, ready, done))


async def _create_topics(servers: str, namespace: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{namespace}.{t}", PARTITIONS, 1) for t in TOPICS])
    finally:
        await admin.close()


async def _send(servers: str, namespace: str, count: int) -> None:
    producer = _producer(servers)
    await producer.start()
    try:
        pending = []
        for i in range(count):
            event = {**SAMPLE, "event_id": str(uuid.uuid4()),
                     "record": {**SAMPLE["record"], "record_id": str(uuid.uuid4()), "credit_id": f"ccid:bench:{i}"}}
            pending.append(await producer.send(f"{namespace}.submissions", json.dumps(event).encode(),
                                               key=f"0008001:ccid:bench:{i}".encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def measure(settings: Settings, messages: int) -> float:
    """Records per second through the whole chain, first send to last record settled at the projector."""
    namespace = unique_namespace("ceiling")
    servers = settings.kafka_bootstrap_servers
    asyncio.run(_create_topics(servers, namespace))
    spawn = multiprocessing.get_context("spawn")
    done = spawn.Event()
    readies = [spawn.Event() for _ in HOPS]
    processes = [spawn.Process(target=_hop_process, daemon=True,
                               args=(hop, servers, namespace, messages if hop.name == "projector" else 0, ready,
                                     done))
                 for hop, ready in zip(HOPS, readies, strict=True)]
    try:
        for process in processes:
            process.start()
        for ready in readies:
            if not ready.wait(120):
                raise SystemExit("the ceiling's consumers did not join their groups within 120 s")
        began = time.perf_counter()
        asyncio.run(_send(servers, namespace, messages))
        if not done.wait(600):
            raise SystemExit("the ceiling's chain did not settle every message within 600 s")
        return messages / (time.perf_counter() - began)
    finally:
        done.set()
        for process in processes:
            process.join(15)
            if process.is_alive():
                process.kill()
        drop_namespaces_now(servers, settings.database_url)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ceiling", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args(argv)
    rate = measure(Settings(), args.messages)
    print(f"ceiling (plain aiokafka, {len(HOPS)} hop processes): {rate:.0f} records/s end to end "
          f"({args.messages} records)")
