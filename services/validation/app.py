"""Composition root of the validation service."""

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from shared.consumer import subscribe_batches
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, row_publisher
from shared.outbox import Outbox, OutboxRelay, OutboxWriter
from shared.service import Running, worker_app
from shared.service_registry import VALIDATION
from shared.settings import Settings
from shared.topics import (
    ACTIVITIES,
    RECORD_EVENTS,
    SUBMISSIONS,
    VALIDATION_STATUSES,
    VALIDATION_SUBMISSIONS,
    dead_letters,
)
from validation import api
from validation.handlers import StatusTracker, SubmissionHandler, utc_today
from validation.status_events import decode_status_event
from validation.storage import SqlStatuses, SqlSubmissions
from validation.submissions import decode_submission

SERVICE = VALIDATION.name


async def setup(settings: Settings, broker: KafkaBroker) -> Running:
    schema = settings.schema(VALIDATION.schema)
    pool = await create_pool(settings.database_url, schema, max_size=4)
    await migrate(pool, schema, VALIDATION.package)
    await ensure_topics(settings, [SUBMISSIONS, RECORD_EVENTS, ACTIVITIES, dead_letters(SERVICE)])
    outbox = Outbox(schema)
    publish = row_publisher(broker)
    writer = OutboxWriter(pool, outbox, publish)
    submissions = SubmissionHandler(SqlSubmissions(pool, writer), settings.topic(RECORD_EVENTS.name),
                                    today=lambda: settings.today or utc_today())
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(SUBMISSIONS.name)],
        group=settings.group(VALIDATION_SUBMISSIONS.name), decode=decode_submission, handle=submissions,
        max_records=2000,
        linger_ms=0,  # callers of `?wait=true` wait on this hop
    )
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(RECORD_EVENTS.name)],
        group=settings.group(VALIDATION_STATUSES.name), decode=decode_status_event,
        handle=StatusTracker(SqlStatuses(pool)), max_records=1000, only=StatusTracker.EVENTS,
    )
    return Running(pools=[pool], relays=[OutboxRelay(pool, outbox, publish)], on_stop=[writer.stop],
                   state={"validation_pool": pool, "submission_handler": submissions, "validation_outbox": outbox,
                          "settings": settings})


def build(settings: Settings | None = None) -> FastAPI:
    return worker_app(SERVICE, setup, settings, routers=[api.router])
