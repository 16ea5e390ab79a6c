"""Rules about the learner: required identity fields, the real-time roster, the physician directory."""

from shared.dates import parse_month_day
from shared.events import ReportedRecord
from shared.names import same_name
from validation.rules.context import Context, blank

# Learner ID Types a state or REMS record may name (Template B); a MOC record names its board.
STATE_ID_TYPES = frozenset({"NPI", "LICENSE", "LICENCE", "STATE LICENSE", "STATE LICENCE"})
REMS_ID_TYPES = frozenset({"LOCAL", "LOCAL ID", "PROVIDER", "PROVIDER ID"})


def identity_present(r: ReportedRecord, ctx: Context) -> list[str]:
    codes = []
    board = ctx.board
    if r.target.kind == "state":
        missing_id = blank(r.learner_id) and blank(r.npi)
    elif r.target.kind == "rems":  # the provider's own learner ID
        missing_id = blank(r.learner_id)
    else:  # the board ID, unless the board matches learners without one (ABS)
        missing_id = blank(r.learner_id) and (board is None or board.requires_board_id)
    if missing_id:
        codes.append("621")
    if blank(r.first_name):
        codes.append("622")
    if blank(r.last_name):
        codes.append("623")
    if blank(r.dob) and (board is None or board.requires_dob):
        codes.append("624")
    return codes


def learner_id_type_valid(r: ReportedRecord, ctx: Context) -> list[str]:
    if blank(r.learner_id_type):
        return []
    given = " ".join((r.learner_id_type or "").split()).upper()
    kind = r.target.kind
    if kind == "rems":
        allowed = given in REMS_ID_TYPES
    else:  # a MOC record names its board; a state record its state, or one of the state ID types
        allowed = given == r.target.code or (kind == "state" and given in STATE_ID_TYPES)
    return [] if allowed else ["712"]


def realtime_roster(r: ReportedRecord, ctx: Context) -> list[str]:
    """A real-time board's roster is checked now, so its answer lands with the other PARS codes."""
    if ctx.board is None or ctx.board.processing != "realtime" or blank(r.learner_id):
        return []
    entry = ctx.diplomate
    if entry is None:
        return ["661"]
    codes = []
    if not blank(r.dob) and entry.dob and parse_month_day(r.dob) != parse_month_day(entry.dob):
        codes.append("664")
    names_given = not blank(r.first_name) and not blank(r.last_name)  # a missing name is 622/623, not 665
    if names_given and not (same_name(r.first_name, entry.first_name) and same_name(r.last_name, entry.last_name)):
        codes.append("665")
    return codes


def needs_directory_match(r: ReportedRecord, board_requires_id: bool) -> bool:
    """State boards identify learners through the directory; so do boards that take records without an ID."""
    return r.target.kind == "state" or (r.target.kind == "moc" and not board_requires_id and blank(r.learner_id))


def directory_match(r: ReportedRecord, ctx: Context) -> list[str]:
    if ctx.board is None or blank(r.first_name) or blank(r.last_name):
        return []
    if not needs_directory_match(r, ctx.board.requires_board_id):
        return []
    return [] if ctx.match is not None and ctx.match.matched else ["718"]
