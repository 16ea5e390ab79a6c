"""Composition root of the projector."""

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from projector.events import decode_record_event
from projector.handlers import ActivityProjector, Projector
from projector.storage import SqlProjection
from shared.consumer import subscribe_batches
from shared.db import create_pool, migrate
from shared.events import ActivityRegistered
from shared.kafka import ensure_topics
from shared.service import Running, worker_app
from shared.service_registry import PROJECTOR
from shared.settings import Settings
from shared.topics import ACTIVITIES, PROJECTOR_ACTIVITIES, PROJECTOR_RECORDS, RECORD_EVENTS, dead_letters

SERVICE = PROJECTOR.name


async def setup(settings: Settings, broker: KafkaBroker) -> Running:
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema, max_size=4)
    await migrate(pool, schema, PROJECTOR.package)
    await ensure_topics(settings, [RECORD_EVENTS, ACTIVITIES, dead_letters(SERVICE)])
    projection = SqlProjection(pool)
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(RECORD_EVENTS.name)],
        group=settings.group(PROJECTOR_RECORDS.name), decode=decode_record_event,
        handle=Projector(projection).on_record_events, max_records=1000,
    )
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(ACTIVITIES.name)],
        group=settings.group(PROJECTOR_ACTIVITIES.name), decode=ActivityRegistered.model_validate_json,
        handle=ActivityProjector(projection).on_activities,
    )
    return Running(pools=[pool])


def build(settings: Settings | None = None) -> FastAPI:
    return worker_app(SERVICE, setup, settings)
