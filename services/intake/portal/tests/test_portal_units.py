"""The portal's pure parts: list filters read from a query string, safe redirects, delete answers in words."""

from datetime import date

from starlette.requests import Request

from intake.portal.filters import read_filters
from intake.portal.listings import delete_outcome_words
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
