"""Tenancy, generated from intake's route table: every route is called with another provider's key, a
web-service key, an operator key and no key, and leaks nothing of provider A's data.

`ROUTES` says how to call each path template and what kind of route it is; the first test fails when intake
has a route the table does not know, so no route is added without being probed here.
"""

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import pytest
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake.batch_files.tests.hostile import TEMPLATE_B, txt_bytes
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
A, B = "0007201", "0007202"
ACTIVITY_A, ACTIVITY_B, NOBODYS_ACTIVITY = "210007201", "210007202", "210007299"
BOARD = "ABOHNS"
# Learners of each provider, with names found nowhere else, so a leak of a name is a leak of A's data.
LEARNER_A = {"first_name": "Quillonar", "last_name": "Ardentrove", "dob": "03/17", "board_id": "7201001"}
LEARNER_B = {"first_name": "Merrowick", "last_name": "Tasketham", "dob": "08/09", "board_id": "7202001"}
WORLD = {
    "providers": [{"id": A, "name": "Tenant A Medical", "email": "cme@a.example"},
                  {"id": B, "name": "Tenant B Medical", "email": "cme@b.example"}],
    "activities": [{"id": activity, "provider_id": provider, "title": f"Course of {provider}",
                    "start_date": "2021-01-01", "end_date": "2021-11-30", "cme_credits": 8, "moc_credits": 8,
                    "moc": {BOARD: ["Self-Assessment"]}} for activity, provider in ((ACTIVITY_A, A), (ACTIVITY_B, B))],
    "physicians": [{"first_name": p["first_name"], "last_name": p["last_name"], "dob": p["dob"],
                    "licenses": [{"state": "CA", "id": f"A{p['board_id']}"}],
                    "certifications": [{"board": BOARD, "id": p["board_id"]}]} for p in (LEARNER_A, LEARNER_B)],
}


def completion(activity: str, learner: dict[str, str], credit_id: str, day: int = 2) -> dict[str, Any]:
    return {"activity_id": activity, "credit_id": credit_id, "first_name": learner["first_name"],
            "last_name": learner["last_name"], "dob": learner["dob"], "completion_date": f"2021-11-{day:02d}",
            "moc": [{"board": BOARD, "board_id": learner["board_id"], "credits": 1,
                     "credit_types": {"Self-Assessment": 1}}]}


def template_b(activity: str, learner: dict[str, str], rows: int) -> bytes:
    """`rows` rows for the learner, one day each; the second one's credits are over the activity's (rejected)."""
    return txt_bytes([TEMPLATE_B, *[
        ["Learner Template B", BOARD, activity, BOARD, learner["board_id"], learner["first_name"],
         learner["last_name"], learner["dob"], f"10/{day}/2021", "Add", "99" if day == 2 else "1", "Self-Assessment",
         "", "", "", "", ""] for day in range(1, rows + 1)]])


