"""Two Adds with one credit ID, racing through two intake processes to two validation instances: one wins."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pars_cli.stack import ServiceProcess, wait_ready
from tests.e2e.conftest import Stack
from tests.e2e.test_walking_skeleton import WORLD, completion
from tests.support import free_port

pytestmark = pytest.mark.e2e
PAIRS = 40


def test_validation_lets_exactly_one_of_two_racing_adds_win(fresh_stack: Stack) -> None:
    stack = fresh_stack
    stack.load_world(WORLD)
    key = stack.pars("provider", "key", "0008001").stdout.strip()

    second_api = free_port()
    extra = [ServiceProcess("intake", {**stack.env, "PARS_API_PORT": str(second_api)}, stack.log_dir),
             ServiceProcess("validation", {**stack.env, "PARS_HEALTH_PORT": str(free_port())}, stack.log_dir)]
    for process in extra:
        process.start()
    try:
        settings = stack.settings.model_copy(update={"api_port": second_api})
        wait_ready(settings, extra[:1])
        apis = [stack.api, f"http://127.0.0.1:{second_api}"]

        def add(args: tuple[int, int]) -> tuple[int, str]:
            pair, side = args
            with httpx.Client(base_url=apis[side], headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
                answer = api.post("/v1/completions", params={"wait": "true"},
                                  json=completion(credit_id=f"ccid:race:{pair}"))
            [record] = answer.json()["records"]
            return pair, record["status"] if not record["errors"] else record["errors"][0]["code"]

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(add, [(pair, side) for pair in range(PAIRS) for side in (0, 1)]))
    finally:
        for process in extra:
            process.stop()
    by_pair: dict[int, list[str]] = {}
    for pair, result in outcomes:
        by_pair.setdefault(pair, []).append(result)
    assert all(sorted(results) == ["603", "Submitted"] for results in by_pair.values()), by_pair
    # Both validation instances took part: the group spread the partitions over them.
    assert stack.log("validation").count('"event": "service started"') == 2
