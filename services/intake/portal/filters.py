"""The filters of the portal's lists, read from a page's query string the way a form sends them: an empty field is
no filter, and a value that cannot be one is named back to the user instead of failing the page."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from intake.keys import Principal
from intake.portal.pages import LISTED_STATUSES
from intake.records.queries import record_filters
from shared.boards import shipped_boards
from shared.limits import MAX_PAGE

PAGE_SIZES = (25, 50, 100, 250)


@dataclass
class ListFilters:
    activity_id: str = ""
    status: str = ""
    board: str = ""
    name: str = ""
    learner_id: str = ""
    completed_from: date | None = None
    completed_to: date | None = None
    q: str = ""  # the activity summary's search: an activity's ID or title
    sort: str = ""
    page: int = 1
    per_page: int = 50
    problems: list[str] = field(default_factory=list)

    def where(self, principal: Principal, *, with_provider: bool = True,
              activity_id: str | None = None) -> tuple[str, list[Any]]:
        return record_filters(principal, activity_id=activity_id or self.activity_id or None,
                              status=self.status or None, board=self.board or None, name=self.name or None,
                              learner_id=self.learner_id or None, completed_from=self.completed_from,
                              completed_to=self.completed_to, with_provider=with_provider)

    def query(self, **changes: Any) -> str:
        """This list's query string with some values changed (paging and sorting links keep the filters)."""
        values = {"activity_id": self.activity_id, "status": self.status, "board": self.board, "name": self.name,
                  "learner_id": self.learner_id, "completed_from": self.completed_from or "",
                  "completed_to": self.completed_to or "", "q": self.q, "sort": self.sort, "page": self.page,
                  "per_page": self.per_page, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _date(value: str, label: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{label}: '{value}' is not a date (YYYY-MM-DD).")
        return None


def _whole(value: str, label: str, default: int, low: int, high: int, problems: list[str]) -> int:
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        problems.append(f"{label}: '{value}' is not a number from {low} to {high}.")
        return default
    return int(value)


def read_filters(request: Request, *, default_sort: str) -> ListFilters:
    given = {k: v.strip() for k, v in request.query_params.items()}
    problems: list[str] = []
    status = given.get("status", "")
    if status and status not in LISTED_STATUSES:
        problems.append(f"Status: '{status}' is not one of {', '.join(LISTED_STATUSES)}.")
        status = ""
    board = given.get("board", "").upper()
    if board and board not in shipped_boards():
        problems.append(f"Board: '{board}' is not a board PARS reports to.")
        board = ""
    per_page = _whole(given.get("per_page", ""), "Page size", 50, 1, max(PAGE_SIZES), problems)
    return ListFilters(
        activity_id=given.get("activity_id", ""), status=status, board=board, name=given.get("name", ""),
        learner_id=given.get("learner_id", ""),
        completed_from=_date(given.get("completed_from", ""), "Completed from", problems),
        completed_to=_date(given.get("completed_to", ""), "Completed to", problems), q=given.get("q", ""),
        sort=given.get("sort", "") or default_sort,
        page=_whole(given.get("page", ""), "Page", 1, 1, MAX_PAGE, problems),
        per_page=per_page, problems=problems)


def board_codes() -> list[str]:
    return sorted(shipped_boards())
