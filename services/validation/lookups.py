"""Everything a batch of records needs from the validation schema, fetched in a few round trips."""

from dataclasses import dataclass, field

from shared.boards import Board
from shared.events import ReportedRecord, SubmitRecord
from shared.names import name_key
from shared.npi import is_valid_npi
from shared.states import state_code
from shared.world import Activity
from validation.matching import DirectoryEntry, LearnerQuery, MatchResult, match_learner
from validation.ports import Known, LiveKey, LiveRecord, LookupReader, SubmissionBatch
from validation.rules import RosterEntry, credit_key, needs_directory_match
from validation.rules.credits import credit_type_names, offered_credit_types
from validation.submissions import UnreadableSubmission
from validation.world import license_key


def live_key(r: ReportedRecord) -> LiveKey:
    return (r.provider_id, credit_key(r), r.target.code)


def learner_query(r: ReportedRecord) -> LearnerQuery:
    common = {"first_name": r.first_name, "last_name": r.last_name, "dob": r.dob, "npi": r.npi,
              "medical_school": r.medical_school}
    if r.target.kind == "state":
        return LearnerQuery(state=r.target.code, license_id=r.learner_id, **common)
    return LearnerQuery(board=r.target.code, **common)  # a board that matches without an ID


@dataclass
class BatchLookups:
    boards: dict[str, Board]
    activities: dict[str, Activity]
    live: dict[LiveKey, LiveRecord]
    roster: dict[tuple[str, str], RosterEntry]
    directory: list[DirectoryEntry]
    _offered: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _credit_type_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def credit_type_names_for(self, board: Board | None) -> dict[str, str] | None:
        """The board's credit type names as a table (credits.credit_type_names), derived once per board in a batch."""
        if board is None:
            return None
        names = self._credit_type_names.get(board.code)
        if names is None:
            names = self._credit_type_names[board.code] = credit_type_names(board)
        return names

    def offered_for(self, activity: Activity | None, board: Board | None) -> frozenset[str] | None:
        """The activity's credit types by the board's names, derived once per (activity, board) in a batch."""
        if activity is None or board is None:
            return None
        key = (activity.id, board.code)  # the models are not hashable; within a batch their ids name them
        offered = self._offered.get(key)
        if offered is None:
            offered = self._offered[key] = offered_credit_types(activity, board)
        return offered

    def activity_for(self, r: ReportedRecord) -> Activity | None:
        activity = self.activities.get((r.activity_id or "").strip())
        # Another provider's activity does not exist for this one.
        return activity if activity is not None and activity.provider_id == r.provider_id else None

    def diplomate_for(self, r: ReportedRecord) -> RosterEntry | None:
        return self.roster.get((r.target.code, (r.learner_id or "").strip()))

    def match_for(self, r: ReportedRecord) -> MatchResult | None:
        board = self.boards.get(r.target.code)
        if board is None or not needs_directory_match(r, board.requires_board_id):
            return None
        candidates = self.directory
        if r.target.kind == "moc":  # only the board's own diplomates
            candidates = [e for e in candidates if any(b == r.target.code for b, _ in e.certifications)]
        return match_learner(learner_query(r), candidates)


def _readable(commands: list[SubmitRecord]) -> list[ReportedRecord]:
    return [c.record for c in commands if not isinstance(c, UnreadableSubmission)]


async def fetch(reader: LookupReader, records: list[ReportedRecord]) -> BatchLookups:
    known = await reader.known([(r.activity_id or "").strip() for r in records], [live_key(r) for r in records])
    return await _complete(reader, records, known)


async def fetch_fresh(batch: SubmissionBatch,
                      commands: list[SubmitRecord]) -> tuple[list[SubmitRecord], BatchLookups | None]:
    """The commands not handled before (the batch's `keep` claims them) and what their records need; asking which
    were handled and the first reads share a round trip. None: nothing to do."""
    records = _readable(commands)
    todo, known = await batch.fresh_and_known(commands, [(r.activity_id or "").strip() for r in records],
                                              [live_key(r) for r in records])
    if not todo:
        return todo, None
    return todo, await _complete(batch, records if len(todo) == len(commands) else _readable(todo), known)


async def _complete(reader: LookupReader, records: list[ReportedRecord], known: Known) -> BatchLookups:
    """`known` and the reads that depend on the boards: the real-time rosters, the physician directory."""
    boards, activities, live = known.boards, known.activities, known.live
    realtime = [(r.target.code, (r.learner_id or "").strip()) for r in records
                if r.target.code in boards and boards[r.target.code].processing == "realtime" and r.learner_id]
    roster = await reader.roster_entries(realtime) if realtime else {}
    matched = [r for r in records if r.target.code in boards
               and needs_directory_match(r, boards[r.target.code].requires_board_id)]
    directory: list[DirectoryEntry] = []
    if matched:
        licenses = [(state_code(r.target.code) or r.target.code, license_key(r.learner_id or ""))
                    for r in matched if r.target.kind == "state" and r.learner_id]
        npis = [n.strip() for r in matched for n in (r.npi, r.learner_id) if n and is_valid_npi(n.strip())]
        names = [(name_key(r.last_name), name_key(r.first_name)) for r in matched if r.first_name and r.last_name]
        directory = await reader.directory_candidates(licenses=licenses, npis=npis, names=names)
    return BatchLookups(boards, activities, live, roster, directory)
