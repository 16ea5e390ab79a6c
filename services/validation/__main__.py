"""`python -m validation`: runs the validation service."""

from shared.service import health_port, serve
from shared.settings import get_settings
from validation.app import SERVICE, build

if __name__ == "__main__":
    settings = get_settings()
    serve(build(settings), settings.api_host, health_port(settings, SERVICE))
