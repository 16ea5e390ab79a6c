"""The HTTP/1.1 protocol every service's uvicorn runs: uvicorn's httptools protocol (llhttp, in C), which takes
about half the CPU per request of h11 (pure Python), kept to the answers h11 gave:

- A request head still incomplete once over 16 KiB of it have arrived is refused with 400, as h11 refused it (its
  limit on an incomplete event); llhttp has no limit of its own. A larger head that arrives whole is read, as h11
  read it.
- A method llhttp does not know (`BREW /v1/records`) reached the app under h11, which answered it in the API's
  shape (405, 404); llhttp refuses it. Such a request, when it starts a chunk of its connection with no other
  request in flight, is handed with its connection to uvicorn's h11 protocol (as uvicorn hands a WebSocket
  upgrade to its WebSocket protocol); anywhere else it gets llhttp's 400.
"""

import httptools
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 16 * 1024  # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, which uvicorn keeps
INVALID = "Invalid HTTP request received."  # uvicorn's words for a request it cannot parse


class HttpProtocol(HttpToolsProtocol):
    _in_message = False  # between a message's first byte and its end
    _in_head = False  # between a message's first byte and the end of its headers
    _head_bytes = 0  # bytes received while the current head was incomplete (h11's buffer, as h11 counted it)
    _progressed = False  # this chunk got past a message's first byte

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        at_boundary, was_in_head, self._progressed = not self._in_message, self._in_head, False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            idle = (self.cycle is None or self.cycle.response_complete) and not self.pipeline
            if at_boundary and not self._progressed and idle:
                self._hand_to_h11(data)
            else:
                self._refuse()
            return
        except httptools.HttpParserError:
            self._refuse()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head:
            self._head_bytes = (self._head_bytes if was_in_head else 0) + len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()

    def on_message_begin(self) -> None:
        self._progressed |= self._in_message  # a second message in this chunk
        self._in_message = self._in_head = True
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._progressed = True
        super().on_url(url)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._progressed = True
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._progressed, self._in_message = True, False
        super().on_message_complete()

    def _refuse(self) -> None:
        self.logger.warning(INVALID)
        self.send_400_response(INVALID)

    def _hand_to_h11(self, data: bytes) -> None:
        self.connections.discard(self)
        protocol = H11Protocol(config=self.config, server_state=self.server_state, app_state=self.app_state,
                               _loop=self.loop)
        protocol.connection_made(self.transport)
        self.transport.set_protocol(protocol)
        protocol.data_received(data)
