"""`python -m board_sim`: runs the board simulator."""

from board_sim.app import SERVICE, build
from shared.service import serve_worker
from shared.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    serve_worker(build(settings), settings, SERVICE)
