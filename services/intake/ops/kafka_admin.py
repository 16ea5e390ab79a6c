"""Kafka facts for operators: the pipeline's topics with their offsets, and every consumer group's lag.

Plain functions of `Settings`; each opens short-lived clients and closes them, so nothing is held between
requests. Consumers here never join a group and never commit.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DescribeGroupsRequest_v2, DescribeGroupsRequest_v3, DescribeGroupsResponse_v3
from aiokafka.protocol.api import Request
from aiokafka.protocol.group import MemberAssignment

from shared.boards import shipped_boards
from shared.kafka import kafka_client_args
from shared.settings import Settings
from shared.topics import GROUPS, all_topics, board_requests

Offsets = dict[TopicPartition, int]


def _board_codes() -> list[str]:
    # The board router creates a request topic for every catalogue board that processes records.
    return [code for code, board in shipped_boards().items() if board.needs_board]


def known_groups() -> dict[str, list[str]]:
    """Each pipeline consumer group (logical name) and the topics it reads, as the services subscribe them.

    Groups of this namespace that are not listed (a world file's own board) are still found by name.
    """
    moc = [code for code, board in shipped_boards().items() if board.kind == "moc" and board.needs_board]
    # The group that reads no fixed topic is board-sim's: a request topic per board it serves.
    return {g.name: [t.name for t in g.reads] or [board_requests(code).name for code in moc] for g in GROUPS}


def logical(settings: Settings, name: str) -> str:
    return name.removeprefix(settings.topic(""))


def pipeline_topics(settings: Settings, existing: Iterable[str]) -> list[str]:
    """Logical names: the registry's topics, then any other topic of this namespace, sorted."""
    registry = [spec.name for spec in all_topics(_board_codes())]
    prefix = settings.topic("pars.")
    extra = sorted({logical(settings, t) for t in existing if t.startswith(prefix)} - set(registry))
    return registry + extra


@asynccontextmanager
async def admin_client(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**kafka_client_args(settings), client_id="pars-ops")
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@asynccontextmanager
async def reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(**kafka_client_args(settings), client_id="pars-ops",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, list[int]]:
    """Each existing topic's partition numbers; topics that do not exist are left out."""
    if not topics:
        return {}
    described = await admin.describe_topics(topics)
    return {t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in described if t.get("error_code", 0) == 0 and t["partitions"]}


async def offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> tuple[Offsets, Offsets]:
    if not tps:
        return {}, {}
    return await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)


async def streams(settings: Settings) -> list[dict[str, Any]]:
    """Every pipeline topic with its partitions, their first and end offsets and how many messages they hold."""
    async with admin_client(settings) as admin, reader(settings) as consumer:
        names = pipeline_topics(settings, await admin.list_topics())
        parts = await partitions(admin, [settings.topic(n) for n in names])
        tps = [TopicPartition(topic, p) for topic, numbers in parts.items() for p in numbers]
        first, end = await offsets(consumer, tps)
    return [_stream(name, settings.topic(name), parts.get(settings.topic(name)), first, end) for name in names]


def _stream(name: str, topic: str, numbers: list[int] | None, first: Offsets, end: Offsets) -> dict[str, Any]:
    rows = [{"partition": p, "beginning_offset": first[TopicPartition(topic, p)],
             "end_offset": end[TopicPartition(topic, p)],
             "messages": end[TopicPartition(topic, p)] - first[TopicPartition(topic, p)]} for p in numbers or []]
    return {"name": name, "topic": topic, "exists": numbers is not None, "partition_count": len(rows),
            "messages": sum(r["messages"] for r in rows), "partitions": rows}


