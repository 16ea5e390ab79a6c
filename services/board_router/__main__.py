"""`python -m board_router`: runs the board router."""

from board_router.app import SERVICE, build
from shared.service import serve_worker
from shared.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    serve_worker(build(settings), settings, SERVICE)
