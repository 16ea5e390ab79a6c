"""`python -m intake`: runs the intake API."""

import socket
import sys

from intake.app import build
from intake.batches.service import PARSE_SWITCH_SECONDS
from shared.service import health_port, serve
from shared.service_registry import INTAKE
from shared.settings import Settings, get_settings


def listeners(settings: Settings) -> list[socket.socket] | None:
    """One of several intake processes (PARS_API_FD, from `pars stack run --replicas N`): the API's listening
    socket its supervisor holds, which every intake process accepts on, and a port of its own (PARS_HEALTH_PORT) where
    /readyz and /metrics are this process's. None: intake binds PARS_API_HOST:PARS_API_PORT itself, as ever."""
    if settings.api_fd is None:
        return None
    if settings.health_port is None:
        raise SystemExit("PARS_API_FD is set without PARS_HEALTH_PORT: each intake process needs a port of its own")
    own = socket.create_server((settings.health_host, health_port(settings, INTAKE.name)))
    return [socket.socket(fileno=settings.api_fd), own]


if __name__ == "__main__":
    sys.setswitchinterval(PARSE_SWITCH_SECONDS)
    settings = get_settings()
    serve(build(settings), settings.api_host, settings.api_port, listeners(settings))