async def lag(settings: Settings) -> dict[str, Any]:
    """Committed offset against end offset, per partition, for every consumer group of this namespace."""
    reads = known_groups()
    async with admin_client(settings) as admin, reader(settings) as consumer:
        listed = {g[0] for g in await admin.list_consumer_groups()}
        prefix = settings.group("pars.")
        names = list(reads) + sorted({logical(settings, g) for g in listed if g.startswith(prefix)} - set(reads))
        found = await asyncio.gather(*(admin.list_consumer_group_offsets(settings.group(n)) for n in names))
        committed = dict(zip(names, found, strict=True))
        topics = {settings.topic(t) for n in names for t in reads.get(n, [])}
        parts = await partitions(admin, sorted(topics | {tp.topic for c in found for tp in c}))
        assigned = {n: _read_partitions(settings, reads.get(n, []), committed[n], parts) for n in names}
        first, end = await offsets(consumer, sorted(set().union(*assigned.values())))
        described = await members(settings, admin, [settings.group(n) for n in names if settings.group(n) in listed])
    groups = [_group(settings, n, settings.group(n) in listed, reads.get(n), assigned[n], committed[n], first, end)
              | described.get(settings.group(n), {"state": "absent", "members": []}) for n in names]
    return {"groups": groups, "total_lag": sum(g["lag"] for g in groups)}


def _read_partitions(settings: Settings, reads: list[str], done: dict[TopicPartition, Any],
                     parts: dict[str, list[int]]) -> list[TopicPartition]:
    """The partitions a group reads: all of its topics' (committed or not) and any it committed, if they exist."""
    wanted = {TopicPartition(t, p) for t in map(settings.topic, reads) for p in parts.get(t, [])}
    return sorted(wanted | {tp for tp in done if tp.partition in parts.get(tp.topic, [])})


def _group(settings: Settings, name: str, exists: bool, reads: list[str] | None, tps: list[TopicPartition],
           done: dict[TopicPartition, Any], first: Offsets, end: Offsets) -> dict[str, Any]:
    rows = []
    for tp in tps:
        at = done[tp].offset if tp in done and done[tp].offset >= 0 else None
        # Nothing committed yet: the group starts from the earliest offset (auto_offset_reset="earliest").
        rows.append({"topic": logical(settings, tp.topic), "partition": tp.partition, "committed": at,
                     "end_offset": end[tp], "lag": max(end[tp] - (first[tp] if at is None else at), 0)})
    topics = reads or sorted({r["topic"] for r in rows})
    return {"group": name, "group_id": settings.group(name), "exists": exists, "topics": topics,
            "lag": sum(r["lag"] for r in rows), "partitions": rows}


class _DescribeGroupsV3(DescribeGroupsRequest_v3):
    # aiokafka 0.14 pairs DescribeGroups v3 with v2's answer layout, which lacks `authorized_operations`; Kafka 4
    # answers v3 and up, so that answer never decodes. The same request, read with its own layout.
    RESPONSE_TYPE = DescribeGroupsResponse_v3


class _DescribeGroups(Request[DescribeGroupsRequest_v2 | _DescribeGroupsV3]):
    """DescribeGroups at v2 or v3, whichever the broker takes (Kafka 4 takes v3; older brokers v2)."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[DescribeGroupsRequest_v2 | _DescribeGroupsV3]) -> Any:
        if request_struct_class.API_VERSION >= 3:
            return request_struct_class(self._groups, False)
        return request_struct_class(self._groups)


def _assignment(raw: bytes) -> list[dict[str, Any]]:
    if not raw:
        return []
    decoded = MemberAssignment.decode(raw)
    return [{"topic": topic, "partitions": sorted(parts)} for topic, parts in decoded.assignment]


async def members(settings: Settings, admin: AIOKafkaAdminClient, group_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each group's state and members (client ID, host, the partitions assigned to it), by full group ID."""
    by_node: dict[int, list[str]] = {}
    for group_id in group_ids:
        by_node.setdefault(await admin.find_coordinator(group_id), []).append(group_id)
    answers = await asyncio.gather(*(admin._client.send(node, _DescribeGroups(groups))
                                     for node, groups in by_node.items()))
    found: dict[str, dict[str, Any]] = {}
    for answer in answers:
        for error_code, group_id, state, _protocol_type, _protocol, group_members, *_ in answer.groups:
            found[group_id] = {"state": state if error_code == 0 else f"error {error_code}", "members": [
                {"member_id": m[0], "client_id": m[1], "host": m[2],
                 "assignment": [dict(a, topic=logical(settings, a["topic"])) for a in _assignment(m[4])]}
                for m in group_members]}
    return found
