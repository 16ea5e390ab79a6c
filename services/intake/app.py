"""Composition root of the intake API."""

import contextlib
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from intake import validation_client
from intake.activities.router import router as activities_router
from intake.asyncapi import router as asyncapi_router
from intake.batches import outcomes
from intake.batches.outcomes import BatchOutcomes
from intake.batches.router import router as batches_router
from intake.batches.service import ParseTurns
from intake.body_limit import LIMITS, TOO_LARGE, BodyLimit
from intake.completions import idempotency
from intake.completions.router import router as completions_router
from intake.errors import UNAVAILABLE, errors, install_error_handlers
from intake.keepable import keepable_parameters
from intake.keys import KeyCache
from intake.learners.router import router as learners_router
from intake.ops.console import router as console_router
from intake.ops.router import router as ops_router
from intake.portal.router import mount_portal
from intake.records.router import router as records_router
from intake.submitting.writer import Submissions
from intake.waiters import Waiters
from intake.ws.router import router as ws_router
from shared.consumer import (
    FETCH_LOOP_WAIT_MS,
    FETCH_WAIT_MS,
    long_polls,
    records_as_they_came,
    records_of,
    subscribe_batches,
    the_message,
)
from shared.db import create_pool, migrate, quote_schema
from shared.events import record_event_adapter
from shared.kafka import KafkaHealth, ensure_topics, row_publisher
from shared.outbox import Outbox, OutboxRelay
from shared.service import Running, worker_app
from shared.service_registry import INTAKE, PROJECTOR
from shared.settings import Settings, get_settings
from shared.topics import INTAKE_BATCHES, RECORD_EVENTS, SUBMISSIONS, dead_letters

SERVICE = INTAKE.name


def subscribe_waiters(broker: KafkaBroker, settings: Settings, waiters: Waiters) -> None:
    # No consumer group: every intake process reads every outcome from the log's end, and commits nothing.
    # Long polls as every consumer's (shared.consumer): no sleep after an empty poll on the way to an answer.
    subscriber = broker.subscriber(settings.topic(RECORD_EVENTS.name), batch=True, max_records=1000,
                                   auto_offset_reset="latest", ack_policy=AckPolicy.ACK_FIRST, decoder=the_message,
                                   fetch_max_wait_ms=FETCH_WAIT_MS, consumer_timeout_ms=FETCH_LOOP_WAIT_MS)
    long_polls(subscriber, 1000)

    @subscriber(parser=records_as_they_came(subscriber))
    async def on_outcomes(msg: Any) -> None:  # the KafkaMessage, by `the_message`
        if not waiters.waiting:
            return
        for record in records_of(msg):
            if waiters.may_answer(record):
                with contextlib.suppress(ValidationError):  # not ours to judge: the services DLQ bad events
                    waiters.offer(record_event_adapter.validate_json(record.value))


def operation_id(route: APIRoute) -> str:
    """camelCase of the route's function (`list_records` -> `listRecords`) unless it names its own: what generated
    clients call their methods."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


# Answered by any route: 413 by BodyLimit, 422 by keepable_parameters (any query parameter), 503 by the handlers.
EVERY_ROUTE_ANSWERS = {413: errors(413)[413] | TOO_LARGE[413]} | errors(422) | UNAVAILABLE


ROUTERS = (completions_router, records_router, activities_router, learners_router, batches_router, ws_router,
           ops_router, console_router, asyncapi_router)


def build(settings: Settings | None = None) -> FastAPI:
    """Intake on the shared worker_app: on stop, uvicorn lets in-flight requests finish first; then the consumers
    stop, the outbox relay drains, the chores end and the submission path clears its published rows."""
    settings = settings or get_settings()
    waiters = Waiters()

    async def setup(settings: Settings, broker: KafkaBroker) -> Running:
        schema = settings.schema(INTAKE.schema)
        pool = await create_pool(settings.database_url, schema, max_size=10)
        await migrate(pool, schema, INTAKE.package)
        await ensure_topics(settings, [SUBMISSIONS, RECORD_EVENTS, dead_letters(SERVICE)])
        subscribe_waiters(broker, settings, waiters)
        subscribe_batches(
            broker, settings, service=SERVICE, topics=[settings.topic(RECORD_EVENTS.name)],
            group=settings.group(INTAKE_BATCHES.name), decode=outcomes.batch_outcome,
            handle=BatchOutcomes(pool), max_records=1000, only=outcomes.READ)
        # Every submission is kept in the outbox first: batch files with their rows, API records, web-service reports
        # and deletes with their Idempotency-Key. The relay sends what their requests did not publish themselves.
        outbox = Outbox(schema)
        health = KafkaHealth()
        submissions = Submissions(pool, outbox, row_publisher(broker), health, settings, waiters)
        validation = validation_client.connect(settings)

        async def watch_kafka() -> None:
            await health.watch(broker)

        async def tidy_idempotency_keys() -> None:
            await idempotency.keep_tidy(pool)

        return Running(pools=[pool], relays=[OutboxRelay(pool, outbox, row_publisher(broker))],
                       on_stop=[submissions.stop, validation.aclose], chores=[watch_kafka, tidy_idempotency_keys],
                       state={"pool": pool, "outbox": outbox, "submissions": submissions,
                              "validation_client": validation, "parse_turns": ParseTurns()})

    # Every route's path and query parameters are checked before it runs: a NUL must never reach PostgreSQL.
    # FastAPI's native telemetry is worker_app's (shared.tracing): request spans with PARS_OTLP_ENDPOINT set, else off.
    app = worker_app(SERVICE, setup, settings, routers=ROUTERS, app_options={
        "title": "PARS learner reporting", "version": "1", "description": LIMITS,
        "responses": EVERY_ROUTE_ANSWERS, "dependencies": [Depends(keepable_parameters)],
        "generate_unique_id_function": operation_id,
        "telemetry": {"tracing": False, "metrics": False, "logs": False}})
    app.add_middleware(BodyLimit)  # bodies over their route's limit: 413 before they are read
    app.state.settings = settings
    app.state.waiters = waiters
    app.state.keys = KeyCache()  # valid API keys, remembered for KEY_CACHE_SECONDS
    app.state.projection_schema = quote_schema(settings.schema(PROJECTOR.schema))
    install_error_handlers(app)
    mount_portal(app)  # the provider portal's pages, /portal
    return app
