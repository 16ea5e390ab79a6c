"""Composition root of the board simulator: one consumer for every board it serves, each board's requests handled
by that board's desk (a group per board cost each board its own heartbeats, fetches and coordinator traffic)."""

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from board_sim.handlers import BoardDesk
from board_sim.requests import BoardRequest, decode_request
from board_sim.storage import DeskStorage
from board_sim.upgrade import carry_over_offsets
from shared.board_overrides import read_boards
from shared.consumer import Delivery, subscribe_batches
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, row_publisher
from shared.logging import get_logger
from shared.outbox import Outbox, OutboxRelay, OutboxWriter
from shared.service import Running, worker_app
from shared.service_registry import BOARD_SIM
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES, BOARD_SIM_REQUESTS, board_requests, dead_letters

SERVICE = BOARD_SIM.name
GROUP = BOARD_SIM_REQUESTS.name
log = get_logger(__name__)


async def setup(settings: Settings, broker: KafkaBroker) -> Running:
    schema = settings.schema(BOARD_SIM.schema)
    pool = await create_pool(settings.database_url, schema, max_size=4)
    await migrate(pool, schema, BOARD_SIM.package)
    boards = await read_boards(pool)
    wanted = [c.strip().upper() for c in settings.boards.split(",") if c.strip()]
    served = wanted or sorted(code for code, b in boards.items() if b.kind == "moc" and b.needs_board)
    await ensure_topics(settings, [BOARD_RESPONSES, dead_letters(SERVICE), *(board_requests(c) for c in served)])
    outbox, publish = Outbox(schema), row_publisher(broker)
    writer = OutboxWriter(pool, outbox, publish)  # one for every board served: rows of one key are one board's
    store = DeskStorage(pool, writer)
    desks = {settings.topic(board_requests(code).name): BoardDesk(code, store, settings) for code in served}

    async def on_requests(batch: list[Delivery[BoardRequest]]) -> None:  # one topic's requests: by_topic
        await desks[batch[0].record.topic].on_requests(batch)

    try:
        await carry_over_offsets(settings, settings.group(GROUP),
                                 {code: settings.topic(board_requests(code).name) for code in served})
    except Exception as exc:  # the group then reads from the earliest offsets: repeated answers, which are harmless
        log.warning("offsets of the per-board groups not carried over", error=repr(exc))
    if desks:
        subscribe_batches(broker, settings, service=SERVICE, topics=list(desks), group=settings.group(GROUP),
                          decode=decode_request, handle=on_requests, by_topic=True)
    return Running(pools=[pool], relays=[OutboxRelay(pool, outbox, publish)], on_stop=[writer.stop])


def build(settings: Settings | None = None) -> FastAPI:
    return worker_app(SERVICE, setup, settings)
