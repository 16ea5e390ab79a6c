"""The portal's pure parts: list filters read from a query string, safe redirects, delete answers in words, and
which deletes the projection does not show yet."""

import asyncio
from datetime import date
from typing import Any
from uuid import uuid4

from starlette.requests import Request

from intake.keys import Principal
from intake.portal.filters import read_filters
from intake.portal.listings import delete_outcome_words, not_shown_yet, until_shown
from intake.portal.pages import safe_next


def request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/portal/learners", "query_string": query.encode(),
                    "headers": []})


def test_filters_read_a_forms_query_and_name_what_cannot_be_a_filter() -> None:
    filters = read_filters(request("status=Accepted&board=abohns&completed_from=2021-11-01&per_page=100&page=2"),
                           default_sort="-submission")
    assert (filters.status, filters.board, filters.completed_from, filters.per_page, filters.page) == (
        "Accepted", "ABOHNS", date(2021, 11, 1), 100, 2)
    assert filters.problems == []
    assert "page=3" in filters.query(page=3) and "status=Accepted" in filters.query(page=3)

    bad = read_filters(request("status=Bogus&board=XYZ&completed_to=11/02/2021&per_page=0&page=x"),
                       default_sort="-submission")
    assert (bad.status, bad.board, bad.completed_to, bad.per_page, bad.page) == ("", "", None, 50, 1)
    assert [p.split(":")[0] for p in bad.problems] == ["Status", "Board", "Page size", "Completed to", "Page"]


def test_empty_fields_are_no_filter() -> None:
    filters = read_filters(request("status=&board=&name=&completed_from="), default_sort="id")
    assert (filters.status, filters.board, filters.name, filters.completed_from, filters.problems) == (
        "", "", "", None, [])


def test_only_a_portal_path_is_a_place_to_go_back_to() -> None:
    assert safe_next("/portal/learners?status=Accepted") == "/portal/learners?status=Accepted"
    for elsewhere in ("https://evil.example/", "//evil.example/portal/", "/console", "/portal\\..", None, ""):
        assert safe_next(elsewhere) == "/portal/"


def test_delete_answers_in_words() -> None:
    assert delete_outcome_words({"status": "Delete Submitted"}).startswith("Delete Submitted")
    assert "board still holds" in delete_outcome_words({"error": {"code": "record_with_board", "message": "x"}})
    assert "PARS 706" in delete_outcome_words({"error": {"code": "706", "message": "Deadline for deleting..."}})


def test_a_delete_is_shown_once_the_projection_holds_its_outcome() -> None:
    submitted, deleted, refused, undecided = uuid4(), uuid4(), uuid4(), uuid4()
    outcomes: list[dict[str, Any]] = [{"record_id": str(submitted), "status": "Delete Submitted"},
                {"record_id": str(deleted), "status": "Deleted"},
                {"record_id": str(refused), "error": {"code": "record_with_board", "message": "x"}},
                {"record_id": str(undecided), "status": "Processing"}]
    before = {r: {"status": "Accepted"} for r in (submitted, deleted, refused, undecided)}
    assert not_shown_yet(outcomes, before) == [submitted, deleted]  # a refusal or an undecided delete changed nothing
    assert not_shown_yet(outcomes, {**before, submitted: {"status": "Delete Submitted"}}) == [deleted]
    assert not_shown_yet(outcomes, {refused: {"status": "Submitted"}}) == []  # both gone: withdrawn, or not ours


class _Projection:
    """A pool whose records table shows a record in each status in turn, one status a query."""

    def __init__(self, record_id: Any, statuses: list[str]) -> None:
        self.record_id, self.statuses, self.queries = record_id, statuses, 0

    async def fetch(self, _query: str, _ids: Any) -> list[dict[str, Any]]:
        status = self.statuses[min(self.queries, len(self.statuses) - 1)]
        self.queries += 1
        return [{"record_id": self.record_id, "provider_id": "0008001", "status": status}]


def test_a_delete_is_answered_once_the_projection_shows_it_or_after_a_while() -> None:
    record_id, provider = uuid4(), Principal("provider", "0008001")
    outcome = [{"record_id": str(record_id), "status": "Delete Submitted"}]
    applied = _Projection(record_id, ["Accepted", "Accepted", "Delete Submitted"])
    asyncio.run(until_shown(applied, "projection", provider, outcome))
    assert applied.queries == 3  # looked until the projection applied the event
    never = _Projection(record_id, ["Accepted"])
    asyncio.run(until_shown(never, "projection", provider, outcome, within=0.3))
    assert 4 <= never.queries <= 8  # a projector that is down holds the answer up 0.3 s, not for good
