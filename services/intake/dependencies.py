"""Request dependencies: the caller's identity, the pool, the broker."""

from typing import Annotated

import asyncpg
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from faststream.kafka import KafkaBroker

from intake.errors import INVALID_KEY_CHALLENGE, NO_KEY_CHALLENGE, ApiError
from intake.keys import PREFIX, Principal


# Dependencies are coroutines even where they only read app.state: FastAPI runs a plain function in its thread pool,
# a hand-off that cost more than the rest of the lookup.
async def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def get_broker(request: Request) -> KafkaBroker:
    return request.app.state.broker


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
Broker = Annotated[KafkaBroker, Depends(get_broker)]


# FastAPI's scheme puts the bearer requirement on every route that takes a key, so /docs' "Authorize" fills the
# header; auto_error off, because a missing key answers PARS's own 401 (error shape, WWW-Authenticate).
API_KEY = HTTPBearer(auto_error=False, scheme_name="apiKey", bearerFormat=f"{PREFIX}_<key id>_<secret>",
                     description="An API key (`pars provider key`, `pars operator key`, `pars provider key "
                                 "--web-service`), sent as `Authorization: Bearer KEY`.")


async def caller(request: Request, pool: Pool,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Security(API_KEY)]) -> Principal:
    if credentials is None:  # no header, another scheme, or no key after "Bearer"
        raise ApiError(401, "unauthorized", "Send an API key as 'Authorization: Bearer KEY'.",
                       headers=NO_KEY_CHALLENGE)
    principal = await request.app.state.keys.authenticate(pool, credentials.credentials)
    if principal is None:
        raise ApiError(401, "unauthorized", "The API key is not valid.", headers=INVALID_KEY_CHALLENGE)
    return principal


def interactive(principal: Principal) -> Principal:
    if principal.role == "webservice":
        raise ApiError(403, "forbidden", "A web-service key reaches only /v1/ws; use an interactive key here.")
    return principal


async def current_principal(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    """The caller of an interactive route: a provider's or an operator's key."""
    return interactive(principal)


# On `caller` itself, not on current_principal: each level of dependencies costs FastAPI time on every completion.
async def current_provider(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    if interactive(principal).provider_id is None:
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
