"""Composition root of the notifier."""

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from notifier import mailer
from notifier.events import READ, decode_record_event
from notifier.handlers import ActivityListener, RejectionCollector
from notifier.sender import DigestSender
from notifier.storage import NotifierStorage
from shared.consumer import subscribe_batches
from shared.db import create_pool, migrate
from shared.events import ActivityRegistered
from shared.kafka import ensure_topics
from shared.service import Running, worker_app
from shared.service_registry import NOTIFIER
from shared.settings import Settings
from shared.topics import ACTIVITIES, NOTIFIER_ACTIVITIES, NOTIFIER_RECORDS, RECORD_EVENTS, dead_letters

SERVICE = NOTIFIER.name


async def setup(settings: Settings, broker: KafkaBroker) -> Running:
    schema = settings.schema(NOTIFIER.schema)
    pool = await create_pool(settings.database_url, schema, max_size=4)
    await migrate(pool, schema, NOTIFIER.package)
    await ensure_topics(settings, [RECORD_EVENTS, ACTIVITIES, dead_letters(SERVICE)])
    store = NotifierStorage(pool)
    subscribe_batches(
        broker, settings, service=SERVICE, topics=[settings.topic(RECORD_EVENTS.name)],
        group=settings.group(NOTIFIER_RECORDS.name), decode=decode_record_event,
        handle=RejectionCollector(store).on_record_events, only=READ,
    )
    subscribe_batches(  # activities registered through the API: their titles head the digest's groups
        broker, settings, service=SERVICE, topics=[settings.topic(ACTIVITIES.name)],
        group=settings.group(NOTIFIER_ACTIVITIES.name), decode=ActivityRegistered.model_validate_json,
        handle=ActivityListener(store).on_activities,
    )
    sender = DigestSender(pool, settings, lambda message: mailer.send(settings, message))
    sender.start()
    return Running(pools=[pool], on_stop=[sender.stop])


def build(settings: Settings | None = None) -> FastAPI:
    return worker_app(SERVICE, setup, settings)
