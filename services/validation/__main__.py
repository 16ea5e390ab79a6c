"""`python -m validation`: runs the validation service."""

from shared.service import serve_worker
from shared.settings import get_settings
from validation.app import SERVICE, build

if __name__ == "__main__":
    settings = get_settings()
    serve_worker(build(settings), settings, SERVICE)
