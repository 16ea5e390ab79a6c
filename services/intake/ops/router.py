"""`/v1/ops/...`: streams, browsing, record stories, consumer lag, dead letters and their re-drive, batches, health,
live streams and the board-response replay, for operators only.

Every route wants an operator key, except `GET /v1/ops/live`, which a browser's EventSource opens: it takes a
short-lived ticket (`POST /v1/ops/live-tickets`, with the key) instead, since that cannot send the key's header.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, aclosing, contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from intake.dependencies import CurrentPrincipal, Pool
from intake.errors import AUTHENTICATED, ApiError
from intake.keys import Principal
from intake.ops import browse, dead_letter_actions, kafka_admin, live_tickets, messages, overview, rates, schemas
from intake.ops.lag_history import LagHistory
from shared.service_registry import SERVICE_NAMES
from shared.settings import Settings
from shared.topics import RECORD_EVENTS

KEEPALIVE_SECONDS = 15.0
RATES_SECONDS = 2.0


async def current_operator(principal: CurrentPrincipal) -> Principal:
    if not principal.is_operator:
        raise ApiError(403, "forbidden", "This call needs an operator's API key.")
    return principal


async def get_settings(request: Request) -> Settings:  # a coroutine: no thread-pool hand-off
    return request.app.state.settings


Config = Annotated[Settings, Depends(get_settings)]
# `router` is what the app includes; every route but the ticketed live stream is on `guarded`, which wants the key.
router = APIRouter(prefix="/v1/ops", tags=["operators"])
guarded = APIRouter(dependencies=[Depends(current_operator)], responses=AUTHENTICATED)  # 401, 403 documented


async def operator_id(request: Request) -> str:
    """Who acts, for the dead-letter records: the operator key's ID (the part after `pars_`), never the key.
    current_operator has checked the key by the time this runs."""
    parts = request.headers.get("authorization", "").partition(" ")[2].strip().split("_", 2)
    return f"key {parts[1]}" if len(parts) == 3 else "operator"


Operator = Annotated[str, Depends(operator_id)]


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


@guarded.get("/streams", response_model=schemas.Streams)
async def streams(settings: Config) -> dict[str, Any]:
    with kafka_answers():
        return {"namespace": settings.namespace, "streams": await kafka_admin.streams(settings)}


def lag_history(request: Request) -> LagHistory:
    state = request.app.state
    if getattr(state, "ops_lag_history", None) is None:
        state.ops_lag_history = LagHistory()
    return state.ops_lag_history


@guarded.get("/lag", response_model=schemas.Lag)
async def lag(settings: Config, history: Annotated[LagHistory, Depends(lag_history)]) -> dict[str, Any]:
    """Every group's lag per partition, its members (client, host, partitions) and its trend over this process's
    last samples (one per call)."""
    with kafka_answers():
        return history.add(await kafka_admin.lag(settings))


def known_service(service: str | None) -> str | None:
    if service is not None and service not in SERVICE_NAMES:
        raise ApiError(422, "invalid_request", f"Unknown service {service!r}.", [{"field": "service",
                                                                                  "reason": f"one of {SERVICE_NAMES}"}])
    return service


@guarded.get("/dead-letters", response_model=schemas.DeadLetters, response_model_exclude_unset=True)
async def dead_letter_list(settings: Config, pool: Pool, service: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """The newest dead letters, each with the action taken on it (null while pending)."""
    topics = dead_letter_actions.dlq_topics(settings, known_service(service))
    with kafka_answers():
        found = await messages.last_messages(settings, topics, limit)
    letters = await dead_letter_actions.actions_for(pool, [messages.dead_letter_view(settings, r) for r in found])
    # acted_at as the ISO text the JSON encoder wrote before there was a model (the model's is a string).
    return {"dead_letters": [dict(d, action=d["action"] and _action(d["action"])) for d in letters]}


@guarded.get("/dead-letters/actions", response_model=schemas.DeadLetterActions)
async def dead_letter_action_list(pool: Pool, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """What operators did with dead letters, newest first: who, when, which letter, and where a re-drive went."""
    return {"actions": [_action(r) for r in await dead_letter_actions.recent_actions(pool, limit)]}


def _action(row: dict[str, Any]) -> dict[str, Any]:
    return dict(row, acted_at=row["acted_at"].isoformat()) if row.get("acted_at") else row


async def _act(settings: Settings, pool: Any, who: str, action: dead_letter_actions.Action, topic: str,
               partition: int, offset: int) -> dict[str, Any]:
    try:
        with kafka_answers():
            producer = dead_letter_actions.new_producer(settings) if action == "redrive" else None
            if producer is not None:
                await producer.start()
            try:
                outcome = await dead_letter_actions.act(pool, settings, producer, who, action, topic, partition, offset)
            finally:
                if producer is not None:
                    await producer.stop()
    except dead_letter_actions.DeadLetterRefused as exc:
        raise ApiError(404 if str(exc).startswith("no dead letter") else 422, "dead_letter_refused", str(exc)) from exc
    return {"done": outcome.done, "action": _action(outcome.row)}


# Kafka's own bounds (int32 partitions, int64 offsets): anything else names no dead letter, and must not reach SQL.
Partition = Annotated[int, Path(ge=0, le=2**31 - 1)]
Offset = Annotated[int, Path(ge=0, le=2**63 - 1)]


@guarded.post("/dead-letters/{topic}/{partition}/{offset}/redrive", response_model=schemas.ActionOutcome)
async def redrive_dead_letter(topic: str, partition: Partition, offset: Offset, settings: Config, pool: Pool,
                              who: Operator) -> dict[str, Any]:
    """Send one dead letter back to its source topic, once: `done` is false when it had been handled already."""
    return await _act(settings, pool, who, "redrive", topic, partition, offset)


@guarded.post("/dead-letters/{topic}/{partition}/{offset}/skip", response_model=schemas.ActionOutcome)
async def skip_dead_letter(topic: str, partition: Partition, offset: Offset, settings: Config, pool: Pool,
                           who: Operator) -> dict[str, Any]:
    """Mark one dead letter as dealt with, sending nothing."""
    return await _act(settings, pool, who, "skip", topic, partition, offset)


@guarded.post("/dead-letters/redrive-all", response_model=schemas.ActionCounts)
async def redrive_all_dead_letters(settings: Config, pool: Pool, who: Operator,
                                   service: str | None = None) -> dict[str, Any]:
    """Re-drive every pending dead letter (of one service, or all): counts done, already done, refused."""
    return await _act_on_all(settings, pool, who, "redrive", known_service(service))


@guarded.post("/dead-letters/skip-all", response_model=schemas.ActionCounts)
async def skip_all_dead_letters(settings: Config, pool: Pool, who: Operator,
                                service: str | None = None) -> dict[str, Any]:
    return await _act_on_all(settings, pool, who, "skip", known_service(service))


async def _act_on_all(settings: Settings, pool: Any, who: str, action: dead_letter_actions.Action,
                      service: str | None) -> dict[str, Any]:
    with kafka_answers():
        producer = dead_letter_actions.new_producer(settings) if action == "redrive" else None
        if producer is not None:
            await producer.start()
        try:
            return await dead_letter_actions.act_on_all(pool, settings, producer, who, action, service)
        finally:
            if producer is not None:
                await producer.stop()


@guarded.get("/streams/{topic}/messages", response_model=schemas.Browsed, response_model_exclude_unset=True)
async def browse_topic(
    topic: str, settings: Config,
    partition: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="One partition only.")] = None,
    offset: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="Read from this offset on (in each "
                                                                        "partition).")] = None,
    since: Annotated[datetime | None, Query(description="Read from this time on (UTC unless a zone is given).")]
    = None,
    key: Annotated[str | None, Query(description="Only messages with this key.")] = None,
    header: Annotated[str | None, Query(description="Only messages with this header: NAME or NAME=VALUE.")] = None,
    record_id: str | None = None, credit_id: str | None = None, provider_id: str | None = None,
    activity_id: str | None = None,
    event_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    scan: Annotated[int, Query(ge=1, le=200_000, description="Messages read at most.")] = 10_000,
) -> dict[str, Any]:
    """Any topic of the stack, from an offset, a time or its newest messages, filtered by key, header or a field of
    the event (at any depth: a record's own record_id too). Personal fields are redacted as in every ops view."""
    if offset is not None and since is not None:
        raise ApiError(422, "invalid_request", "Give offset or since, not both.",
                       [{"field": "since", "reason": "not with offset"}])
    fields = {n: v for n, v in (("record_id", record_id), ("credit_id", credit_id), ("provider_id", provider_id),
                                ("activity_id", activity_id)) if v}
    filters = browse.Filters(key=key, header=browse.Filters.parse_header(header) if header else None, fields=fields,
                             event_type=event_type or None)
    when = since if since is None or since.tzinfo else since.replace(tzinfo=UTC)
    if when is not None and when < EPOCH:
        raise ApiError(422, "invalid_request", "since is before 1970-01-01T00:00:00Z, where Kafka's timestamps start.",
                       [{"field": "since", "reason": "before 1970"}])
    with kafka_answers():
        full = await pipeline_topic(settings, topic)
        try:
            return await browse.browse(settings, full, partition=partition, offset=offset, since=when,
                                       filters=filters, limit=limit, scan=scan)
        except LookupError as exc:
            raise ApiError(422, "invalid_request", str(exc), [{"field": "partition", "reason": str(exc)}]) from exc


@guarded.get("/records/{record_id}/story", response_model=schemas.RecordStory, response_model_exclude_unset=True)
async def record_story(record_id: str, settings: Config) -> dict[str, Any]:
    """Every message naming this record, across its submission, its events, its board's requests and answers and
    the dead letters, oldest first."""
    try:
        uuid.UUID(record_id)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", "record_id is not a record ID (a UUID).",
                       [{"field": "record_id", "reason": "not a UUID"}]) from exc
    with kafka_answers():
        return await browse.story(settings, record_id)


