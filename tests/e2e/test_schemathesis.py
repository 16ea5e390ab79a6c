"""schemathesis against intake's /openapi.json on a running stack: every documented operation, fed data that
fits its schema and data that does not, answers without a server error (5xx).

Bounded: a fixed number of examples per operation and mode, derandomised (the same cases each run), one
request timeout. Provider routes are called with a provider's key, /v1/ops with an operator's, /v1/ws with a
web-service key.
"""

import contextlib
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.e2e.conftest import Stack
from tests.hostile.world import WORLD
from tests.hostile.world import A as P

# Some 45 operations, fed twice each: minutes on a quiet 2-core machine, many more on a busy one.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
EXAMPLES = 25  # per operation and generation mode
# The operators' routes read Kafka (tails, lag, groups) and are the console's and CLI's tests' own: fewer cases.
OPS_EXAMPLES = 10
REQUEST_SECONDS = 20.0
# A live event stream answers 200 and never ends by design; its 403/401/404 are the tenancy test's to probe.
SKIPPED = {("GET", "/v1/ops/streams/{topic}/live")}
# Answers that wait for validation's decision would spend seconds each on fuzzed records: not waiting is enough
# to find a server error.
FIXED_QUERY = {"/v1/completions": {"wait": "false"}}


def fuzz(stack: Stack, session: requests.Session, strategy: Any, headers: dict[str, str],
         server_errors: list[str], sent: list[int], examples: int) -> None:
    """`examples` cases of the strategy, each sent once; a 5xx (or no answer) is noted, not shrunk."""

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case: schemathesis.Case) -> None:
        try:
            answer = case.call(base_url=stack.api, session=session, headers=headers, timeout=REQUEST_SECONDS)
        except requests.Timeout:
            server_errors.append(f"{case.method} {case.formatted_path}: no answer in {REQUEST_SECONDS} s")
            return
        sent.append(answer.status_code)
        if answer.status_code >= 500:
            server_errors.append(f"{answer.status_code} {case.method} {case.formatted_path} query={case.query!r} "
                                 f"body={str(case.body)[:200]!r}: {answer.text[:200]!r}")

    # Unsatisfiable: nothing of this kind to generate (no parameter to break in a negative case).
    with contextlib.suppress(Unsatisfiable):
        call()


def test_no_operation_answers_a_server_error(stack: Stack) -> None:
    stack.load_world(WORLD)
    keys = {"provider": stack.pars("provider", "key", P).stdout.strip(),
            "operator": stack.pars("operator", "key").stdout.strip(),
            "web-service": stack.pars("provider", "key", P, "--web-service").stdout.strip()}
    assert all(keys.values()), keys
    schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json", timeout=30)
    session = requests.Session()
    server_errors: list[str] = []
    sent: list[int] = []
    probed = []
    fed = 0  # cases asked for, at most
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation of the API's schema cannot be read: {result.err()}"
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if (method, path) in SKIPPED:
            continue
        role = "operator" if path.startswith("/v1/ops") else "web-service" if path.startswith("/v1/ws") else "provider"
        probed.append((method, path))
        examples = OPS_EXAMPLES if role == "operator" else EXAMPLES
        fed += examples
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, query=FIXED_QUERY.get(path))
            fuzz(stack, session, strategy, {"Authorization": f"Bearer {keys[role]}"}, server_errors, sent, examples)
    assert len(probed) >= 15, probed  # the document lists intake's routes, not an empty schema
    assert len(sent) >= fed, (len(sent), probed)  # each operation was fed, most of them twice
    with requests.get(f"{stack.api}/readyz", timeout=10) as ready:
        assert ready.status_code == 200
    assert not server_errors, f"{len(server_errors)} server errors:\n" + "\n".join(sorted(set(server_errors))[:40])
