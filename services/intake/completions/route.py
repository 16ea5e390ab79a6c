"""POST /v1/completions without FastAPI's per-request dependency solving, for the requests every caller sends.

FastAPI resolves the route's dependencies (the key, the pool, the validation client, the parameter checks) by walking
their tree on every request: ≈ 15% of intake's CPU per completion under load. `CompletionRoute` answers a plain
request (a JSON body, no query parameter but `wait` and `dry_run` as `true` or `false`, at most one Idempotency-Key)
by calling the same functions in FastAPI's order (body read and parsed, dependencies, parameters, body validated),
then the route's function, and serialises its answer as FastAPI does. Whatever it would have to judge otherwise (a
body that is not JSON or not a completion, another spelling of a boolean, a parameter repeated) goes to FastAPI's own
handler, which answers it as it always did: every status, body and header stays FastAPI's. So do requests while
tracing is on (FastAPI's telemetry reads the handler's values) and apps with dependency overrides (tests).

The route's dependencies are checked when the handler is built (`_takes_what_we_resolve`): a route that takes any
other dependency or parameter than these is left to FastAPI alone.
"""

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.types import Message

from intake.completions.schemas import Completion, SubmissionAnswer
from intake.dependencies import API_KEY, caller, current_provider, get_pool
from intake.keepable import keepable_parameters
from intake.validation_client import get_validation
from shared import tracing

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_FLAGS = {"true": True, "false": False}  # pydantic's own reading of these two; other spellings are FastAPI's
_QUERY = ("wait", "dry_run")
_HEADER = "idempotency-key"
_ANSWER = TypeAdapter(SubmissionAnswer)  # what FastAPI's response field dumps (serialize_json)
# The dependency tree this handler resolves itself, in FastAPI's order: the app's, then the function's.
_TREE = (("keepable_parameters", ()), ("current_provider", (("caller", (("get_pool", ()), ("HTTPBearer", ()))),)),
         ("get_pool", ()), ("get_validation", ()))
_PARAMETERS = ("completion", "request", "provider", "pool", "validation", "response", "wait", "dry_run",
               "idempotency")


class CompletionRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        full = super().get_route_handler()  # FastAPI's, with the app's dependencies of this inclusion
        if not _takes_what_we_resolve(self, _dependant_of(self)):
            return full
        endpoint, status_code = self.endpoint, self.status_code or 200

        async def handler(request: Request) -> Response:
            values = await _plain_values(request)
            if values is None:
                return await full(request)
            if isinstance(values, _Unread):
                return await full(Request(request.scope, values.receive))
            answer = await endpoint(**values)
            sub: Response = values["response"]
            response = Response(content=_ANSWER.dump_json(answer, by_alias=True), media_type="application/json",
                                status_code=sub.status_code or status_code)
            response.headers.raw.extend(sub.headers.raw)
            return response

        return handler


class _Unread:
    """A body that could not be read: FastAPI's handler gets a request whose read fails the same way."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def receive(self) -> Message:
        raise self.error


async def _plain_values(request: Request) -> "dict[str, Any] | _Unread | None":
    """The route function's arguments, resolved as FastAPI resolves them; None when the request is not plain (FastAPI's
    handler then answers it). Raises what the dependencies raise, as FastAPI would at that point."""
    if tracing.enabled() or request.app.dependency_overrides:
        return None
    headers = request.headers
    content_type = headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json" or len(headers.getlist(_HEADER)) > 1:
        return None
    flags = {}
    for name, value in request.query_params.multi_items():
        if name not in _QUERY or name in flags or value not in _FLAGS:
            return None
        flags[name] = _FLAGS[value]
    try:  # FastAPI reads and parses the body before any dependency (its errors come first)
        body = await request.body()
    except Exception as exc:  # the client left: FastAPI's handler meets the same, and answers as it does
        return _Unread(exc)
    try:
        document = json.loads(body) if body else None
    except Exception:  # FastAPI's handler parses it again (the body is kept on the request) and answers
        return None
    if document is None:
        return None
    await keepable_parameters(request)
    credentials = await API_KEY(request)
    pool = await get_pool(request)
    provider = await current_provider(await caller(request, pool, credentials))
    validation = await get_validation(request)
    try:
        completion = Completion.model_validate(document)
    except ValidationError:
        return None
    response = Response()  # FastAPI's sub-response: the function may set its status and headers
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return {"completion": completion, "request": request, "provider": provider, "pool": pool,
            "validation": validation, "response": response, "wait": flags.get("wait", False),
            "dry_run": flags.get("dry_run", False), "idempotency": headers.get(_HEADER)}


def _dependant_of(route: APIRoute) -> Dependant:
    """The dependant FastAPI's handler is built from: with the app's dependencies when the route is being included."""
    context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        return context.dependant
    return route.dependant


def _tree(dependant: Dependant) -> tuple[tuple[str, Any], ...]:
    return tuple((getattr(d.call, "__name__", type(d.call).__name__), _tree(d)) for d in dependant.dependencies)


def _takes_what_we_resolve(route: APIRoute, dependant: Dependant) -> bool:
    """Whether the route's dependencies and parameters are exactly those `_plain_values` resolves."""
    return (_tree(dependant) == _TREE
            and tuple(inspect.signature(route.endpoint).parameters) == _PARAMETERS
            and [p.name for p in dependant.query_params] == list(_QUERY)
            and [p.alias.lower() for p in dependant.header_params] == [_HEADER]
            and [p.name for p in dependant.body_params] == ["completion"]
            and dependant.body_params[0].field_info.annotation is Completion
            and not dependant.path_params and not dependant.cookie_params)
