"""Refusals of what PARS cannot keep (shared/limits.py), answered 422 before anything is queried, kept or streamed.

`keepable_parameters` runs for every route (an app dependency): a NUL in `?name=` or in `/v1/activities/{id}` would
otherwise reach PostgreSQL and fail there, after a download's 200 had already started.
"""

from typing import Any

from fastapi import Request

from intake.errors import ApiError
from shared.events import ReportedRecord
from shared.limits import FREE_TEXT_CHARS, FieldProblem, completion_problems, json_problems, printable, text_problem


def invalid(message: str, problems: list[FieldProblem], **where: Any) -> ApiError:
    details = [{"field": p.field, **where, "reason": p.reason} for p in problems]
    first = problems[0]
    more = f" (and {len(problems) - 1} more, in details)" if len(problems) > 1 else ""
    return ApiError(422, "invalid_request", f"{message}: {first.field} {first.reason}{more}.", details)


async def keepable_parameters(request: Request) -> None:
    for kind, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        problems = [FieldProblem(printable(name[:100]), problem) for name, value in items
                    if isinstance(value, str) and (problem := text_problem(value, FREE_TEXT_CHARS))]
        problems += [FieldProblem(printable(name[:100]), f"the name {problem}") for name, _ in items
                     if (problem := text_problem(name, FREE_TEXT_CHARS))]
        if problems:
            raise invalid(f"A {kind} parameter cannot be read", problems, location=kind)


def refuse_unkeepable_json(body: Any) -> None:
    """A JSON body forwarded as it is (activities, learner matching): every text keepable, every number finite."""
    if problems := json_problems(body):
        raise invalid("The body cannot be kept", problems)


def refuse_unkeepable_records(records: list[ReportedRecord], where: str = "The completion") -> None:
    """One completion's records, before anything is published: what is answered 202 must be keepable everywhere."""
    if problems := completion_problems(records):
        raise invalid(f"{where} cannot be kept", problems)
