"""What every service process shares: health and metrics routes, and running under uvicorn.

Each service is a FastAPI app whose lifespan starts its broker, pools and relays; uvicorn turns SIGTERM
and Ctrl-C into an orderly shutdown of that lifespan (consumers stop, in-flight work finishes, relays drain).
"""

import asyncio
import contextlib
import gc
import hmac
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import asyncpg
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import tracing
from shared.heap import give_back_after_bursts, tune_malloc
from shared.http_protocol import HttpProtocol
from shared.inbox import keep_pruned
from shared.kafka import kafka_answers, make_broker
from shared.logging import RequestCorrelation, configure_logging, get_logger
from shared.metrics import HttpMetrics, serve_as
from shared.outbox import OutboxRelay
from shared.settings import Settings, get_settings

ReadyCheck = Callable[[], Awaitable[bool]]


def add_health_routes(app: FastAPI, service: str, ready: ReadyCheck,
                      before_scrape: Callable[[], Awaitable[None]] | None = None) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        ok = await ready()
        return JSONResponse({"ready": ok, "service": service}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        if before_scrape is not None:
            await before_scrape()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


SERVICE_TOKEN_HEADER = "X-PARS-Service-Token"


class ServiceTokenRefused(Exception):
    """A call to a service's internal routes without the stack's service token."""


async def require_service_token(request: Request) -> None:
    given = request.headers.get(SERVICE_TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app.state.service_token.encode()):
        raise ServiceTokenRefused


async def _refuse(_request: Request, _exc: Exception) -> Response:
    return JSONResponse({"error": {"code": "unauthorized", "message": f"Internal route: {SERVICE_TOKEN_HEADER} "
                                   "is missing or wrong.", "details": []}}, status_code=401)


def internal_router(prefix: str = "/internal") -> APIRouter:
    """Routes only other services of the stack may call: each request must carry the service token."""
    return APIRouter(prefix=prefix, dependencies=[Depends(require_service_token)])


def health_port(settings: Settings, service: str) -> int:
    return settings.health_port if settings.health_port is not None else settings.service_port(service)


TICK_SECONDS = 1.0
# A worker's server answers only the stack's health checks and metrics scrapes on loopback: its Date header may lag
# by seconds, and each tick is a wake-up of an idle process (0.3-0.5 ms of CPU on a small VM; docs/PERFORMANCE.md).
WORKER_TICK_SECONDS = 5.0


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process ends 'killed'; a stop that was
    asked for and done cleanly should exit 0, which supervisors read as success.

    Its main loop wakes every 0.1 s to see whether to stop; an idle service paid ≈ 0.08% of a core for those
    wakeups. This one wakes every `tick_seconds` (its Date header's resolution) and at once when a stop is asked
    for."""

    def __init__(self, config: uvicorn.Config, tick_seconds: float = TICK_SECONDS) -> None:
        super().__init__(config)
        self._tick_seconds = tick_seconds

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_asked = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # on_tick renews the Date header on multiples of 10 (its 0.1 s ticks)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_asked.wait(), self._tick_seconds)
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if (stop_asked := getattr(self, "_stop_asked", None)) is not None:
            self._loop.call_soon_threadsafe(stop_asked.set)  # a signal handler: not inside the loop's own code

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        self._captured_signals: list[int] = []
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def serve_worker(app: FastAPI, settings: Settings, service: str) -> None:
    """A worker listens on the health host (loopback unless set): its routes are for the stack, not the world."""
    serve(app, settings.health_host, health_port(settings, service), tick_seconds=WORKER_TICK_SECONDS)


def serve(app: FastAPI, host: str, port: int, sockets: list[socket.socket] | None = None, *,
          tick_seconds: float = TICK_SECONDS) -> None:
    """On host:port, or on `sockets` already listening when given (then host and port only name them in logs)."""
    # uvloop and httptools (C; shared/http_protocol.py keeps h11's answers) instead of asyncio's loop and h11 (pure
    # Python): less CPU per request and per Kafka or PostgreSQL round trip. No route reads the client's address or
    # scheme, so uvicorn's proxy-headers rewrite of them would be work for nothing on every request.
    # log_config=None: uvicorn's lines go through the root logger configure_logging set up (JSON), not handlers of
    # its own printing plain text.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, log_config=None,
                            timeout_graceful_shutdown=25, loop="uvloop", http=HttpProtocol, proxy_headers=False)
    _Server(config, tick_seconds).run(sockets)


@dataclass
class Running:
    """What a service's setup started, for the shared lifespan to watch and stop."""

    pools: list[asyncpg.Pool] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Background work for as long as the service runs, started once the broker and relays run and cancelled with
    # the processed_events pruners (after the relays drained).
    chores: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # set on app.state, for the service's own routes


Setup = Callable[[Settings, KafkaBroker], Awaitable[Running]]


def worker_app(service: str, setup: Setup, settings: Settings | None = None,
               routers: Sequence[APIRouter] = (), app_options: Mapping[str, Any] | None = None) -> FastAPI:
    """A worker service: `setup` opens its pools, migrates, registers its subscribers and relays. `app_options` are
    FastAPI's own (intake's title, description, app-wide dependencies and responses).

    Shutdown order keeps every message: consumers stop first (in-flight batches finish and commit), then
    the outbox relays drain, then the broker and pools close. Each pool's schema has its processed_events pruned
    (shared.inbox.keep_pruned) while the service runs.
    """
    settings = settings or get_settings()
    tune_malloc()  # before the service's buffers come and go: its RSS stays flat through long runs
    configure_logging(service, settings.log_level, settings.log_format)  # before uvicorn logs its first line
    serve_as(service)
    broker = make_broker(settings, service)
    tracer_provider = tracing.start(settings, service)  # None: PARS_OTLP_ENDPOINT unset, tracing off
    running = Running()
    log = get_logger(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level, settings.log_format)
        nonlocal running
        running = await setup(settings, broker)
        for name, value in running.state.items():
            setattr(app.state, name, value)
        await broker.start()
        for relay in running.relays:
            await relay.start()
        keep, every = settings.processed_events_keep(), settings.processed_events_prune_seconds
        pruners = [asyncio.create_task(keep_pruned(pool, keep, every), name="processed-events-retention")
                   for pool in running.pools]
        pruners += [asyncio.create_task(chore(), name=getattr(chore, "__name__", "chore")) for chore in running.chores]
        pruners.append(asyncio.create_task(give_back_after_bursts(), name="give-back-after-bursts"))
        # What start-up made (modules, models, pools) lives as long as the process: in the permanent generation the
        # collector's full passes no longer walk it (they did on every batch file intake parsed: docs/PERFORMANCE.md).
        gc.freeze()
        log.info("service started", kafka=settings.kafka_bootstrap_servers, namespace=settings.namespace)
        try:
            yield
        finally:
            log.info("service stopping")
            for subscriber in broker.subscribers:
                await subscriber.stop()
            for relay in running.relays:
                await relay.stop()
            for pruner in pruners:
                pruner.cancel()
            await asyncio.gather(*pruners, return_exceptions=True)
            for stop in running.on_stop:
                await stop()
            await broker.stop()
            for pool in running.pools:
                await pool.close()
            await asyncio.to_thread(tracing.stop)  # the last spans exported
            log.info("service stopped")

    async def ready() -> bool:
        try:
            if not await kafka_answers(broker, 2.0):
                return False
            for pool in running.pools:
                await pool.fetchval("SELECT 1")
            return bool(running.pools) or not running.relays
        except Exception:
            return False

    # FastAPI's request spans with the service's tracer provider, or none at all (it then asks for no provider).
    options = {"title": f"pars {service}"} | dict(app_options or {})
    options["telemetry"] = tracing.fastapi_telemetry(tracer_provider)
    app = FastAPI(**options, lifespan=lifespan)
    app.state.broker = broker
    app.state.service_token = settings.internal_token()
    app.add_exception_handler(ServiceTokenRefused, _refuse)
    async def measure_outboxes() -> None:  # at each scrape: one cheap count per outbox, never failing the scrape
        for relay in running.relays:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(relay.measure_backlog(), 2.0)

    add_health_routes(app, service, ready, measure_outboxes)
    app.add_middleware(HttpMetrics, service=service)
    app.add_middleware(RequestCorrelation)  # the outermost: every line of the request carries its correlation id
    for router in routers:
        app.include_router(router)
    return app
