"""What the chaos suite reports, and how each record should end.

Record i is learner i's one completion, so every record is known by its learner's board ID wherever it
goes (projection, PARS rejections, e-mails): `4` + i for a diplomate on the board's roster, `9` + i for an
ID the roster lacks. Every tenth record is wrong for PARS (690 or 675); every tenth, offset by five, names
an ID the board rejects (661), so both kinds of rejection reach the digests.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from intake.batch_files.model import FileFormat
from intake.batch_files.tests.activity_reports import activity_report_xml
from pars_cli.demo_files import batch_file
from tests.e2e.test_batches import TEMPLATE_B

# The first provider also asked for the PARS rejections of its batch records by e-mail.
PROVIDERS = ("0007001", "0007002")
ACTIVITY = {"0007001": "217000001", "0007002": "217000002"}
BOARD = "ABOHNS"
FIRST_DAY = date(2021, 1, 1)
BATCH_SHARE = 0.7  # of a round's records go in files; the rest one completion a request


class Fate(StrEnum):
    ACCEPTED = "Accepted"
    BOARD_REJECTED = "Rejected"  # by the board: a record PARS kept, Rejected in the projection
    PARS_REJECTED = "Rejected by PARS"  # no record kept


def fate(i: int) -> Fate:
    return {9: Fate.PARS_REJECTED, 4: Fate.BOARD_REJECTED}.get(i % 10, Fate.ACCEPTED)


def pars_code(i: int) -> str:
    return "690" if (i // 10) % 2 else "675"


def board_id(i: int) -> str:
    return f"{9 if fate(i) is Fate.BOARD_REJECTED else 4}{i:06d}"


def index_of(learner_id: str | None) -> int | None:
    """The record a learner ID belongs to (None: not one of this workload's)."""
    return int(learner_id[1:]) if learner_id and learner_id[1:].isdigit() and learner_id[0] in "49" else None


def _learner(i: int) -> tuple[str, str, str]:
    return f"First{i}", f"Last{i}", f"{i % 12 + 1:02d}/{i % 28 + 1:02d}"


def _done(i: int) -> date:
    return FIRST_DAY + timedelta(days=i % 300)


def world(records: int) -> dict[str, Any]:
    return {
        "providers": [{"id": p, "name": f"Chaos Medical {p}", "email": f"cme@{p}.example",
                       "digest_pars_rejections": p == PROVIDERS[0]} for p in PROVIDERS],
        "activities": [{"id": ACTIVITY[p], "provider_id": p, "title": f"Resilience course {p}",
                        "start_date": "2021-01-01", "end_date": "2021-11-30", "moc_credits": 500,
                        "moc": {BOARD: ["Self-Assessment"]}} for p in PROVIDERS],
        "physicians": [{"first_name": first, "last_name": last, "dob": dob,
                        "certifications": [{"board": BOARD, "id": f"4{i:06d}"}]}
                       for i in range(records) for first, last, dob in [_learner(i)]],
    }


def _reported(i: int, provider: str) -> tuple[str, str]:
    """The activity and points record i reports: its PARS mistake, if it has one."""
    wrong = fate(i) is Fate.PARS_REJECTED
    activity = "999999999" if wrong and pars_code(i) == "690" else ACTIVITY[provider]
    return activity, "0.3" if wrong and pars_code(i) == "675" else "1"


def completion(i: int, provider: str) -> dict[str, Any]:
    activity, points = _reported(i, provider)
    first, last, dob = _learner(i)
    return {"activity_id": activity, "credit_id": f"ccid:chaos.example:{i}", "first_name": first, "last_name": last,
            "dob": dob, "completion_date": _done(i).isoformat(),
            "moc": [{"board": BOARD, "board_id": board_id(i), "credits": points,
                     "credit_types": {"Self-Assessment": points}}]}


def template_b_row(i: int, provider: str) -> list[str]:
    activity, points = _reported(i, provider)
    first, last, dob = _learner(i)
    done = _done(i)
    return ["Learner Template B", BOARD, activity, BOARD, board_id(i), first, last, dob,
            f"{done.month}/{done.day}/{done.year}", "Add", points, "Self-Assessment"]


def batch_content(indexes: list[int], provider: str, kind: FileFormat) -> bytes:
    if kind is FileFormat.XML:
        return activity_report_xml([{**{k: v for k, v in completion(i, provider).items() if k != "moc"},
                                     "action": "add", "board": BOARD, "board_id": board_id(i),
                                     "credits": completion(i, provider)["moc"][0]["credits"],
                                     "credit_types": completion(i, provider)["moc"][0]["credit_types"]}
                                    for i in indexes])
    return batch_file([template_b_row(i, provider) for i in indexes], kind, TEMPLATE_B)


@dataclass
class Item:
    """One request's worth of records: a batch file, or one completion through the API."""

    provider: str
    indexes: list[int]
    file: tuple[str, FileFormat] | None = None  # (name, format) for a batch upload
    attempts: int = 0  # requests made
    acknowledged: bool = False  # answered 202 (or, for a file, found in the upload history after a cut-off)
    found_after_cut_off: bool = False
    refused_for_good: str | None = None  # a 4xx no retry can change, or no 202 in time: the suite fails on it
    ids: tuple[str, ...] = ()  # the record IDs answered, or the batch ID


def plan_round(number: int, first: int, count: int, rng: random.Random) -> list[Item]:
    """Records first .. first+count-1: most in files of every format, the rest as API completions, mixed."""
    in_files = int(count * BATCH_SHARE)
    files = max(min(3, in_files // 50), -(-in_files // 500), 1)  # every format at least once; 500 rows at most
    size = -(-in_files // files)
    kinds = (FileFormat.XLSX, FileFormat.TXT, FileFormat.XML)
    items = []
    for n, start in enumerate(range(first, first + in_files, size)):
        kind = kinds[n % len(kinds)]
        items.append(Item(PROVIDERS[n % 2], list(range(start, min(start + size, first + in_files))),
                          (f"chaos-r{number}-{n}.{kind.value}", kind)))
    items += [Item(PROVIDERS[i % 2], [i]) for i in range(first + in_files, first + count)]
    rng.shuffle(items)
    return items
