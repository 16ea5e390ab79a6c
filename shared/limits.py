"""What PARS can keep: the limits every channel checks before it answers 202, so that nothing answered can be lost.

A record answered 202 passes through Kafka, validation, the router, the boards and the projection, and comes back in
downloads, rejection files and e-mails. Each of them must be able to keep every value: PostgreSQL text holds no NUL
and no lone surrogate (nor can UTF-8); XML 1.0 and xlsx cells hold no other C0 control character than tab, line
feed and carriage return; the projection indexes names, IDs and boards in btree rows of at most ~2.7 KB. The numbers
are generous for real PARS data (the longest names and IDs in the guide's samples are under 40 characters).
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from shared.events import ReportedRecord

# Field lengths, in characters.
NAME_CHARS = 100  # first_name, last_name
ID_CHARS = 100  # credit ID, activity ID, learner IDs (licence, board ID, NPI, REMS), board and program codes
CREDIT_TYPE_CHARS = 100  # a credit type's name
VALUE_CHARS = 40  # dates, numbers of credits, the record action, a state
TEXT_CHARS = 200  # medical school and the REMS fields
FREE_TEXT_CHARS = 1_000  # any other text: an activity's title, a forwarded query's values

# Counts.
MAX_MOC_ENTRIES = 20  # certifying boards in one completion
MAX_REMS_ENTRIES = 10  # REMS programs in one completion
MAX_CREDIT_TYPES = 20  # credit types of one board entry
MAX_TARGETS = 50  # records one completion (an API completion, a template row, an ActivityReport) may make

# Lists: pages beyond this are refused (422) rather than sent to PostgreSQL as an offset it cannot hold.
MAX_PAGE = 1_000_000

# Request bodies, in bytes (batch files have their own limit, MAX_FILE_BYTES in intake's batches/model.py).
COMPLETION_BODY_BYTES = 64 * 1024  # POST /v1/completions: a completion at every limit above is about 60 KB
API_BODY_BYTES = 64 * 1024  # every other JSON route (activities, learner matching, operators)
# A 5,000-record Activity Report with three targets a report measures 9.2 MB (1.8 KB a report); the JSON variant
# 2.8 MB. A web-service call may carry what a batch file may.
WEB_SERVICE_BODY_BYTES = 20 * 1024 * 1024

# NUL and lone surrogates (PostgreSQL, UTF-8), other C0 controls and U+FFFE/U+FFFF (XML 1.0, xlsx cells).
_UNKEEPABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class FieldProblem:
    field: str  # as the record or body names it: "last_name", "credit_types.Patient Safety", "moc.0.board"
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def printable(text: str) -> str:
    """`text` with every character that cannot be kept spelt as an escape, safe to put in a message."""
    return _UNKEEPABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def text_problem(value: str, max_chars: int | None = None) -> str | None:
    """Why PARS cannot keep this text (None when it can)."""
    if found := _UNKEEPABLE.search(value):
        char = ord(found.group())
        at = f"at character {found.start() + 1}"
        if char == 0:
            return f"holds a NUL character (U+0000) {at}, which PARS cannot keep"
        if 0xD800 <= char <= 0xDFFF:
            return f"holds a lone surrogate (U+{char:04X}) {at}, which is not Unicode text"
        return f"holds the control character U+{char:04X} {at}, which PARS cannot keep"
    if max_chars is not None and len(value) > max_chars:
        return f"holds {len(value):,} characters; at most {max_chars:,} are allowed"
    return None


def all_keepable(texts: Iterable[str]) -> bool:
    """True when no text holds a character PARS cannot keep: one search over them all (lengths not checked)."""
    return _UNKEEPABLE.search("\n".join(texts)) is None  # a line feed is keepable: joining finds nothing new


def keepable(max_chars: int | None = None) -> Any:
    """A pydantic after-validator refusing text PARS cannot keep: `Annotated[str, AfterValidator(keepable())]`."""
    def check(value: str) -> str:
        if problem := text_problem(value, max_chars):
            raise ValueError(problem)
        return value
    return check


_RECORD_TEXT = {"credit_id": ID_CHARS, "activity_id": ID_CHARS, "action": VALUE_CHARS, "first_name": NAME_CHARS,
                "last_name": NAME_CHARS, "dob": VALUE_CHARS, "npi": ID_CHARS, "medical_school": TEXT_CHARS,
                "completion_date": VALUE_CHARS, "learner_id": ID_CHARS, "learner_id_type": VALUE_CHARS,
                "registration": ID_CHARS, "credits": VALUE_CHARS}
_record_texts = attrgetter(*_RECORD_TEXT)
_RECORD_LIMITS = tuple(_RECORD_TEXT.values())
# No field's limit is below this: values all this short need no field-by-field length check.
_SHORTEST_LIMIT = min(*_RECORD_LIMITS, ID_CHARS, CREDIT_TYPE_CHARS, VALUE_CHARS)


def _plainly_keepable(record: ReportedRecord) -> bool:
    """True when `record_problems` would find nothing, learnt with one search over all its text (a batch file
    checks 5,000 records, nearly all of them fine); False says only that the field-by-field check must look."""
    claims = record.credit_types
    if record.rems is not None or len(claims) > MAX_CREDIT_TYPES:
        return False  # REMS fields and too many credit types: rare, left to the full check
    values = _record_texts(record)
    texts = [v for v in values if v is not None]
    texts.append(record.target.code)
    for claim in claims:
        texts.append(claim.name)
        if claim.points is not None:
            texts.append(claim.points)
    if max(map(len, texts)) > _SHORTEST_LIMIT and (
            any(v is not None and len(v) > limit for v, limit in zip(values, _RECORD_LIMITS, strict=True))
            or len(record.target.code) > ID_CHARS
            or any(len(c.name) > CREDIT_TYPE_CHARS or len(c.points or "") > VALUE_CHARS for c in claims)):
        return False
    return all_keepable(texts)


def record_problems(record: ReportedRecord) -> list[FieldProblem]:
    """Every field of a reported record that cannot be kept, with the reason, in field order."""
    if _plainly_keepable(record):
        return []
    problems: list[FieldProblem] = []

    def check(field: str, value: str | None, max_chars: int) -> None:
        if value is not None and (problem := text_problem(value, max_chars)):
            problems.append(FieldProblem(field, problem))

    for field, max_chars in _RECORD_TEXT.items():
        check(field, getattr(record, field), max_chars)
    check("target", record.target.code, ID_CHARS)
    if len(record.credit_types) > MAX_CREDIT_TYPES:
        problems.append(FieldProblem("credit_types", f"lists {len(record.credit_types):,} credit types; at most "
                                                     f"{MAX_CREDIT_TYPES} are allowed for one board"))
    for claim in record.credit_types[:MAX_CREDIT_TYPES]:
        check("credit_types", claim.name, CREDIT_TYPE_CHARS)
        check(f"credit_types.{printable(claim.name[:CREDIT_TYPE_CHARS])}", claim.points, VALUE_CHARS)
    if record.rems is not None:
        for field, value in record.rems.model_dump(exclude_none=True).items():
            if isinstance(value, str):
                check(f"rems.{field}", value, TEXT_CHARS)
    return problems


def completion_problems(records: list[ReportedRecord]) -> list[FieldProblem]:
    """What cannot be kept of one completion's records (one per target): too many targets, or any record's fields
    (a field shared by every record is named once)."""
    problems: list[FieldProblem] = []
    if len(records) > MAX_TARGETS:
        problems.append(FieldProblem("targets", f"the completion makes {len(records):,} records (one per target); "
                                                f"at most {MAX_TARGETS} are allowed"))
    for record in records:
        problems += [p for p in record_problems(record) if p not in problems]
    return problems


def json_problems(document: Any, max_chars: int = FREE_TEXT_CHARS) -> list[FieldProblem]:
    """What cannot be kept of a JSON document parsed by Python: text (names too) and numbers that are not finite
    (Python reads 1e309 as infinity, and `NaN` and `Infinity` as themselves). Walked without recursion: a document
    nested as deep as the parser allows must not exhaust the stack here."""
    problems: list[FieldProblem] = []
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if problem := text_problem(value, max_chars):
                problems.append(FieldProblem(path or "body", problem))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(FieldProblem(path or "body", f"is {value}, not a finite number"))
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                where = f"{path}.{printable(key[:ID_CHARS])}" if path else printable(key[:ID_CHARS])
                if problem := text_problem(key, max_chars):
                    problems.append(FieldProblem(where, f"the name {problem}"))
                pending.append((where, item))
        elif isinstance(value, list):
            pending += [(f"{path}.{i}" if path else str(i), item) for i, item in reversed(list(enumerate(value)))]
    return problems
