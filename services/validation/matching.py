"""Learner matching against the physician directory: plain functions, no SQL, no I/O.

PARS identifies a learner "by licence number or NPI, name and month/day of birth". Matching here:

1. Strong identifiers open the search: a licence (state + licence id), a valid NPI, a board + board id. A
   directory entry is a candidate when it carries at least one of the given identifiers and contradicts
   none of them (an NPI of its own that differs, another licence id in the same state, another id at the
   same board). The template's "Licensing ID or NPI" column means `license_id` may hold an NPI: when it is
   a valid NPI and no valid `npi` is given, it is looked up as an NPI and as a licence id.
2. Given names must then agree (`shared.names.same_name`), and a given date of birth as month/day.
3. Without strong identifiers, first and last name (plus the date of birth and medical school when given)
   decide. When the given identifiers are unknown to the directory altogether, the same name route is
   tried, but only when a medical school was given to make up for them.
4. Exactly one candidate left is a match. Several: the fields that would tell them apart are asked for.
   None: the identifying fields the query left out are asked for.

Odd input never raises: blank strings, an invalid NPI, an unknown state or an unreadable date of birth
count as not given (and the last three are mentioned in the reason).
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from shared.dates import normalize_month_day, parse_month_day
from shared.names import name_key
from shared.npi import is_valid_npi
from shared.states import state_code


@dataclass(frozen=True)
class DirectoryEntry:
    """One physician of the directory."""

    first_name: str
    last_name: str
    dob: str  # "MM/DD"
    npi: str | None = None
    medical_school: str | None = None
    licenses: tuple[tuple[str, str], ...] = ()  # (state code, licence id)
    certifications: tuple[tuple[str, str], ...] = ()  # (board code, board id)


class LearnerQuery(BaseModel):
    """What POST /v1/learners/match takes: every field optional."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    first_name: str | None = None
    last_name: str | None = None
    dob: str | None = None
    state: str | None = None
    license_id: str | None = None
    npi: str | None = None
    medical_school: str | None = None
    board: str | None = None
    board_id: str | None = None


@dataclass(frozen=True)
class MatchResult:
    matched: bool
    learner: DirectoryEntry | None  # set when matched
    candidates: int  # how many directory entries were still possible
    need: list[str] = field(default_factory=list)  # field names of LearnerQuery that would help, most useful first
    reason: str = ""  # one short sentence, no personal data


# --- normalising ----------------------------------------------------------------------------------------

_ID_IGNORED = re.compile(r"[\s.\-‐‑‒–—]+")