@dataclass
class Tenants:
    stack: Stack
    keys: dict[str, str]  # a, b, ws_a, ws_b, operator
    records: list[str]  # provider A's record IDs
    credit_ids: list[str]
    batch_id: str

    def call(self, role: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        with httpx.Client(base_url=self.stack.api, timeout=30) as http:
            return http.request(method, path, headers=headers, **kw)

    def portal(self, role: str | None, method: str, path: str, csrf: bool = True, **kw: Any) -> httpx.Response:
        """The call as a browser makes it once signed in to the portal with `role`'s key (None: never signed in;
        a web-service or operator key gets no portal session), its forms carrying the session's CSRF token."""
        with httpx.Client(base_url=self.stack.api, timeout=30) as http:
            if role is not None:
                http.post("/portal/sign-in", data={"key": self.keys[role], "next": "/portal/"})
                page = http.get("/portal/")
                token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
                if csrf and token and method == "POST":
                    if "json" in kw:
                        kw["headers"] = {"X-CSRF-Token": token[1]}
                    else:
                        kw["data"] = {**kw.get("data", {}), "csrf_token": token[1]}
            return http.request(method, path, **kw)

    def markers(self) -> list[str]:
        """Text that only provider A's data contains."""
        return [*self.records, *self.credit_ids, self.batch_id, ACTIVITY_A, LEARNER_A["first_name"],
                LEARNER_A["last_name"], LEARNER_A["board_id"], f"Course of {A}"]

    def leaked(self, answer: httpx.Response, markers: list[str] | None = None) -> list[str]:
        """A's markers in the answer, less those the caller itself sent (a 404 may name the ID it was asked)."""
        request = answer.request
        sent = str(request.url) + request.read().decode(errors="replace")
        return [m for m in self.shows(answer, markers) if m not in sent]

    def shows(self, answer: httpx.Response, markers: list[str] | None = None) -> list[str]:
        text = _text(answer)
        return [m for m in (markers or self.markers()) if m in text]

    def record_of_a(self, record_id: str) -> dict[str, Any]:
        answer = self.call("a", "GET", f"/v1/records/{record_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()


def _text(answer: httpx.Response) -> str:
    """The answer as text, whatever its format (an xlsx download is unpacked)."""
    if answer.headers.get("content-type", "").startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        return "\n".join(str(v) for row in book.active.iter_rows(values_only=True) for v in row if v is not None)
    return answer.content.decode("utf-8", errors="replace")


def _settled_batch(t: Tenants, role: str, batch_id: str) -> dict[str, Any]:
    return t.stack.wait_for(lambda: (b := t.call(role, "GET", f"/v1/batches/{batch_id}").json())["status"]
                            != "processing" and b, timeout=60)


def _kept(answered: list[dict[str, Any]]) -> list[str]:
    """The IDs of the records the projection lists (those rejected by PARS itself are answered, not listed)."""
    return [r["record_id"] for r in answered if r["status"] != "Rejected by PARS"]


@pytest.fixture(scope="module")
def tenants(stack: Stack) -> Tenants:
    stack.load_world(WORLD)
    keys = {"a": stack.pars("provider", "key", A).stdout.strip(), "b": stack.pars("provider", "key", B).stdout.strip(),
            "ws_a": stack.pars("provider", "key", A, "--web-service").stdout.strip(),
            "ws_b": stack.pars("provider", "key", B, "--web-service").stdout.strip(),
            "operator": stack.pars("operator", "key").stdout.strip()}
    assert all(keys.values()), keys
    t = Tenants(stack, keys, [], [], "")
    # Provider A's data, through every channel: a completion, a batch (added and rejected rows), a web service.
    answer = t.call("a", "POST", "/v1/completions", params={"wait": "true"},
                    json=completion(ACTIVITY_A, LEARNER_A, "ccid:a.example:1"))
    assert answer.status_code == 202 and _kept(answer.json()["records"]), answer.text
    t.records += _kept(answer.json()["records"])
    t.credit_ids.append("ccid:a.example:1")
    batch = t.call("a", "POST", "/v1/batches", files={"file": ("a-learners.txt", template_b(ACTIVITY_A, LEARNER_A, 3))})
    assert batch.status_code == 202, batch.text
    t.batch_id = batch.json()["batch_id"]
    settled = _settled_batch(t, "a", t.batch_id)
    assert (settled["added"], settled["rejected"]) == (2, 1), settled
    ws = t.call("ws_a", "POST", "/v1/ws/activity-reports", json={"activity_reports": [
        completion(ACTIVITY_A, LEARNER_A, "ccid:a.example:ws", day=5)]})
    assert ws.status_code == 200 and _kept(ws.json()["results"][0]["records"]), ws.text
    t.credit_ids.append("ccid:a.example:ws")
    t.records += _kept(ws.json()["results"][0]["records"])
    # Provider B's own data, so B's listings are not empty by default.
    own = t.call("b", "POST", "/v1/completions", params={"wait": "true"},
                 json=completion(ACTIVITY_B, LEARNER_B, "ccid:b.example:1"))
    assert own.status_code == 202, own.text
    # Everything of A's is listed and answered by the boards before anyone probes: a verdict arriving
    # mid-probe would change a status the delete probes assert B left alone.
    for record_id in t.records:
        stack.wait_for(lambda r=record_id: (a := t.call("a", "GET", f"/v1/records/{r}")).status_code == 200
                       and a.json()["status"] != "Submitted", timeout=60)
    listed = len(t.records) + settled["added"]
    stack.wait_for(lambda: t.call("a", "GET", "/v1/records", params={"per_page": 1000}).json()["total"] >= listed)
    return t


# --- how each route is called, and what kind of route it is ---------------------------------------------------
# kind: "id"       takes one of A's IDs: A and the operator get it, everyone else 404/403/401
#       "listing"  lists data: A's listing has A's markers, B's has none
#       "delete"   B's delete of A's record answers as for an unknown ID, and A's record stays
#       "submit"   B's submission naming A's activity or credit ID answers as if they did not exist
#       "ops"      operators only: provider and web-service keys 403, no key 401
#       "ops_action" the same for an action on something nobody has: the operator's answer is 404
#       "ticket"   the console's live stream: opened by a short-lived ticket only an operator's key gets
#       "public"   no key needed; carries no provider's data
#       "portal"   a portal page or form: without a provider's session (none, a web-service or an operator key)
#                  the browser is sent to sign in; B's session sees none of A's data, changes none of A's records;
#                  `mine` marks a page that shows A's data to A's own session (so the probe proves something)

Call = Callable[[Tenants, str | None], httpx.Response]


@dataclass(frozen=True)
class RouteProbe:
    kind: str
    call: Call
    mine: bool = False  # portal: A's own session sees A's data here


def _page(path: Callable[[Tenants], str], mine: bool = False, **params: Any) -> RouteProbe:
    return RouteProbe("portal", lambda t, role: t.portal(role, "GET", path(t), params=params), mine)


def _form(path: str, **kw: Callable[[Tenants], Any]) -> RouteProbe:
    def call(t: Tenants, role: str | None, csrf: bool = True) -> httpx.Response:
        return t.portal(role, "POST", path, csrf, **{k: v(t) for k, v in kw.items()})

    return RouteProbe("portal", call)


def _get(path: Callable[[Tenants], str], **params: Any) -> Call:
    return lambda t, role: t.call(role, "GET", path(t), params=params)


def _ops_live(t: Tenants, role: str | None) -> httpx.Response:
    """The server-sent event stream: its status and first line, then the stream is dropped."""
    headers = {"Authorization": f"Bearer {t.keys[role]}"} if role else {}
    with httpx.Client(base_url=t.stack.api, timeout=30) as http, \
            http.stream("GET", "/v1/ops/streams/pars.submissions/live", headers=headers) as answer:
        if answer.status_code == 200:
            first = next(answer.iter_lines())
            return httpx.Response(200, content=first.encode(), headers={"content-type": "text/event-stream"},
                                  request=answer.request)
        answer.read()
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers,
                              request=answer.request)


ROUTES: dict[tuple[str, str], RouteProbe] = {
    ("POST", "/v1/completions"): RouteProbe("submit", lambda t, role: t.call(
        role, "POST", "/v1/completions", params={"wait": "true"},
        json=completion(ACTIVITY_A, LEARNER_B, f"ccid:b.example:{uuid.uuid4().hex}", day=7))),
    ("GET", "/v1/records"): RouteProbe("listing", _get(lambda t: "/v1/records", per_page=1000)),
    ("GET", "/v1/records/{record_id}"): RouteProbe("id", _get(lambda t: f"/v1/records/{t.records[0]}")),
    ("DELETE", "/v1/records/{record_id}"): RouteProbe("delete", lambda t, role: t.call(
        role, "DELETE", f"/v1/records/{t.records[-1]}")),
    ("DELETE", "/v1/records"): RouteProbe("delete", lambda t, role: t.call(
        role, "DELETE", "/v1/records", params={"record_id": t.records})),
    ("POST", "/v1/activities"): RouteProbe("submit", lambda t, role: t.call(
        role, "POST", "/v1/activities", json={"id": ACTIVITY_A, "title": "Taken over", "start_date": "2021-01-01",
                                              "end_date": "2021-11-30"})),
    ("GET", "/v1/activities"): RouteProbe("listing", _get(lambda t: "/v1/activities", per_page=1000)),
    ("GET", "/v1/activities/{activity_id}"): RouteProbe("id", _get(lambda t: f"/v1/activities/{ACTIVITY_A}")),
    ("POST", "/v1/learners/match"): RouteProbe("submit", lambda t, role: t.call(
        role, "POST", "/v1/learners/match", json={"first_name": LEARNER_A["first_name"],
                                                   "last_name": LEARNER_A["last_name"], "dob": LEARNER_A["dob"]})),
    ("POST", "/v1/batches"): RouteProbe("submit", lambda t, role: t.call(
        role, "POST", "/v1/batches", params={"dry_run": "true"},
        files={"file": ("b.txt", template_b(ACTIVITY_A, LEARNER_B, 1))})),
    ("GET", "/v1/batches"): RouteProbe("listing", _get(lambda t: "/v1/batches", per_page=500)),
    ("GET", "/v1/batches/{batch_id}"): RouteProbe("id", _get(lambda t: f"/v1/batches/{t.batch_id}")),
    ("GET", "/v1/batches/{batch_id}/rejections"): RouteProbe(
        "id", _get(lambda t: f"/v1/batches/{t.batch_id}/rejections")),
    ("GET", "/v1/batches/{batch_id}/successes"): RouteProbe(
        "id", _get(lambda t: f"/v1/batches/{t.batch_id}/successes")),
    ("POST", "/v1/ws/activity-reports"): RouteProbe("submit", lambda t, role: t.call(
        role, "POST", "/v1/ws/activity-reports", json={"activity_reports": [
            {**completion(ACTIVITY_A, LEARNER_B, t.credit_ids[0]), "action": "Delete"}]})),
    ("GET", "/v1/ops/streams"): RouteProbe("ops", _get(lambda t: "/v1/ops/streams")),
    ("GET", "/v1/ops/lag"): RouteProbe("ops", _get(lambda t: "/v1/ops/lag")),
    ("GET", "/v1/ops/dead-letters"): RouteProbe("ops", _get(lambda t: "/v1/ops/dead-letters")),
    ("GET", "/v1/ops/streams/{topic}/tail"): RouteProbe(
        "ops", _get(lambda t: "/v1/ops/streams/pars.submissions/tail", limit=5)),
    ("GET", "/v1/ops/streams/{topic}/live"): RouteProbe("ops", _ops_live),
    ("GET", "/v1/ops/streams/{topic}/messages"): RouteProbe(
        "ops", _get(lambda t: "/v1/ops/streams/pars.submissions/messages", limit=5)),
    ("GET", "/v1/ops/records/{record_id}/story"): RouteProbe(
        "ops", _get(lambda t: f"/v1/ops/records/{t.records[0]}/story")),
    ("GET", "/v1/ops/health"): RouteProbe("ops", _get(lambda t: "/v1/ops/health")),
    ("GET", "/v1/ops/batches"): RouteProbe("ops", _get(lambda t: "/v1/ops/batches")),
    ("GET", "/v1/ops/dead-letters/actions"): RouteProbe("ops", _get(lambda t: "/v1/ops/dead-letters/actions")),
    ("POST", "/v1/ops/dead-letters/redrive-all"): RouteProbe("ops", lambda t, role: t.call(
        role, "POST", "/v1/ops/dead-letters/redrive-all", params={"service": "validation"})),
    ("POST", "/v1/ops/dead-letters/skip-all"): RouteProbe("ops", lambda t, role: t.call(
        role, "POST", "/v1/ops/dead-letters/skip-all", params={"service": "validation"})),
    # A letter nobody has: the operator's answer is 404, everyone else's 403/401 before it is looked for.
    ("POST", "/v1/ops/dead-letters/{topic}/{partition}/{offset}/redrive"): RouteProbe("ops_action", lambda t, role: (
        t.call(role, "POST", "/v1/ops/dead-letters/pars.dlq.validation/0/999999/redrive"))),
    ("POST", "/v1/ops/dead-letters/{topic}/{partition}/{offset}/skip"): RouteProbe("ops_action", lambda t, role: (
        t.call(role, "POST", "/v1/ops/dead-letters/pars.dlq.validation/0/999999/skip"))),
    ("POST", "/v1/ops/live-tickets"): RouteProbe("ops", lambda t, role: t.call(role, "POST", "/v1/ops/live-tickets")),
    ("GET", "/v1/ops/live"): RouteProbe("ticket", lambda t, role: t.call(role, "GET", "/v1/ops/live")),
    ("POST", "/v1/ops/replay/board-responses"): RouteProbe("ops", lambda t, role: t.call(
        role, "POST", "/v1/ops/replay/board-responses", json={"since": "2999-01-01T00:00:00Z"})),
    ("GET", "/portal/"): _page(lambda t: "/portal/", mine=True),
    ("GET", "/portal/learners"): _page(lambda t: "/portal/learners", mine=True, per_page=250),
    ("GET", "/portal/activities/{activity_id}/learners"): _page(
        lambda t: f"/portal/activities/{ACTIVITY_A}/learners", mine=True, per_page=250),
    ("GET", "/portal/records/{record_id}"): _page(lambda t: f"/portal/records/{t.records[0]}", mine=True),
    ("GET", "/portal/download"): _page(lambda t: "/portal/download", mine=True, format="csv"),
    ("GET", "/portal/learners/new"): _page(lambda t: "/portal/learners/new", mine=True, activity_id=ACTIVITY_A),
    ("GET", "/portal/activities/new"): _page(lambda t: "/portal/activities/new"),
    ("GET", "/portal/uploads"): _page(lambda t: "/portal/uploads", mine=True),
    ("GET", "/portal/uploads/{batch_id}/progress"): _page(lambda t: f"/portal/uploads/{t.batch_id}/progress",
                                                          mine=True),
    ("GET", "/portal/uploads/{batch_id}/rejections"): _page(lambda t: f"/portal/uploads/{t.batch_id}/rejections",
                                                            mine=True),
    ("GET", "/portal/uploads/{batch_id}/successes"): _page(lambda t: f"/portal/uploads/{t.batch_id}/successes",
                                                           mine=True),
    ("POST", "/portal/records/delete"): _form("/portal/records/delete", data=lambda t: {
        "record_id": t.records, "back_to": "/portal/learners"}),
    ("POST", "/portal/learners/new"): _form("/portal/learners/new", data=lambda t: {
        "activity_id": ACTIVITY_A, "first_name": LEARNER_B["first_name"], "last_name": LEARNER_B["last_name"],
        "dob": LEARNER_B["dob"], "completion_date": "2021-11-09"}),
    ("POST", "/portal/learners/match"): _form("/portal/learners/match", json=lambda t: {
        "first_name": LEARNER_B["first_name"], "last_name": LEARNER_B["last_name"], "dob": LEARNER_B["dob"]}),
    ("POST", "/portal/activities/new"): _form("/portal/activities/new", data=lambda t: {
        "id": ACTIVITY_A, "title": "Taken over", "start_date": "2021-01-01", "end_date": "2021-11-30"}),
    ("POST", "/portal/uploads"): _form("/portal/uploads", files=lambda t: {
        "file": ("b.txt", template_b(ACTIVITY_A, LEARNER_B, 1))}),
    ("POST", "/portal/sign-out"): _form("/portal/sign-out"),
    ("GET", "/portal/sign-in"): RouteProbe("public", _get(lambda t: "/portal/sign-in")),
    ("POST", "/portal/sign-in"): RouteProbe("public", lambda t, role: t.portal(None, "POST", "/portal/sign-in",
                                                                                data={"key": t.keys["a"]})),
    ("GET", "/portal/static/{path}"): RouteProbe("public", _get(lambda t: "/portal/static/portal.css")),
    ("GET", "/asyncapi"): RouteProbe("public", _get(lambda t: "/asyncapi")),
    ("GET", "/console"): RouteProbe("public", _get(lambda t: "/console")),
    ("GET", "/healthz"): RouteProbe("public", _get(lambda t: "/healthz")),
    ("GET", "/readyz"): RouteProbe("public", _get(lambda t: "/readyz")),
    ("GET", "/metrics"): RouteProbe("public", _get(lambda t: "/metrics")),
    ("GET", "/openapi.json"): RouteProbe("public", _get(lambda t: "/openapi.json")),
    ("GET", "/docs"): RouteProbe("public", _get(lambda t: "/docs")),
    ("GET", "/docs/oauth2-redirect"): RouteProbe("public", _get(lambda t: "/docs/oauth2-redirect")),
    ("GET", "/redoc"): RouteProbe("public", _get(lambda t: "/redoc")),
}


def _flat(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Route):
            yield from ((method, prefix + route.path) for method in (route.methods or set()) if method != "HEAD")
        elif hasattr(route, "original_router"):  # FastAPI keeps an included router whole, with its own prefix
            yield from _flat(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount) and isinstance(route.app, StaticFiles):  # files shipped with the code
            yield "GET", prefix + route.path + "/{path}"
        else:
            raise AssertionError(f"a route of a kind this test cannot call: {route!r}")


def intake_routes(stack: Stack) -> set[tuple[str, str]]:
    from intake.app import build

    return set(_flat(build(stack.settings).routes))


def test_the_probe_table_covers_every_route_of_intake(stack: Stack) -> None:
    routes = intake_routes(stack)
    assert routes - ROUTES.keys() == set(), "routes nobody probes for tenancy: add them to ROUTES"
    assert ROUTES.keys() - routes == set(), "ROUTES names routes intake no longer has"


def _refused(answer: httpx.Response, status: int) -> bool:
    return answer.status_code == status and bool(answer.json()["error"]["message"])


def _codes(answer: httpx.Response) -> list[list[str]]:
    body = answer.json()
    if "rows" in body:  # a batch's dry run
        records = body["rows"]
    else:
        records = body.get("records") or [r for res in body.get("results", []) for r in res["records"]]
    return [sorted(e["code"] for e in r["errors"]) for r in records]


def _check_id(t: Tenants, probe: RouteProbe) -> None:
    mine = probe.call(t, "a")
    assert mine.status_code == 200 and t.shows(mine), "A does not see its own data here: the probe proves nothing"
    assert probe.call(t, "operator").status_code == 200
    theirs = probe.call(t, "b")
    assert _refused(theirs, 404), f"B got {theirs.status_code}: {theirs.text[:300]}"
    assert not t.leaked(theirs)
    assert _refused(probe.call(t, "ws_b"), 403)
    assert _refused(probe.call(t, None), 401)


def _check_listing(t: Tenants, probe: RouteProbe) -> None:
    mine = probe.call(t, "a")
    assert mine.status_code == 200 and t.shows(mine), "A's listing lacks A's data: the probe proves nothing"
    theirs = probe.call(t, "b")
    assert theirs.status_code == 200, theirs.text[:300]
    assert t.leaked(theirs) == [], f"B's listing holds A's data: {t.leaked(theirs)}"
    assert _refused(probe.call(t, "ws_b"), 403)
    assert _refused(probe.call(t, None), 401)


def _check_delete(t: Tenants, probe: RouteProbe) -> None:
    before = {r: t.record_of_a(r)["status"] for r in t.records}
    theirs = probe.call(t, "b")
    if theirs.status_code == 207:
        results = theirs.json()["results"]
        assert [r["http_status"] for r in results] == [404] * len(t.records), results
        assert all(r["error"]["code"] == "not_found" for r in results), results
    else:
        assert _refused(theirs, 404), f"B got {theirs.status_code}: {theirs.text[:300]}"
    assert t.leaked(theirs) == [], t.leaked(theirs)
    assert _refused(probe.call(t, "ws_b"), 403)
    assert _refused(probe.call(t, None), 401)
    assert {r: t.record_of_a(r)["status"] for r in t.records} == before


def _check_submit(t: Tenants, probe: RouteProbe, route: tuple[str, str]) -> None:
    """B's call naming A's activity (or A's credit ID) answers exactly as if it named something nobody has."""
    before = {r: t.record_of_a(r)["status"] for r in t.records}
    path = route[1]
    role = "ws_b" if path.startswith("/v1/ws") else "b"
    theirs = probe.call(t, role)
    assert theirs.status_code < 500, theirs.text[:300]
    if path == "/v1/activities":
        assert theirs.status_code >= 400 and not t.leaked(theirs), theirs.text[:300]
        error = theirs.json()["error"]
        assert error["code"] != "activity_taken" and "another provider" not in error["message"], error
        owned = t.call("a", "GET", f"/v1/activities/{ACTIVITY_A}").json()
        assert owned["title"] == f"Course of {A}", owned
    elif path == "/v1/learners/match":
        # The physician directory is PARS's, shared by every provider (a learner's names and board IDs are
        # the directory's): matching must reveal nothing of what A reported.
        assert theirs.status_code == 200
        assert not t.leaked(theirs, [*t.records, *t.credit_ids, t.batch_id, ACTIVITY_A]), theirs.text[:300]
    else:
        assert not t.leaked(theirs), t.leaked(theirs)
        # The same call naming what nobody has: its codes must be the same.
        if path == "/v1/ws/activity-reports":
            nobody = t.call(role, "POST", path, json={"activity_reports": [
                {**completion(ACTIVITY_A, LEARNER_B, "ccid:nobody.example:1"), "action": "Delete"}]})
        elif path == "/v1/batches":
            nobody = t.call(role, "POST", path, params={"dry_run": "true"},
                            files={"file": ("b.txt", template_b(NOBODYS_ACTIVITY, LEARNER_B, 1))})
        else:
            nobody = t.call(role, "POST", path, params={"wait": "true"}, json=completion(
                NOBODYS_ACTIVITY, LEARNER_B, f"ccid:b.example:{uuid.uuid4().hex}", day=8))
        assert theirs.status_code == nobody.status_code, (theirs.text[:300], nobody.text[:300])
        assert _codes(theirs) == _codes(nobody), (theirs.text[:500], nobody.text[:500])
    other_role = "b" if role == "ws_b" else "ws_b"
    assert probe.call(t, other_role).status_code == 403
    assert _refused(probe.call(t, None), 401)
    assert {r: t.record_of_a(r)["status"] for r in t.records} == before


def _check_ops(t: Tenants, probe: RouteProbe) -> None:
    assert probe.call(t, "operator").status_code == 200
    for role in ("a", "b", "ws_a", "ws_b"):
        answer = probe.call(t, role)
        assert answer.status_code == 403, (role, answer.status_code, answer.text[:300])
        assert not t.leaked(answer)
    assert _refused(probe.call(t, None), 401)


def _check_ops_action(t: Tenants, probe: RouteProbe) -> None:
    mine = probe.call(t, "operator")
    assert mine.status_code == 404 and mine.json()["error"]["code"] == "dead_letter_refused", mine.text[:300]
    for role in ("a", "b", "ws_a", "ws_b"):
        assert _refused(probe.call(t, role), 403), role
    assert _refused(probe.call(t, None), 401)


def _check_live_ticket(t: Tenants, probe: RouteProbe) -> None:
    """The live stream takes a ticket, never a key: only an operator's key gets one, and no key opens it."""
    for role in ("a", "b", "ws_b", "operator", None):
        assert probe.call(t, role).status_code == 422  # no ticket: even an operator's key is not one
    assert _refused(t.call(None, "GET", "/v1/ops/live", params={"ticket": "forged.ticket"}), 401)
    for role in ("a", "ws_a"):
        assert _refused(t.call(role, "POST", "/v1/ops/live-tickets"), 403)
    ticket = t.call("operator", "POST", "/v1/ops/live-tickets").json()["ticket"]
    with httpx.Client(base_url=t.stack.api, timeout=30) as http, \
            http.stream("GET", "/v1/ops/live", params={"ticket": ticket}) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")


def _check_public(t: Tenants, probe: RouteProbe) -> None:
    answer = probe.call(t, None)
    assert answer.status_code in (200, 303), answer.text[:300]  # 303: signed in, sent on to the portal
    assert not t.leaked(answer), t.leaked(answer)


def _check_portal(t: Tenants, probe: RouteProbe) -> None:
    before = {r: t.record_of_a(r)["status"] for r in t.records}
    for role in (None, "ws_b", "operator"):  # no provider's session: sent to sign in, shown nothing
        answer = probe.call(t, role)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/sign-in"), (
            role, answer.status_code, answer.text[:300])
        assert not t.leaked(answer)
    if probe.mine:
        mine = probe.call(t, "a")
        assert mine.status_code == 200 and t.shows(mine), "A's session does not see A's data: the probe proves nothing"
    theirs = probe.call(t, "b")
    assert theirs.status_code < 500, theirs.text[:300]
    assert t.leaked(theirs) == [], f"B's session got A's data: {t.leaked(theirs)} ({theirs.status_code})"
    assert {r: t.record_of_a(r)["status"] for r in t.records} == before
    assert t.call("a", "GET", f"/v1/activities/{ACTIVITY_A}").json()["title"] == f"Course of {A}"


