"""`python -m intake`: runs the intake API."""

from intake.app import build
from shared.service import serve
from shared.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    serve(build(settings), settings.api_host, settings.api_port)
