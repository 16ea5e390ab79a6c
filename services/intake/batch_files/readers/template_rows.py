"""A data row's cells into the learner records it reports: one for a Template B row, one per target (state
licence, certifying board, REMS program) a CME/MOC row fills, each owning the cells no other of them reads."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from intake.batch_files.model import Layout, RowRecord
from intake.batch_files.readers.columns import CERTS, REMS_NAMES, Columns
from intake.batch_files.readers.credit_ids import derived_credit_id
from shared.boards import Board
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, Target
from shared.ids import new_id
from shared.states import state_code

_TEN_DIGITS = re.compile(r"^\d{10}$")


class Row:
    """One data row's cells, read by field name."""

    def __init__(self, cells: Sequence[str], columns: Columns) -> None:
        self.cells, self.columns = cells, columns

    def get(self, field: str) -> str | None:
        index = self.columns.fields.get(field)  # `at`, inlined: a Template B row reads 17 fields
        if index is None or index >= len(self.cells):
            return None
        return self.cells[index].strip() or None

    def at(self, index: int | None) -> str | None:
        if index is None or index >= len(self.cells):
            return None
        return self.cells[index].strip() or None

    def used(self, *fields: str) -> set[int]:
        return {self.columns.fields[f] for f in fields if f in self.columns.fields}


@dataclass(frozen=True)
class Context:
    provider_id: str
    batch_id: UUID
    boards: Mapping[str, Board]
    # Template B's Activity Registration -> its target, once per file: a file names a few targets 5,000 times.
    # The file's records share these Target models; nothing changes a record's target once made.
    targets: dict[str | None, Target] = field(default_factory=dict)


def _record(ctx: Context, number: int, row: Row, target: Target, **fields: Any) -> ReportedRecord:
    """A record with the row's shared fields; its credit ID derived from the completion (templates have none)."""
    shared = {"action": row.get("action"), "activity_id": row.get("activity_id"), "first_name": row.get("first_name"),
              "last_name": row.get("last_name"), "dob": row.get("dob"), "completion_date": row.get("completion_date")}
    credit_id = derived_credit_id(ctx.provider_id, shared["activity_id"] or "", target.code,
                                  fields.get("learner_id") or "", shared["completion_date"] or "")
    return ReportedRecord(record_id=new_id(), submission_id=ctx.batch_id, provider_id=ctx.provider_id, channel="batch",
                          credit_id_required=False, credit_id=credit_id, target=target, batch_id=ctx.batch_id,
                          row_number=number, **shared, **fields)


def _registration_target(registration: str | None, boards: Mapping[str, Board]) -> Target:
    """Template B's Activity Registration names the target: a board or REMS program code, a state code or name."""
    text = (registration or "").strip()
    board = boards.get(text.upper())
    if board is not None:
        return Target(kind=board.kind, code=board.code)
    if (code := state_code(text)) is not None:
        return Target(kind="state", code=code)
    return Target(kind="moc", code=text.upper())  # unknown: validation answers 713


def _template_b_records(ctx: Context, number: int, row: Row) -> list[tuple[ReportedRecord, set[int]]]:
    registration = row.get("registration")
    if (target := ctx.targets.get(registration)) is None:
        target = ctx.targets[registration] = _registration_target(registration, ctx.boards)
    if target.kind == "state" and registration and registration.upper() != target.code:
        registration = target.code  # a full state name registers with that state
    learner_id, id_type = row.get("learner_id"), row.get("learner_id_type")
    certs = [CreditTypeClaim(name=name) for c in CERTS if (name := row.get(c))]
    record = _record(ctx, number, row, target, learner_id=learner_id, learner_id_type=id_type,
                     registration=registration, credits=row.get("credits"), credit_types=certs,
                     npi=learner_id if (id_type or "").upper() == "NPI" else None)
    return [(record, set())]  # one record per row: nothing to blank for another target


def _surgical(text: str | None) -> bool | None:
    answer = (text or "").strip().casefold()
    return True if answer in ("yes", "y", "true") else False if answer in ("no", "n", "false") else None


def _cme_moc_records(ctx: Context, number: int, row: Row) -> list[tuple[ReportedRecord, set[int]]]:
    out: list[tuple[ReportedRecord, set[int]]] = []
    if row.get("license_state") or row.get("license_id"):
        state, license_id = row.get("license_state") or "", row.get("license_id")
        target = Target(kind="state", code=state_code(state) or state.upper())
        npi = license_id if license_id and _TEN_DIGITS.match(license_id) else None
        out.append((_record(ctx, number, row, target, learner_id=license_id, npi=npi, credits=row.get("cme_credits")),
                    row.used("license_state", "license_id", "cme_credits")))
    if row.get("board") or row.get("board_id"):
        target = Target(kind="moc", code=(row.get("board") or "").upper())
        claims = [CreditTypeClaim(name=name, points=row.at(p)) for t, p in row.columns.pairs if (name := row.at(t))]
        used = row.used("board", "board_id", "board_credits") | {i for pair in row.columns.pairs for i in pair
                                                                   if i is not None}
        out.append((_record(ctx, number, row, target, learner_id=row.get("board_id"),
                            credits=row.get("board_credits"), credit_types=claims), used))
    if row.get("rems_program") or row.get("rems_learner_id"):
        target = Target(kind="rems", code=(row.get("rems_program") or "").upper())
        rems = RemsFields(profession=row.get("profession"), time_in_practice=row.get("time_in_practice"),
                          practice_state=row.get("practice_state"), practice_area=row.get("practice_area"),
                          dea_registration=row.get("dea_registration"),
                          surgical_procedures=_surgical(row.get("surgical_procedures")))
        out.append((_record(ctx, number, row, target, learner_id=row.get("rems_learner_id"),
                            credits=row.get("cme_credits"), rems=rems), row.used(*REMS_NAMES, "cme_credits")))
    if not out:  # no target at all: one record, which validation rejects (713)
        out.append((_record(ctx, number, row, Target(kind="moc", code="")), set()))
    return out


def row_records(ctx: Context, number: int, row: Row) -> list[RowRecord]:
    build = _template_b_records if row.columns.layout is Layout.TEMPLATE_B else _cme_moc_records
    built = build(ctx, number, row)
    if len(built) == 1:  # no other target to share cells with (every Template B row)
        return [RowRecord(record=built[0][0], own_cells=frozenset(built[0][1]))]
    records = []
    for i, (record, used) in enumerate(built):
        others = set().union(*(u for j, (_, u) in enumerate(built) if j != i))
        records.append(RowRecord(record=record, own_cells=frozenset(used - others)))  # shared cells stay
    return records
