"""Web services through the real pipeline: Activity Report XML (and its JSON variant) in, per-record results
out, Add and Delete; web-service keys apart from interactive ones; a sandbox key whose records are never kept."""

import time
from collections.abc import Iterator

import pytest
from lxml import etree

from intake.batch_files.tests.activity_reports import activity_report_xml
from tests.e2e.conftest import Stack, start_stack, stop_services
from tests.e2e.worlds import one_activity_world

pytestmark = pytest.mark.e2e
P = "0009101"
ACTIVITY = "210000041"
WORLD = one_activity_world(P, "LMS Medical", "cme@lms.example", ACTIVITY)


def report(credit_id: str, action: str = "add", **changes: object) -> dict:
    return {"activity_id": ACTIVITY, "credit_id": credit_id, "first_name": "Harper", "last_name": "Benton",
            "dob": "11/11", "completion_date": "2021-11-02", "action": action, "board": "ABOHNS",
            "board_id": "19927", "credits": "1", "credit_types": {"Self-Assessment": "1"}, **changes}


@pytest.fixture(scope="module")
def ws(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict]]:
    tmp = tmp_path_factory.mktemp("ws")
    stack = start_stack(servers, tmp / "logs")
    try:
        stack.load_world(WORLD)
        keys = {"interactive": stack.pars("provider", "key", P).stdout.strip(),
                "ws": stack.pars("provider", "key", P, "--web-service").stdout.strip(),
                "sandbox": stack.pars("provider", "key", P, "--web-service", "--sandbox").stdout.strip()}
        assert all(keys.values())
        yield stack, keys
    finally:
        stop_services(list(stack.processes.values()))


def post_xml(stack: Stack, key: str, body: bytes) -> tuple[int, etree._Element | dict]:
    with stack.client(key) as api:
        answer = api.post("/v1/ws/activity-reports", content=body, headers={"Content-Type": "application/xml"})
    if answer.headers.get("content-type", "").startswith("application/xml"):
        return answer.status_code, etree.fromstring(answer.content)
    return answer.status_code, answer.json()


def statuses(document: etree._Element) -> list[tuple[str | None, str | None, list[str | None]]]:
    return [(r.getparent().get("creditID"), r.get("status"), [e.get("code") for e in r.iter("{*}Error", "Error")])
            for r in document.iter("{*}Record", "Record")]


def test_xml_reports_answer_per_record_with_codes_then_delete(ws: tuple[Stack, dict]) -> None:
    stack, keys = ws
    body = activity_report_xml([report("ccid:lms.example:1"), report("ccid:lms.example:2", board_id="",
                                                                     credits="1.1")])
    code, document = post_xml(stack, keys["ws"], body)
    assert code == 200 and not isinstance(document, dict), document
    answered = statuses(document)
    assert answered[0] == ("ccid:lms.example:1", "Submitted", [])
    assert answered[1][0] == "ccid:lms.example:2" and answered[1][1] == "Rejected by PARS"
    assert set(answered[1][2]) >= {"621", "675"}
    record_id = next(r.get("recordID") for r in document.iter("{*}Record", "Record"))
    with stack.client(keys["interactive"]) as api:
        stack.wait_for(lambda: api.get(f"/v1/records/{record_id}").json().get("status") == "Accepted")
    for _ in range(20):  # validation hears of the board's answer a moment after the projection: 998 until then
        code, document = post_xml(stack, keys["ws"], activity_report_xml([report("ccid:lms.example:1", "delete")]))
        if statuses(document)[0][2] != ["998"]:
            break
        time.sleep(0.5)
    assert code == 200 and statuses(document)[0][1] in ("Delete Submitted", "Deleted"), statuses(document)
    with stack.client(keys["interactive"]) as api:
        stack.wait_for(lambda: api.get(f"/v1/records/{record_id}").status_code == 404)


def test_the_json_variant_answers_in_json(ws: tuple[Stack, dict]) -> None:
    stack, keys = ws
    completion = {"activity_id": ACTIVITY, "credit_id": "ccid:lms.example:j1", "first_name": "Harper",
                  "last_name": "Benton", "dob": "11/11", "completion_date": "2021-11-03",
                  "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 1,
                           "credit_types": {"Self-Assessment": 1}}]}
    no_credit_id = {**completion, "credit_id": None, "completion_date": "2021-11-04"}
    with stack.client(keys["ws"]) as api:
        answer = api.post("/v1/ws/activity-reports", json={"activity_reports": [completion, no_credit_id]})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert results[0]["records"][0]["status"] == "Submitted", results
    assert [e["code"] for e in results[1]["records"][0]["errors"]] == ["650"]


def test_web_service_and_interactive_keys_are_apart(ws: tuple[Stack, dict]) -> None:
    stack, keys = ws
    code, body = post_xml(stack, keys["interactive"], activity_report_xml([report("ccid:lms.example:k")]))
    assert code == 403 and "web-service" in body["error"]["message"]
    with stack.client(keys["ws"]) as api:
        assert api.get("/v1/records").status_code == 403


def test_sandbox_records_are_answered_and_never_kept(ws: tuple[Stack, dict]) -> None:
    stack, keys = ws
    code, document = post_xml(stack, keys["sandbox"], activity_report_xml([
        report("ccid:lms.example:s1", completion_date="2021-11-05"), report("ccid:lms.example:s2", first_name="")]))
    assert code == 200 and not isinstance(document, dict), document
    assert [(s, c) for _, s, c in statuses(document)] == [("Submitted", []), ("Rejected by PARS", ["622"])]
    record_id = next(r.get("recordID") for r in document.iter("{*}Record", "Record"))
    with stack.client(keys["interactive"]) as api:
        assert api.get(f"/v1/records/{record_id}").status_code == 404
        kept = api.get("/v1/records", params={"completed_from": "2021-11-05", "completed_to": "2021-11-05"})
    assert kept.json()["total"] == 0


def test_a_malformed_document_is_a_clear_422(ws: tuple[Stack, dict]) -> None:
    stack, keys = ws
    code, body = post_xml(stack, keys["ws"], b"<ActivityReports><ActivityReport></ActivityReports>")
    assert code == 422 and body["error"]["message"]