@pytest.mark.parametrize("route", sorted(ROUTES), ids=[f"{m} {p}" for m, p in sorted(ROUTES)])
def test_another_providers_key_sees_nothing_of_a(tenants: Tenants, route: tuple[str, str]) -> None:
    probe = ROUTES[route]
    if probe.kind == "submit":
        _check_submit(tenants, probe, route)
    else:
        {"id": _check_id, "listing": _check_listing, "delete": _check_delete, "ops": _check_ops,
         "public": _check_public, "portal": _check_portal, "ops_action": _check_ops_action,
         "ticket": _check_live_ticket}[probe.kind](tenants, probe)


def test_portal_forms_without_their_sessions_csrf_token_are_refused(tenants: Tenants) -> None:
    before = {r: tenants.record_of_a(r)["status"] for r in tenants.records}
    forms = [(m, p) for m, p in ROUTES if m == "POST" and p.startswith("/portal/") and p != "/portal/sign-in"]
    assert len(forms) >= 6
    for route in forms:
        answer = ROUTES[route].call(tenants, "a", False)  # type: ignore[call-arg]  # A's own session, no token
        assert answer.status_code == 403 and not tenants.shows(answer, tenants.records), (route, answer.text[:300])
    assert {r: tenants.record_of_a(r)["status"] for r in tenants.records} == before


def test_downloads_by_another_provider_hold_none_of_a(tenants: Tenants) -> None:
    for fmt in ("csv", "xlsx"):
        mine = tenants.call("a", "GET", "/v1/records", params={"format": fmt})
        assert mine.status_code == 200 and tenants.shows(mine), fmt
        theirs = tenants.call("b", "GET", "/v1/records", params={"format": fmt})
        assert theirs.status_code == 200 and tenants.leaked(theirs) == [], (fmt, tenants.leaked(theirs))
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(theirs.text)))
            assert len(rows) >= 2, "B's own record is missing from B's download"


def test_filters_naming_a_s_data_find_nothing_for_another_provider(tenants: Tenants) -> None:
    for params in ({"activity_id": ACTIVITY_A}, {"name": LEARNER_A["last_name"]},
                   {"learner_id": LEARNER_A["board_id"]}):
        mine = tenants.call("a", "GET", "/v1/records", params=params)
        assert mine.json()["total"] >= 1, params
        for path in ("/v1/records", "/v1/activities"):
            theirs = tenants.call("b", "GET", path, params=params)
            assert theirs.status_code == 200 and tenants.leaked(theirs) == [], (path, params, theirs.text[:300])

