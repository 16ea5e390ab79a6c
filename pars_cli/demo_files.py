"""Template B batch files built from a world: the demo files `make run` leaves for `pars upload`, and the
benchmark's 5,000-row workbook. Rows are completions of the provider's current MOC activities by diplomates
of each activity's board, every (learner, day) once per activity, with an optional share of mistakes."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from intake.batch_files.model import FileFormat, Layout, ParsedBatch
from intake.batch_files.readers.columns import TEMPLATE_B_HEADER
from intake.batch_files.writers.tabular import write_tabular
from shared.world import Certification, Physician, World

HEADER = list(TEMPLATE_B_HEADER[:12])  # one Activity Certification column is enough here
# What a provider's staff get wrong, in turn: a missing first name (622), points not in quarters (675), an
# activity ID that does not exist (690).
MISTAKES = ("622", "675", "690")


def template_b_rows(world: World, count: int, today: date, mistake_every: int = 0,
                    start: int = 0) -> tuple[str, list[list[str]]]:
    """The first provider's ID and `count` rows, from the `start`th on (rows `start`, `start` + 1, ... of the one
    sequence, so files of different starts do not repeat each other); with `mistake_every` n, every nth row carries
    a mistake."""
    provider = world.providers[0].id
    activities = [a for a in world.activities if a.provider_id == provider and a.moc and a.start_date <= today
                  and a.end_date >= today - timedelta(days=60)]
    if not activities:
        raise ValueError(f"provider {provider} has no MOC activity running in the last 60 days")
    holders_of: dict[str, list[tuple[Physician, Certification | None]]] = {
        board: [(p, c) for p in world.physicians for c in p.certifications if c.board == board]
        for a in activities for board in a.moc}
    rows = []
    for i in range(start, start + count):
        activity = activities[i % len(activities)]
        board, credit_types = next(iter(activity.moc.items()))
        holders = holders_of[board] or [(world.physicians[0], None)]
        turn = i // len(activities)
        physician, cert = holders[turn % len(holders)]
        last = min(activity.end_date, today)
        done = last - timedelta(days=(turn // len(holders)) % ((last - activity.start_date).days + 1))
        points = str(min(Decimal(1), activity.moc_credits or Decimal(1)))
        row = ["Learner Template B", board, activity.id, board, cert.id if cert else f"9{i:07d}",
               physician.first_name, physician.last_name, physician.dob or "", f"{done.month}/{done.day}/{done.year}",
               "Add", points, credit_types[0] if credit_types else ""]
        if mistake_every and i % mistake_every == mistake_every - 1:
            mistake = MISTAKES[(i // mistake_every) % len(MISTAKES)]
            row[{"622": 5, "675": 10, "690": 2}[mistake]] = {"622": "", "675": "0.3", "690": "999999999"}[mistake]
        rows.append(row)
    return provider, rows


def batch_file(rows: list[list[str]], file_format: FileFormat, header: list[str] = HEADER) -> bytes:
    """Rows as an upload: .xlsx or tab-delimited .txt, written the way PARS writes its own files."""
    shape = ParsedBatch(format=file_format, layout=Layout.TEMPLATE_B, header=header)
    return write_tabular(shape, [(row, "", "") for row in rows], with_errors=False)


def write_demo_files(world: World, today: date, folder: Path) -> list[Path]:
    """learners.xlsx and learners.txt, 100 rows each (different completions), every tenth row wrong."""
    _, rows = template_b_rows(world, 200, today, mistake_every=10)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "learners.xlsx", folder / "learners.txt"]
    written[0].write_bytes(batch_file(rows[:100], FileFormat.XLSX))
    written[1].write_bytes(batch_file(rows[100:], FileFormat.TXT))
    return written