@guarded.get("/health", response_model=schemas.Health)
async def health(settings: Config) -> dict[str, Any]:
    """Every service's readiness, from its /readyz."""
    return {"services": await overview.services_health(settings)}


@guarded.get("/batches", response_model=schemas.Batches)
async def batches(pool: Pool) -> dict[str, Any]:
    """Batch files processing, and those finished in the last minutes, with their progress."""
    return {"batches": await overview.batches_in_progress(pool)}


@guarded.post("/live-tickets", response_model=schemas.LiveTicket)
async def live_ticket(settings: Config, who: Operator) -> dict[str, Any]:
    """A ticket for `GET /v1/ops/live` (an EventSource cannot send the key): valid for a minute, for opening."""
    return {"ticket": live_tickets.issue(settings, who.removeprefix("key ")),
            "expires_in": live_tickets.TICKET_SECONDS}


@guarded.get("/streams/{topic}/tail", response_model=schemas.TopicMessages, response_model_exclude_unset=True)
async def tail(topic: str, settings: Config, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    with kafka_answers():
        full = await pipeline_topic(settings, topic)
        found = await messages.last_messages(settings, [full], limit)
    return {"topic": kafka_admin.logical(settings, full), "messages": [messages.view(settings, r) for r in found]}


async def _events(settings: Settings, full: str, request: Request, with_rates: bool) -> AsyncIterator[str]:
    """`message` events as they arrive, `rates` (messages/s per topic) every RATES_SECONDS when asked, and a comment
    now and then to keep proxies open."""
    loop = asyncio.get_running_loop()
    quiet_since = rated_at = loop.time()
    async with AsyncExitStack() as stack:  # the consumers stop with the client
        batches = await stack.enter_async_context(aclosing(messages.follow(settings, full)))
        meter = await stack.enter_async_context(rates.rate_meter(settings)) if with_rates else None
        await anext(batches)  # the consumer is at the end: what is published from now on comes through
        yield f": following {kafka_admin.logical(settings, full)}\n\n"
        if with_rates:  # the console's page: an event it can see (EventSource hides comments), so it knows it is live
            yield f"event: following\ndata: {json.dumps({'topic': kafka_admin.logical(settings, full)})}\n\n"
        async for batch in batches:
            if await request.is_disconnected():
                return
            for record in batch:
                yield f"event: message\ndata: {json.dumps(messages.view(settings, record))}\n\n"
            now = loop.time()
            if meter is not None and now - rated_at >= RATES_SECONDS:
                rated_at = quiet_since = now
                yield f"event: rates\ndata: {json.dumps(await meter.sample())}\n\n"
            elif batch:
                quiet_since = now
            elif now - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = now
                yield ": keep-alive\n\n"


# How the event streams are documented: text, not the JSON FastAPI would assume for a route with no model.
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"description": "Server-sent events (text/event-stream), until the client closes.",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def _stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@guarded.get("/streams/{topic}/live", response_class=StreamingResponse, responses=EVENT_STREAM)
async def live(topic: str, settings: Config, request: Request) -> StreamingResponse:
    """Server-sent events: one `message` event per new message, a comment now and then to keep proxies open."""
    with kafka_answers():
        full = await pipeline_topic(settings, topic)
    return _stream(_events(settings, full, request, with_rates=False))


@router.get("/live", response_class=StreamingResponse, responses=EVENT_STREAM)
async def live_by_ticket(settings: Config, request: Request, pool: Pool,
                         ticket: Annotated[str, Query(description="From POST /v1/ops/live-tickets.")],
                         topic: str = RECORD_EVENTS.name) -> StreamingResponse:
    """The console's stream (an EventSource): `message` events of `topic` and `rates` of every topic; a ticket,
    not a key, says who asks."""
    key_id = live_tickets.redeem(settings, ticket)
    # A key revoked since its ticket was issued opens nothing.
    if key_id is None or not await pool.fetchval(
            "SELECT 1 FROM api_keys WHERE key_id = $1 AND role = 'operator' AND revoked_at IS NULL", key_id):
        raise ApiError(401, "unauthorized", "The live ticket is not valid or has expired; ask for a new one.")
    with kafka_answers():
        full = await pipeline_topic(settings, topic)
    return _stream(_events(settings, full, request, with_rates=True))


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


@guarded.post("/replay/board-responses", response_model=schemas.Replayed)
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


router.include_router(guarded)  # last: a router takes the routes its sub-router has when it is included