def _text(value: object) -> str | None:
    """A stripped string, or None for None, non-strings and blanks."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def id_key(value: object) -> str | None:
    """Licence and board ids: case, spaces, dots and dashes forgiven ('MD.205357' == 'md205357')."""
    text = _text(value)
    if text is None:
        return None
    return _ID_IGNORED.sub("", text).casefold() or None


def _npi_key(value: object) -> str | None:
    """An NPI as ten digits (spaces and dashes dropped), or None; validity is checked separately."""
    text = _text(value)
    if text is None:
        return None
    return re.sub(r"[\s\-]+", "", text) or None


def _board_key(value: object) -> str | None:
    text = _text(value)
    return "".join(text.split()).upper() if text else None


def _school_key(value: object) -> str | None:
    text = _text(value)
    return " ".join(text.split()).casefold() if text else None


def _name(value: object) -> str | None:
    text = _text(value)
    key = name_key(text) if text else ""
    return key or None


def _entry_npi(entry: DirectoryEntry) -> str | None:
    return _npi_key(entry.npi)


def _pairs(items: object) -> list[tuple[str, str]]:
    if not isinstance(items, (tuple, list)):
        return []
    return [(a, b) for a, b in (i for i in items if isinstance(i, (tuple, list)) and len(i) == 2)]


def _entry_licences(entry: DirectoryEntry) -> list[tuple[str | None, str | None]]:
    return [(state_code(state), id_key(licence)) for state, licence in _pairs(entry.licenses)]


def _entry_certifications(entry: DirectoryEntry) -> list[tuple[str | None, str | None]]:
    return [(_board_key(board), id_key(board_id)) for board, board_id in _pairs(entry.certifications)]


# --- the query, read once -------------------------------------------------------------------------------


@dataclass
class _Query:
    first: str | None
    last: str | None
    dob: tuple[int, int] | None
    state: str | None  # a known two-letter code
    licence: str | None  # licence id key (when license_id is not used as an NPI)
    npi: str | None  # a valid NPI
    npi_or_licence: str | None  # license_id holding a valid NPI
    school: str | None
    board: str | None
    board_id: str | None
    supplied: set[str]  # fields given in a usable form
    notes: list[str]


def _read(query: LearnerQuery) -> _Query:
    notes: list[str] = []
    supplied: set[str] = set()

    first = _name(getattr(query, "first_name", None))
    last = _name(getattr(query, "last_name", None))
    if first:
        supplied.add("first_name")
    if last:
        supplied.add("last_name")

    dob = None
    dob_text = _text(getattr(query, "dob", None))
    if dob_text:
        dob = parse_month_day(dob_text)
        if dob is None:
            notes.append("the date of birth is not a month/day and was ignored")
        else:
            supplied.add("dob")

    state = None
    state_text = _text(getattr(query, "state", None))
    if state_text:
        state = state_code(state_text)
        if state is None:
            notes.append("the state is not a known US state or territory and was ignored")
        else:
            supplied.add("state")

    npi = None
    npi_text = _npi_key(getattr(query, "npi", None))
    if npi_text:
        if is_valid_npi(npi_text):
            npi = npi_text
            supplied.add("npi")
        else:
            notes.append("the NPI given fails the NPI check digit and was ignored")

    licence = npi_or_licence = None
    licence_text = _text(getattr(query, "license_id", None))
    if licence_text:
        as_npi = _npi_key(licence_text)
        if npi is None and as_npi and is_valid_npi(as_npi):
            npi_or_licence = as_npi
            supplied.add("npi")
        else:
            licence = id_key(licence_text)
        if licence or npi_or_licence:
            supplied.add("license_id")

    school = _school_key(getattr(query, "medical_school", None))
    if school:
        supplied.add("medical_school")
    board = _board_key(getattr(query, "board", None))
    if board:
        supplied.add("board")
    board_id = id_key(getattr(query, "board_id", None))
    if board_id:
        supplied.add("board_id")

    return _Query(first, last, dob, state, licence, npi, npi_or_licence, school, board, board_id, supplied, notes)


# --- strong identifiers ---------------------------------------------------------------------------------

# An identifier looks at an entry and answers "match", "contradict" or None (the entry says nothing).
_Identifier = Callable[[DirectoryEntry], str | None]


def _licence_identifier(state: str | None, licence: str) -> _Identifier:
    def check(entry: DirectoryEntry) -> str | None:
        licences = _entry_licences(entry)
        if any(lid == licence and (state is None or st == state) for st, lid in licences):
            return "match"
        if state is not None and any(st == state for st, _ in licences):
            return "contradict"  # licensed in that state under another number
        return None

    return check


def _npi_identifier(npi: str) -> _Identifier:
    def check(entry: DirectoryEntry) -> str | None:
        own = _entry_npi(entry)
        if own is None:
            return None
        return "match" if own == npi else "contradict"

    return check


def _npi_or_licence_identifier(state: str | None, value: str) -> _Identifier:
    licence_check = _licence_identifier(state, id_key(value) or value)

    def check(entry: DirectoryEntry) -> str | None:
        own = _entry_npi(entry)
        if own == value or licence_check(entry) == "match":
            return "match"
        return "contradict" if own is not None else None

    return check


def _board_identifier(board: str | None, board_id: str) -> _Identifier:
    def check(entry: DirectoryEntry) -> str | None:
        certifications = _entry_certifications(entry)
        if any(bid == board_id and (board is None or b == board) for b, bid in certifications):
            return "match"
        if board is not None and any(b == board for b, _ in certifications):
            return "contradict"  # certified by that board under another id
        return None

    return check


def _identifiers(q: _Query) -> list[tuple[str, _Identifier]]:
    found: list[tuple[str, _Identifier]] = []
    if q.npi:
        found.append(("NPI", _npi_identifier(q.npi)))
    if q.npi_or_licence:
        found.append(("NPI", _npi_or_licence_identifier(q.state, q.npi_or_licence)))
    if q.licence:
        found.append(("licence", _licence_identifier(q.state, q.licence)))
    if q.board_id:
        found.append(("board ID", _board_identifier(q.board, q.board_id)))
    return found


# --- the softer checks ----------------------------------------------------------------------------------


def _person_agrees(entry: DirectoryEntry, q: _Query) -> bool:
    """Given names and date of birth agree with the entry."""
    if q.first and _name(entry.first_name) != q.first:
        return False
    if q.last and _name(entry.last_name) != q.last:
        return False
    return not (q.dob and parse_month_day(entry.dob if isinstance(entry.dob, str) else None) != q.dob)


def _school_agrees(entry: DirectoryEntry, q: _Query) -> bool:
    return _school_key(entry.medical_school) == q.school


def _tie_break(candidates: list[DirectoryEntry], q: _Query, *, school: bool) -> list[DirectoryEntry]:
    """Narrow several candidates by hints that alone identify nobody; a hint that leaves none is skipped."""
    hints: list[Callable[[DirectoryEntry], bool]] = []
    if school and q.school:
        hints.append(lambda e: _school_agrees(e, q))
    if q.state and not q.licence and not q.npi_or_licence:
        hints.append(lambda e: any(st == q.state for st, _ in _entry_licences(e)))
    if q.board and not q.board_id:
        hints.append(lambda e: any(b == q.board for b, _ in _entry_certifications(e)))
    for hint in hints:
        if len(candidates) <= 1:
            break
        narrowed = [e for e in candidates if hint(e)]
        if narrowed:
            candidates = narrowed
    return candidates


# --- what would help ------------------------------------------------------------------------------------


def _distinguishing(candidates: list[DirectoryEntry], q: _Query) -> list[str]:
    """Fields the query did not supply whose directory values differ among the candidates."""

    def licences(e: DirectoryEntry) -> frozenset[tuple[str | None, str | None]]:
        return frozenset((st, lid) for st, lid in _entry_licences(e) if q.state is None or st == q.state)

    def certifications(e: DirectoryEntry) -> frozenset[tuple[str | None, str | None]]:
        return frozenset((b, bid) for b, bid in _entry_certifications(e) if q.board is None or b == q.board)

    keys: list[tuple[str, Callable[[DirectoryEntry], object]]] = [
        ("npi", _entry_npi),
        ("license_id", licences),
        ("state", lambda e: frozenset(st for st, _ in _entry_licences(e))),
        ("medical_school", lambda e: _school_key(e.medical_school)),
        ("dob", lambda e: parse_month_day(e.dob if isinstance(e.dob, str) else None)),
        ("board_id", certifications),
        ("board", lambda e: frozenset(b for b, _ in _entry_certifications(e))),
        ("first_name", lambda e: _name(e.first_name)),
        ("last_name", lambda e: _name(e.last_name)),
    ]
    return [
        name
        for name, key in keys
        if name not in q.supplied and len({key(e) for e in candidates}) > 1
    ]


def _missing(q: _Query, fields: Iterable[str]) -> list[str]:
    return [name for name in fields if name not in q.supplied]


_IDENTIFYING = ("npi", "license_id", "state", "medical_school", "board_id", "board")


def _sentence(text: str, notes: list[str]) -> str:
    return f"{text} ({'; '.join(notes)})." if notes else f"{text}."


def _result(candidates: list[DirectoryEntry], q: _Query, how: str) -> MatchResult:
    if len(candidates) == 1:
        return MatchResult(True, candidates[0], 1, [], _sentence(f"Matched one physician {how}", q.notes))
    if candidates:
        need = _distinguishing(candidates, q)
        text = f"{len(candidates)} physicians in the directory match {how}"
        text += "; more identifying fields are needed" if need else " and the directory cannot tell them apart"
        return MatchResult(False, None, len(candidates), need, _sentence(text, q.notes))
    return MatchResult(
        False, None, 0, _missing(q, _IDENTIFYING), _sentence(f"No physician in the directory matches {how}", q.notes)
    )


# --- public API -----------------------------------------------------------------------------------------


def match_learner(query: LearnerQuery, directory: Iterable[DirectoryEntry]) -> MatchResult:
    """Find the one physician of the directory the query describes (see the module docstring)."""
    q = _read(query)
    entries = [e for e in (directory or ()) if isinstance(e, DirectoryEntry)]
    identifiers = _identifiers(q)

    if identifiers:
        labels = " and ".join(dict.fromkeys(label for label, _ in identifiers))
        verdicts = [[check(e) for _, check in identifiers] for e in entries]
        known = [e for e, v in zip(entries, verdicts, strict=True) if "match" in v and "contradict" not in v]
        if known:
            candidates = [e for e in known if _person_agrees(e, q)]
            candidates = _tie_break(candidates, q, school=True)
            checked = [labels] + (["name"] if q.first or q.last else []) + (["date of birth"] if q.dob else [])
            how = "by " + (", ".join(checked[:-1]) + " and " + checked[-1] if len(checked) > 1 else labels)
            return _result(candidates, q, how)
        if any("match" in v for v in verdicts):
            return _result([], q, f"the {labels} given")
        if not (q.school and q.first and q.last):
            return _result([], q, f"the {labels} given")
        # The identifiers are unknown to the directory: name, date of birth and medical school instead,
        # never an entry that contradicts an identifier given.
        entries = [e for e, v in zip(entries, verdicts, strict=True) if "contradict" not in v]
        candidates = [e for e in entries if _person_agrees(e, q) and _school_agrees(e, q)]
        candidates = _tie_break(candidates, q, school=False)
        return _result(candidates, q, f"by name and medical school (the {labels} given is not in the directory)")

    possible = [e for e in entries if _person_agrees(e, q) and (not q.school or _school_agrees(e, q))]
    if not (q.first and q.last):
        need = _missing(q, ("npi", "license_id", "state", "first_name", "last_name", "dob", "medical_school"))
        return MatchResult(
            False,
            None,
            len(possible),
            need,
            _sentence("Not enough to identify a learner: give a licence, an NPI, a board ID or both names", q.notes),
        )
    possible = _tie_break(possible, q, school=False)
    how = "by name" + (" and date of birth" if q.dob else "") + (" and medical school" if q.school else "")
    return _result(possible, q, how)


def learner_fields(entry: DirectoryEntry, query: LearnerQuery) -> dict[str, str | None]:
    """The matched learner as the API answers it, preferring the licence and certification the query named."""
    q = _read(query)

    state = license_id = None
    licences = _pairs(entry.licenses)
    chosen = next((item for item in licences if q.state and state_code(item[0]) == q.state), None)
    if chosen is None and licences:
        chosen = licences[0]
    if chosen is not None:
        state = state_code(chosen[0]) or chosen[0]
        license_id = chosen[1]

    board = board_id = None
    certifications = _pairs(entry.certifications)
    if q.board:
        cert = next((item for item in certifications if _board_key(item[0]) == q.board), None)
    elif q.board_id:
        cert = next((item for item in certifications if id_key(item[1]) == q.board_id), None)
    else:
        cert = None
    if cert is not None:
        board, board_id = _board_key(cert[0]), cert[1]

    return {
        "first_name": entry.first_name,
        "last_name": entry.last_name,
        "dob": normalize_month_day(entry.dob),
        "npi": entry.npi,
        "medical_school": entry.medical_school,
        "state": state,
        "license_id": license_id,
        "board": board,
        "board_id": board_id,
    }
