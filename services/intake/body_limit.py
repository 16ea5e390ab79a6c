"""Request bodies over their route's limit answer 413 before the route reads them (shared/limits.py).

A declared Content-Length over the limit is refused at once (the server holds the client to what it declares). A
body sent without one (chunked) is read here up to the limit, then handed on whole, or refused once it passes it.
"""

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.batch_files.model import FRAMING_BYTES, MAX_FILE_BYTES
from intake.errors import error_body
from shared.limits import (
    API_BODY_BYTES,
    COMPLETION_BODY_BYTES,
    CREDIT_TYPE_CHARS,
    ID_CHARS,
    MAX_CREDIT_TYPES,
    MAX_MOC_ENTRIES,
    MAX_PAGE,
    MAX_REMS_ENTRIES,
    MAX_TARGETS,
    NAME_CHARS,
    WEB_SERVICE_BODY_BYTES,
)


def body_limit(path: str) -> int:
    if path.startswith(("/v1/batches", "/portal/uploads")):  # the portal's upload takes the same files
        return MAX_FILE_BYTES + FRAMING_BYTES
    if path.startswith("/v1/ws/"):
        return WEB_SERVICE_BODY_BYTES
    if path.startswith("/v1/completions"):
        return COMPLETION_BODY_BYTES
    return API_BODY_BYTES


LIMITS = (
    f"**Limits.** Request bodies: `POST /v1/completions` and other JSON routes {COMPLETION_BODY_BYTES // 1024} KiB, "
    f"`/v1/ws/activity-reports` {WEB_SERVICE_BODY_BYTES // (1024 * 1024)} MiB, `/v1/batches` a "
    f"{MAX_FILE_BYTES // (1024 * 1024)} MB file; larger bodies answer 413 `body_too_large`. A completion names at "
    f"most {MAX_MOC_ENTRIES} boards (`moc`), {MAX_REMS_ENTRIES} REMS programs and {MAX_CREDIT_TYPES} credit types a "
    f"board, and makes at most {MAX_TARGETS} records; names hold at most {NAME_CHARS} characters, IDs and credit IDs "
    f"{ID_CHARS}, credit types {CREDIT_TYPE_CHARS} (each field's own limit is in its schema). No text may hold a NUL, "
    f"another control character but tab and line ends, or a lone surrogate, and numbers must be finite; pages go up "
    f"to {MAX_PAGE:,}. What breaks a limit answers 422 naming the field or parameter, before anything is kept.")
TOO_LARGE: dict[int | str, dict[str, object]] = {
    413: {"description": "The request body is larger than the route takes (see Limits); nothing was read or kept."}}


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if declared.strip().isdigit() and int(declared) > limit:
                await _too_large(scope, send, limit)
            else:
                await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await _too_large(scope, send, limit)
                return
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, for a route that waits for one
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return replayed


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    route = f"{scope['method']} {scope['path']}"
    body = json.dumps(error_body("body_too_large", f"The request body is larger than {limit:,} bytes, the most "
                                                   f"{route} takes.", [{"limit_bytes": limit}])).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
