"""The services' HTTP protocol (shared/http_protocol.py): httptools, answering what h11 answered."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from shared.http_protocol import MAX_HEAD_BYTES, HttpProtocol
from tests.support import free_port


def app() -> FastAPI:
    api = FastAPI()

    @api.get("/things")
    async def things() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/things")
    async def post_thing() -> dict[str, str]:
        return {"status": "kept"}

    @api.exception_handler(405)
    async def not_allowed(_: object, __: Exception) -> JSONResponse:
        return JSONResponse({"error": {"code": "method_not_allowed"}}, status_code=405)

    return api


@pytest.fixture
async def port() -> AsyncIterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app(), host="127.0.0.1", port=port, log_level="critical",
                                           http=HttpProtocol))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.02)
    yield port
    server.should_exit = True
    await serving


async def exchange(port: int, *requests: bytes, answers: int | None = None) -> list[bytes]:
    """Sends the requests on one connection, each as its own write; reads `answers` answers (one per request)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = []
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            if answers is None:
                got.append(await read_answer(reader))
        for _ in range(answers or 0):
            got.append(await read_answer(reader))
    finally:
        writer.close()
    return got


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


def get(path: str = "/things", extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


async def test_an_ordinary_request_is_answered(port: int) -> None:
    [answer] = await exchange(port, get())
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}')


async def test_a_method_llhttp_does_not_know_reaches_the_app_as_under_h11(port: int) -> None:
    answers = await exchange(port, b"BREW /things HTTP/1.1\r\nHost: x\r\n\r\n", get())
    assert answers[0].startswith(b"HTTP/1.1 405") and answers[0].endswith(b'{"error":{"code":"method_not_allowed"}}')
    assert answers[1].startswith(b"HTTP/1.1 200")  # the connection goes on (under h11)


async def test_an_unknown_method_after_another_request_in_one_chunk_gets_llhttps_400(port: int) -> None:
    # Pipelined behind a request in flight, it cannot be handed over whole: refused, and the connection closed,
    # as uvicorn's httptools protocol does with any request it cannot parse.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(get() + b"BREW /things HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert b"HTTP/1.1 400" in received and received.endswith(b"Invalid HTTP request received.")


async def send_in_pieces(port: int, request: bytes, piece: int = 1000) -> bytes:
    """The request written `piece` bytes at a time, so the server reads its head incomplete; its answer, or b"" when
    the server closed the connection on unread bytes (the client's system may drop the answer then)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        with contextlib.suppress(ConnectionError):  # refused and closed midway
            for start in range(0, len(request), piece):
                writer.write(request[start:start + piece])
                await writer.drain()
                await asyncio.sleep(0.001)
        try:
            return await read_answer(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            return b""
    finally:
        writer.close()


async def test_a_head_still_incomplete_past_h11s_limit_is_refused(port: int) -> None:
    for request in (get(extra=b"X-Padding: " + b"p" * 2 * MAX_HEAD_BYTES + b"\r\n"),
                    get(extra=b"".join(b"X-H%d: v\r\n" % n for n in range(3000))),
                    get("/things?q=" + "q" * 2 * MAX_HEAD_BYTES)):
        answer = await send_in_pieces(port, request)
        assert answer == b"" or (answer.startswith(b"HTTP/1.1 400")
                                 and answer.endswith(b"Invalid HTTP request received.")), answer[:100]


async def test_a_head_within_the_limit_is_answered_however_it_arrives(port: int) -> None:
    padded = get(extra=b"X-Padding: " + b"p" * (MAX_HEAD_BYTES - 200) + b"\r\n")
    assert (await send_in_pieces(port, padded)).startswith(b"HTTP/1.1 200")
    answers = await exchange(port, padded, padded, padded)  # each request's head counted on its own
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)


async def test_a_post_body_is_not_counted_as_head(port: int) -> None:
    body = b"b" * (3 * MAX_HEAD_BYTES)
    request = b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    [answer] = await exchange(port, request)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"kept"}')
