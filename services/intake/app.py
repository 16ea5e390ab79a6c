"""Composition root of the intake API."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from intake import validation_client
from intake.activities.router import router as activities_router
from intake.batches import outcomes
from intake.batches.outcomes import BatchOutcomes
from intake.batches.router import router as batches_router
from intake.body_limit import LIMITS, TOO_LARGE, BodyLimit
from intake.completions import idempotency
from intake.completions.router import router as completions_router
from intake.errors import UNAVAILABLE, install_error_handlers
from intake.keepable import keepable_parameters
from intake.keys import KeyCache
from intake.learners.router import router as learners_router
from intake.ops.console import router as console_router
from intake.ops.router import router as ops_router
from intake.records.router import router as records_router
from intake.submitting.writer import Submissions
from intake.waiters import Waiters
from intake.ws.router import router as ws_router
from shared.consumer import (
    FETCH_LOOP_WAIT_MS,
    FETCH_WAIT_MS,
    long_polls,
    records_of,
    subscribe_batches,
    the_message,
)
from shared.db import create_pool, migrate, quote_schema
from shared.events import record_event_adapter
from shared.inbox import keep_pruned
from shared.kafka import KafkaHealth, ensure_topics, kafka_answers, make_broker, row_publisher
from shared.logging import configure_logging, get_logger
from shared.outbox import Outbox, OutboxRelay
from shared.service import add_health_routes
from shared.service_registry import INTAKE, PROJECTOR
from shared.settings import Settings, get_settings
from shared.topics import RECORD_EVENTS, SUBMISSIONS, dead_letters

SERVICE = INTAKE.name


def subscribe_waiters(broker: KafkaBroker, settings: Settings, waiters: Waiters) -> None:
    # No consumer group: every intake process reads every outcome from the log's end, and commits nothing.
    # Long polls as every consumer's (shared.consumer): no sleep after an empty poll on the way to an answer.
    subscriber = broker.subscriber(settings.topic(RECORD_EVENTS.name), batch=True, max_records=1000,
                                   auto_offset_reset="latest", ack_policy=AckPolicy.ACK_FIRST, decoder=the_message,
                                   fetch_max_wait_ms=FETCH_WAIT_MS, consumer_timeout_ms=FETCH_LOOP_WAIT_MS)
    long_polls(subscriber, 1000)

    @subscriber
    async def on_outcomes(msg: Any) -> None:  # the KafkaMessage, by `the_message`
        if not waiters.waiting:
            return
        for record in records_of(msg):
            if waiters.may_answer(record):
                with contextlib.suppress(ValidationError):  # not ours to judge: the services DLQ bad events
                    waiters.offer(record_event_adapter.validate_json(record.value))


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    broker = make_broker(settings, SERVICE)
    waiters = Waiters()
    subscribe_waiters(broker, settings, waiters)
    log = get_logger(SERVICE)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SERVICE, settings.log_level, settings.log_format)
        schema = settings.schema(INTAKE.schema)
        pool = await create_pool(settings.database_url, schema, max_size=10)
        await migrate(pool, schema, INTAKE.package)
        await ensure_topics(settings, [SUBMISSIONS, RECORD_EVENTS, dead_letters(SERVICE)])
        subscribe_batches(
            broker, settings, service=SERVICE, topics=[settings.topic(RECORD_EVENTS.name)],
            group=settings.group("pars.intake.batches"), decode=outcomes.batch_outcome,
            handle=BatchOutcomes(pool), max_records=1000, only=outcomes.READ)
        await broker.start()
        # Every submission is kept in the outbox first: batch files with their rows, API records, web-service reports
        # and deletes with their Idempotency-Key. The relay sends what their requests did not publish themselves.
        app.state.outbox = Outbox(schema)
        relay = OutboxRelay(pool, app.state.outbox, row_publisher(broker))
        await relay.start()
        health = KafkaHealth()
        app.state.submissions = Submissions(pool, app.state.outbox, row_publisher(broker), health, settings, waiters)
        chores = [asyncio.create_task(health.watch(broker), name="kafka-health"),
                  asyncio.create_task(idempotency.keep_tidy(pool), name="idempotency-keys"),
                  asyncio.create_task(keep_pruned(pool, settings.processed_events_keep(),
                                                  settings.processed_events_prune_seconds),
                                      name="processed-events-retention")]
        app.state.pool = pool
        app.state.validation_client = validation_client.connect(settings)
        log.info("intake listening", host=settings.api_host, port=settings.api_port)
        try:
            yield
        finally:
            for chore in chores:
                chore.cancel()
            await asyncio.gather(*chores, return_exceptions=True)
            await app.state.validation_client.aclose()
            await app.state.submissions.stop()
            await relay.stop()
            await broker.stop()
            await pool.close()

    # Every route's path and query parameters are checked before it runs: a NUL must never reach PostgreSQL.
    # No OpenTelemetry is set up here: FastAPI's native telemetry, off, skips asking for its providers per request.
    app = FastAPI(title="PARS learner reporting", version="1", lifespan=lifespan, description=LIMITS,
                  responses=TOO_LARGE | UNAVAILABLE, dependencies=[Depends(keepable_parameters)],
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.add_middleware(BodyLimit)  # bodies over their route's limit: 413 before they are read
    app.state.settings = settings
    app.state.broker = broker
    app.state.waiters = waiters
    app.state.keys = KeyCache()  # valid API keys, remembered for KEY_CACHE_SECONDS
    app.state.projection_schema = quote_schema(settings.schema(PROJECTOR.schema))

    async def ready() -> bool:
        try:
            return await kafka_answers(broker, 2.0) and await app.state.pool.fetchval("SELECT 1") == 1
        except Exception:
            return False

    add_health_routes(app, SERVICE, ready)
    install_error_handlers(app)
    app.include_router(completions_router)
    app.include_router(records_router)
    app.include_router(activities_router)
    app.include_router(learners_router)
    app.include_router(batches_router)
    app.include_router(ws_router)
    app.include_router(ops_router)
    app.include_router(console_router)
    return app
