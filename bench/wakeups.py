"""`python -m bench wakeups [--seconds S]`: what a message costs a process that handles it alone, on this machine.

A caller at 100 requests/s (and one caller alone) gets each completion through every hop by itself: each process on
its way wakes from idle for it. This measures that cost apart from the pipeline, so the 100/s figure has a floor:
- a wake-up: an asyncio (uvloop) task sleeping until its next tick, with no work and with a little, at 100 and at
  1,000 ticks a second (CPU a tick, from getrusage);
- a Kafka hop: a bare aiokafka producer (acks=all, idempotent, no linger, as the services') sending one message at a
  time, and a consumer (no group, long polls, as the services') receiving them, in two processes: each one's CPU a
  message, at 100 and at 1,000 messages a second.
A completion waited on crosses two such hops (intake → validation → intake) besides its PostgreSQL round trips.
"""

import argparse
import asyncio
import json
import multiprocessing
import resource
import time
import uuid
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pars_cli.stack import start_servers, stop_servers
from shared.consumer import FETCH_LOOP_WAIT_MS, FETCH_WAIT_MS
from shared.settings import Settings
from tests.support import unique_namespace

RATES = (100, 1000)
PARTITIONS = 6  # as the record topics'
VALUE = json.dumps({"event_type": "SubmitRecord", "pad": "x" * 900}).encode()  # about a SubmitRecord's size


async def _paced(rate: float, count: int) -> AsyncIterator[int]:
    """0 … count-1, the i-th at i / rate seconds from the first, whatever the work between took."""
    began = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        yield i


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


async def _ticks(rate: float, seconds: float, work: int) -> float:
    """CPU seconds a tick: sleep until the next tick, then `work` rounds of a small JSON round trip."""
    document = {"numbers": list(range(50)), "text": "x" * 500}
    count = int(rate * seconds)
    before = _cpu()
    async for _ in _paced(rate, count):
        for _ in range(work):
            json.loads(json.dumps(document))
    return (_cpu() - before) / count


def wake_ups(seconds: float) -> dict[tuple[int, int], float]:
    """(ticks a second, work rounds) -> µs of CPU a tick."""
    found = {}
    for work in (0, 1):
        for rate in RATES:
            found[(rate, work)] = uvloop.run(_ticks(rate, seconds, work)) * 1e6
    return found


async def _produce(bootstrap: str, topic: str, rate: float, seconds: float) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"warm-up")
        count = int(rate * seconds)
        before = _cpu()
        async for i in _paced(rate, count):
            await (await producer.send(topic, VALUE, key=str(i).encode()))  # each message alone, as at 100/s
        return (_cpu() - before) / count
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, expected: int, ready: Connection, done: Connection) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                enable_auto_commit=False, fetch_max_wait_ms=FETCH_WAIT_MS,
                                consumer_timeout_ms=FETCH_LOOP_WAIT_MS)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_end()
        for partition in consumer.assignment():
            await consumer.position(partition)  # the end, fetched before the producer starts
        ready.send(True)
        received, before = 0, None
        while received < expected:
            for records in (await consumer.getmany(timeout_ms=10_000)).values():
                for record in records:
                    if record.key == b"warm-up":
                        before = _cpu()  # from the first timed message on
                    else:
                        received += 1
        done.send((_cpu() - (before or _cpu())) / expected)
    finally:
        await consumer.stop()


def _consumer_process(bootstrap: str, topic: str, expected: int, ready: Connection, done: Connection) -> None:
    uvloop.run(_consume(bootstrap, topic, expected, ready, done))


async def _topic(bootstrap: str, name: str, *, delete: bool = False) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if delete:
            await admin.delete_topics([name])
        else:
            await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()


def kafka_hop(settings: Settings, rate: float, seconds: float) -> tuple[float, float]:
    """(producer, consumer) µs of CPU a message, each message sent and received alone at `rate` a second."""
    topic = settings.topic(f"wakeups-{uuid.uuid4().hex[:8]}")
    bootstrap = settings.kafka_bootstrap_servers
    asyncio.run(_topic(bootstrap, topic))
    ready_in, ready_out = multiprocessing.Pipe(duplex=False)
    done_in, done_out = multiprocessing.Pipe(duplex=False)
    consumer = multiprocessing.get_context("spawn").Process(
        target=_consumer_process, args=(bootstrap, topic, int(rate * seconds), ready_out, done_out))
    consumer.start()
    try:
        if not ready_in.poll(60):
            raise SystemExit("the consumer did not start within 60 s")
        ready_in.recv()
        producer = uvloop.run(_produce(bootstrap, topic, rate, seconds))
        if not done_in.poll(60):
            raise SystemExit("the consumer did not receive every message within 60 s")
        return producer * 1e6, done_in.recv() * 1e6
    finally:
        consumer.join(10)
        if consumer.is_alive():
            consumer.kill()
        asyncio.run(_topic(bootstrap, topic, delete=True))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench wakeups")
    parser.add_argument("--seconds", type=float, default=5.0, help="each measurement's length")
    args = parser.parse_args(argv)
    started = start_servers("kafka")
    settings = Settings(namespace=unique_namespace("wakeups"))
    try:
        print("A wake-up: an asyncio (uvloop) task ticking at a fixed rate; µs of CPU a tick")
        ticks = wake_ups(args.seconds)
        for work, what in ((0, "no work"), (1, "one small JSON round trip")):
            print(f"  {what:26} " + "   ".join(f"{rate:>5}/s: {ticks[(rate, work)]:6.0f}" for rate in RATES))
        print("A Kafka hop, one message at a time (acks=all, idempotent, long polls); µs of CPU a message")
        for rate in RATES:
            producer, consumer = kafka_hop(settings, rate, args.seconds)
            print(f"  {rate:>5}/s: producer {producer:6.0f}   consumer {consumer:6.0f}")
    finally:
        stop_servers(started)
