"""`/v1/ops/...`: streams, consumer lag, dead letters, tails and the board-response replay, for operators only."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from intake.dependencies import CurrentPrincipal
from intake.errors import ApiError
from intake.keys import Principal
from intake.ops import kafka_admin, messages
from shared.service_registry import SERVICE_NAMES
from shared.settings import Settings
from shared.topics import dead_letters

KEEPALIVE_SECONDS = 15.0


async def current_operator(principal: CurrentPrincipal) -> Principal:
    if not principal.is_operator:
        raise ApiError(403, "forbidden", "This call needs an operator's API key.")
    return principal


async def get_settings(request: Request) -> Settings:  # a coroutine: no thread-pool hand-off
    return request.app.state.settings


Config = Annotated[Settings, Depends(get_settings)]
router = APIRouter(prefix="/v1/ops", tags=["operators"], dependencies=[Depends(current_operator)])


@contextmanager
def kafka_answers() -> Iterator[None]:
    """A broker that is down or slow is a 503 for the caller, not a 500."""
    try:
        yield
    except (KafkaError, OSError, TimeoutError) as exc:
        raise ApiError(503, "kafka_unavailable", f"Kafka did not answer: {type(exc).__name__}.") from exc


async def pipeline_topic(settings: Settings, topic: str) -> str:
    """The full name of a topic of this namespace, given its logical or its full name; 404 for any other."""
    name = kafka_admin.logical(settings, topic)
    async with kafka_admin.admin_client(settings) as admin:
        existing = await admin.list_topics()
    if not name.startswith("pars.") or settings.topic(name) not in existing:
        raise ApiError(404, "not_found", f"No pipeline topic {topic!r} in this namespace.")
    return settings.topic(name)


@router.get("/streams")
async def streams(settings: Config) -> dict[str, Any]:
    with kafka_answers():
        return {"namespace": settings.namespace, "streams": await kafka_admin.streams(settings)}


@router.get("/lag")
async def lag(settings: Config) -> dict[str, Any]:
    with kafka_answers():
        return await kafka_admin.lag(settings)


@router.get("/dead-letters")
async def dead_letter_list(settings: Config, service: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    if service is not None and service not in SERVICE_NAMES:
        raise ApiError(422, "invalid_request", f"Unknown service {service!r}.", [{"field": "service",
                                                                                  "reason": f"one of {SERVICE_NAMES}"}])
    topics = [settings.topic(dead_letters(s).name) for s in ([service] if service else SERVICE_NAMES)]
    with kafka_answers():
        found = await messages.last_messages(settings, topics, limit)
    return {"dead_letters": [messages.dead_letter_view(settings, r) for r in found]}


@router.get("/streams/{topic}/tail")
async def tail(topic: str, settings: Config, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    with kafka_answers():
        full = await pipeline_topic(settings, topic)
        found = await messages.last_messages(settings, [full], limit)
    return {"topic": kafka_admin.logical(settings, full), "messages": [messages.view(settings, r) for r in found]}


@router.get("/streams/{topic}/live")
async def live(topic: str, settings: Config, request: Request) -> StreamingResponse:
    """Server-sent events: one `message` event per new message, a comment now and then to keep proxies open."""
    with kafka_answers():
        full = await pipeline_topic(settings, topic)

    async def events() -> AsyncIterator[str]:
        quiet_since = asyncio.get_running_loop().time()
        async with aclosing(messages.follow(settings, full)) as batches:  # its consumer stops with the client
            await anext(batches)  # the consumer is at the end: what is published from now on comes through
            yield f": following {kafka_admin.logical(settings, full)}\n\n"
            async for batch in batches:
                if await request.is_disconnected():
                    return
                for record in batch:
                    yield f"event: message\ndata: {json.dumps(messages.view(settings, record))}\n\n"
                now = asyncio.get_running_loop().time()
                if batch:
                    quiet_since = now
                elif now - quiet_since > KEEPALIVE_SECONDS:
                    quiet_since = now
                    yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReplayRequest(BaseModel):
    since: datetime = Field(description="Re-apply verdicts from this time (UTC when no offset is given), 1970 or "
                                        "later: Kafka's timestamps start at the epoch.")

    @field_validator("since")
    @classmethod
    def after_the_epoch(cls, since: datetime) -> datetime:
        # Refused, not clamped: a time before any message can be is a mistake, and the whole log is a big replay.
        if (since if since.tzinfo else since.replace(tzinfo=UTC)) < EPOCH:
            raise ValueError("is before 1970-01-01T00:00:00Z, where Kafka's timestamps start")
        return since


def replay_lock(request: Request) -> asyncio.Lock:
    # One per app: a replay re-reads the whole topic since `since`, and two at once would only repeat work.
    state = request.app.state
    if getattr(state, "ops_replay_lock", None) is None:
        state.ops_replay_lock = asyncio.Lock()
    return state.ops_replay_lock


@router.post("/replay/board-responses")
async def replay_board_responses(body: ReplayRequest, settings: Config,
                                 lock: Annotated[asyncio.Lock, Depends(replay_lock)]) -> dict[str, Any]:
    # Imported here, as the `pars replay` command does: the router's replay is the one way to re-apply verdicts.
    from board_router.replay import replay_board_responses as replay

    since = body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC)
    if lock.locked():
        raise ApiError(409, "replay_running", "A board-response replay is already running; try again later.")
    async with lock:
        with kafka_answers():
            replayed = await replay(settings, since)
    return {"replayed": replayed, "since": since.isoformat()}
