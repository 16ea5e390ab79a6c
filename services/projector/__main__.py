"""`python -m projector`: runs the projector."""

from projector.app import SERVICE, build
from shared.service import health_port, serve
from shared.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    serve(build(settings), settings.api_host, health_port(settings, SERVICE))
