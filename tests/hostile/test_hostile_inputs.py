"""The hostile-input corpus against a real stack: every request is answered within a bound, never with a 5xx;
a refusal is a 4xx with a JSON error carrying a message; an acceptance keeps what it should; intake stays ready
after each; and nothing of a refused submission is kept (all or nothing)."""

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import start_stack, stop_services
from tests.hostile.cases import ACCEPTED, EITHER, REFUSED, Case, Probe, all_cases
from tests.hostile.world import ACTIVITY_A, WORLD, A, B, completion, credit_id

pytestmark = pytest.mark.e2e
REQUEST_SECONDS = 30.0  # the bound on any one answer: a hang fails the case instead of the session
CASES = all_cases()


@pytest.fixture(scope="module")
def probe(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    stack = start_stack(servers, tmp_path_factory.mktemp("hostile") / "logs")
    try:
        stack.load_world(WORLD)
        keys = {"a": stack.pars("provider", "key", A).stdout.strip(),
                "b": stack.pars("provider", "key", B).stdout.strip(),
                "operator": stack.pars("operator", "key").stdout.strip(),
                "ws": stack.pars("provider", "key", A, "--web-service").stdout.strip()}
        assert all(keys.values()), keys
        yield Probe(stack, keys)
    finally:
        stop_services(list(stack.processes.values()))


def _shown(case: Case, answer: httpx.Response) -> str:
    return f"{case.method} {case.path[:120]} -> {answer.status_code} {answer.text[:400]!r}"


def test_the_corpus_is_large_and_covers_every_kind_of_answer() -> None:
    assert len(CASES) >= 150
    assert {c.expect for c in CASES} == {REFUSED, ACCEPTED, EITHER}


def _send(http: httpx.Client, case: Case, headers: dict[str, str | bytes]) -> httpx.Response | None:
    """The case's answer; None when a protocol-level case's connection was closed instead."""
    try:
        # httpx takes str and bytes values in one dict at run time; its types want one kind.
        return http.request(case.method, case.path, content=case.content(), headers=headers)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        pytest.fail(f"{case.method} {case.path[:120]}: no answer within {REQUEST_SECONDS:.0f} s")
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        if not case.protocol_level:
            raise
        return None  # the server closed the connection on a request head it would not read


def _judge(probe: Probe, case: Case, answer: httpx.Response) -> None:
    assert answer.status_code < 500, _shown(case, answer)
    if answer.status_code >= 400:
        assert case.expect in (REFUSED, EITHER), "refused, but should be accepted: " + _shown(case, answer)
        if case.status is not None:
            assert answer.status_code == case.status, _shown(case, answer)
        if not case.protocol_level:
            assert answer.headers.get("content-type", "").startswith("application/json"), _shown(case, answer)
            message = answer.json()["error"]["message"]
            assert isinstance(message, str) and message.strip(), _shown(case, answer)
            if case.says:
                assert case.says.lower() in message.lower(), _shown(case, answer)
        if case.check is not None and case.check_refusal:
            case.check(probe, answer)
    else:
        assert 200 <= answer.status_code < 300, _shown(case, answer)
        assert case.expect in (ACCEPTED, EITHER), "accepted, but should be refused: " + _shown(case, answer)
        assert case.check is not None
        case.check(probe, answer)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request_gets_a_clear_answer_and_intake_stays_ready(probe: Probe, case: Case) -> None:
    headers = dict(case.headers)
    if case.key != "none":
        headers.setdefault("Authorization", f"Bearer {probe.keys[case.key]}")
    with httpx.Client(base_url=probe.stack.api, timeout=REQUEST_SECONDS) as http:
        answer = _send(http, case, headers)
        if answer is not None:
            _judge(probe, case, answer)
        ready = http.get("/readyz")
        assert ready.status_code == 200, f"intake not ready after {case.id}: {ready.status_code} {ready.text}"


def test_refused_submissions_kept_nothing(probe: Probe) -> None:
    """All or nothing: no record of any refused submission exists, not even of a target that was fine."""
    sentinel = completion("sentinel")
    with probe.client() as api:
        answer = api.post("/v1/completions", json=sentinel, params={"wait": "true"})
        assert answer.status_code == 202, answer.text
        # Submitted after every case: once it is listed, the projection has had the cases' records too.
        probe.stack.wait_for(lambda: api.get(f"/v1/records/{answer.json()['records'][0]['record_id']}")
                             .status_code == 200, timeout=60)
    refused = {c.credit_id: c.id for c in CASES if c.credit_id}
    kept: list[tuple[str, str]] = []
    with probe.client("operator") as api:
        page = 1
        while True:
            listing = api.get("/v1/records", params={"activity_id": ACTIVITY_A, "per_page": 1000, "page": page})
            assert listing.status_code == 200, listing.text
            items = listing.json()["items"]
            kept += [(refused[i["credit_id"]], i["status"]) for i in items if i["credit_id"] in refused]
            if len(items) < 1000:
                break
            page += 1
    assert credit_id("sentinel") not in refused
    assert not kept, f"records kept of refused submissions (case, status): {sorted(kept)}"
