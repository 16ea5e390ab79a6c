"""Request dependencies: the caller's identity, the pool, the broker."""

from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from faststream.kafka import KafkaBroker

from intake.errors import ApiError
from intake.keys import Principal


# Dependencies are coroutines even where they only read app.state: FastAPI runs a plain function in its thread pool,
# a hand-off that cost more than the rest of the lookup.
async def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def get_broker(request: Request) -> KafkaBroker:
    return request.app.state.broker


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
Broker = Annotated[KafkaBroker, Depends(get_broker)]


async def current_principal(request: Request, pool: Pool) -> Principal:
    """The caller of an interactive route: a provider's or an operator's key."""
    principal = await caller(request, pool)
    if principal.role == "webservice":
        raise ApiError(403, "forbidden", "A web-service key reaches only /v1/ws; use an interactive key here.")
    return principal


async def caller(request: Request, pool: Pool) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, "unauthorized", "Send an API key as 'Authorization: Bearer KEY'.")
    principal = await request.app.state.keys.authenticate(pool, key.strip())
    if principal is None:
        raise ApiError(401, "unauthorized", "The API key is not valid.")
    return principal


async def current_provider(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.provider_id is None:
        raise ApiError(403, "forbidden", "This call needs a provider's API key.")
    return principal


async def current_web_service(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    if principal.role != "webservice":
        raise ApiError(403, "forbidden", "Web services need the provider's web-service key (pars provider key "
                       "--web-service), not an interactive key.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentProvider = Annotated[Principal, Depends(current_provider)]
CurrentWebService = Annotated[Principal, Depends(current_web_service)]
