"""No personal data or key in any log line: an end-to-end run submits completions, batches, web-service reports,
learner matches and deletes (good, rejected and hostile ones) carrying names, dates of birth, licence IDs, NPIs,
board IDs and keys generated for this run, then reads every service's log and PostgreSQL's own log."""

import asyncio
import hashlib
import json
import os
import random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from intake.batch_files.tests.activity_reports import activity_report_xml
from intake.batch_files.tests.hostile import TEMPLATE_B, txt_bytes
from shared.npi import npi_check_digit
from shared.service_registry import SERVICE_NAMES
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
P = "0007301"
ACTIVITY = "210007301"
BOARD = "ABOHNS"
_rng = random.Random()


def _word() -> str:
    return "Zq" + "".join(_rng.choice(string.ascii_lowercase) for _ in range(9))


def _digits(n: int) -> str:
    return "".join(_rng.choice(string.digits) for _ in range(n))


@dataclass(frozen=True)
class Learner:
    first_name: str
    last_name: str
    dob: str  # MM/DD
    license_id: str
    npi: str
    board_id: str

    @property
    def secrets(self) -> dict[str, str]:
        month, day = self.dob.split("/")
        return {"first name": self.first_name, "last name": self.last_name, "date of birth": self.dob,
                "date of birth (Activity Report)": f"1972-{month}-{day}", "licence ID": self.license_id,
                "NPI": self.npi,
                "board ID": self.board_id}


def learner() -> Learner:
    first9 = "1" + _digits(8)
    # Days 13-28: a month/day that cannot be read as a time of day.
    return Learner(_word(), _word(), f"{_rng.randint(1, 12):02d}/{_rng.randint(13, 28):02d}", "LX" + _digits(9),
                   first9 + npi_check_digit(first9), "7" + _digits(8))


LEARNERS = [learner() for _ in range(4)]
WORLD = {
    "providers": [{"id": P, "name": "Quiet Logs Medical", "email": "cme@quiet.example"}],
    "activities": [{"id": ACTIVITY, "provider_id": P, "title": "Privacy course", "start_date": "2021-01-01",
                    "end_date": "2021-11-30", "cme_credits": 8, "moc_credits": 8, "moc": {BOARD: ["Self-Assessment"]}}],
    "physicians": [{"first_name": p.first_name, "last_name": p.last_name, "dob": p.dob, "npi": p.npi,
                    "licenses": [{"state": "CA", "id": p.license_id}],
                    "certifications": [{"board": BOARD, "id": p.board_id}]}
                   for p in LEARNERS[:3]],  # the fourth is nobody PARS knows: its records are rejected
}


def completion(p: Learner, n: int, **changes: Any) -> dict[str, Any]:
    return {"activity_id": ACTIVITY, "credit_id": f"ccid:quiet.example:{n}", "first_name": p.first_name,
            "last_name": p.last_name, "dob": p.dob, "completion_date": f"2021-11-{n % 28 + 1:02d}", "npi": p.npi,
            "cme": {"credits": 1, "state": "CA", "license_id": p.license_id},
            "moc": [{"board": BOARD, "board_id": p.board_id, "credits": 1, "credit_types": {"Self-Assessment": 1}}],
            **changes}


def report(p: Learner, n: int, **changes: Any) -> dict[str, Any]:
    return {"activity_id": ACTIVITY, "credit_id": f"ccid:quiet.example:ws{n}", "first_name": p.first_name,
            "last_name": p.last_name, "dob": p.dob, "completion_date": f"2021-10-{n % 28 + 1:02d}", "npi": p.npi,
            "board": BOARD, "board_id": p.board_id, "credits": "1", "credit_types": {"Self-Assessment": "1"},
            "state": "CA", "license_id": p.license_id, **changes}


def template_b_row(p: Learner, day: int, credits: str = "1") -> list[str]:
    return ["Learner Template B", BOARD, ACTIVITY, BOARD, p.board_id, p.first_name, p.last_name, p.dob,
            f"9/{day}/2021", "Add", credits, "Self-Assessment", "", "", "", "", ""]


# --- PostgreSQL's own log ---------------------------------------------------------------------------------------


def pg_log_path(database_url: str) -> Path | None:
    """The log of the local cluster deploy/local/postgres.sh runs ($PARS_LOCAL_DIR/pg/pg.log, or its fallback
    under /var/tmp), when the session's database is that cluster; None for any other server."""
    url = urlsplit(database_url)
    if url.hostname not in ("127.0.0.1", "localhost") or url.port != int(os.environ.get("PARS_LOCAL_PG_PORT", 55432)):
        return None
    local_dir = Path(os.environ.get("PARS_LOCAL_DIR") or REPO / ".local").resolve()
    fallback = Path("/var/tmp") / f"pars-pg-{hashlib.sha256(str(local_dir).encode()).hexdigest()[:12]}"
    for state in (fallback, local_dir / "pg"):  # the script prefers the fallback once it holds a cluster
        if (state / "data" / "PG_VERSION").exists() and (state / "pg.log").exists():
            return state / "pg.log"
    return None


async def _pg_log_from_server(database_url: str) -> Path | None:
    """Where the server says its data is (superusers may ask): the log sits beside it."""
    try:
        conn = await asyncpg.connect(database_url)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        data = await conn.fetchval("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    log = Path(data).parent / "pg.log" if data else None
    return log if log and log.exists() else None


# --- the run ----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    stack: Stack
    keys: dict[str, str]
    pg_log: Path | None
    pg_offset: int

    def secrets(self) -> dict[str, str]:
        found = {f"{kind} of learner {i}": value for i, p in enumerate(LEARNERS) for kind, value in p.secrets.items()}
        for role, key in self.keys.items():
            found[f"{role} key"] = key
            found[f"{role} key's secret part"] = key.split("_", 2)[2]
        return found


def leaks(text: str, secrets: dict[str, str]) -> list[tuple[str, str]]:
    """(what leaked, the line it is in) for each secret found in any line, case-insensitively."""
    found = []
    for line in text.splitlines():
        low = line.lower()
        found += [(what, line[:300]) for what, value in secrets.items() if value.lower() in low]
    return found


def _settled_batch(stack: Stack, key: str, batch_id: str) -> dict[str, Any]:
    with stack.client(key) as api:
        return stack.wait_for(lambda: (b := api.get(f"/v1/batches/{batch_id}").json())["status"] != "processing"
                              and b, timeout=90)


@pytest.fixture(scope="module")
def run(stack: Stack) -> Run:
    url = stack.settings.database_url
    pg_log = pg_log_path(url) or asyncio.run(_pg_log_from_server(url))
    offset = pg_log.stat().st_size if pg_log else 0
    stack.load_world(WORLD)
    keys = {"provider": stack.pars("provider", "key", P).stdout.strip(),
            "web-service": stack.pars("provider", "key", P, "--web-service").stdout.strip(),
            "operator": stack.pars("operator", "key").stdout.strip()}
    assert all(keys.values()), keys
    r = Run(stack, keys, pg_log, offset)
    good, other, third, stranger = LEARNERS
    record_ids: list[str] = []
    with stack.client(keys["provider"]) as api:
        # Completions: accepted, rejected (unknown learner, wrong DOB), a duplicate, and hostile ones.
        bodies = [completion(good, 1), completion(other, 2), completion(stranger, 3), completion(third, 4, dob="12/31"),
                  completion(good, 1), completion(good, 5, first_name=good.first_name + "\u0000"),
                  completion(other, 6, last_name=other.last_name + "x" * 3000),
                  completion(third, 7, dob=third.dob + "\ud800"),
                  completion(good, 8, first_name=good.first_name + "x" * (1100 * 1024))]
        for n, body in enumerate(bodies):
            answer = api.post("/v1/completions", content=json.dumps(body).encode(), params={"wait": "true"},
                              headers={"Content-Type": "application/json"})
            if answer.status_code == 202 and n < 5:  # the hostile ones are the hostile corpus's to follow
                # Records rejected by PARS itself are answered, never listed: the others are followed.
                record_ids += [rec["record_id"] for rec in answer.json()["records"]
                               if rec["status"] != "Rejected by PARS"]
        # Matches: found, and not found.
        for p in (good, stranger):
            api.post("/v1/learners/match", json={"first_name": p.first_name, "last_name": p.last_name, "dob": p.dob,
                                                 "state": "CA", "license_id": p.license_id, "npi": p.npi})
        # Batches: a tab-delimited file (good and rejected rows), its dry run, an Activity Report, and rejections.
        rows = [template_b_row(p, day, "99" if day % 2 else "1") for day, p in enumerate(LEARNERS, start=13)]
        content = txt_bytes([TEMPLATE_B, *rows])
        api.post("/v1/batches", files={"file": ("learners.txt", content)}, params={"dry_run": "true"})
        batches = [api.post("/v1/batches", files={"file": ("learners.txt", content)}).json()["batch_id"],
                   api.post("/v1/batches", files={"file": ("reports.xml", activity_report_xml(
                       [report(p, i) for i, p in enumerate(LEARNERS)]))}).json()["batch_id"]]
        for batch_id in batches:
            _settled_batch(stack, keys["provider"], batch_id)
            assert api.get(f"/v1/batches/{batch_id}/rejections").status_code == 200
        # Downloads and filters by personal data.
        api.get("/v1/records", params={"name": good.last_name, "learner_id": good.board_id})
        api.get("/v1/records", params={"format": "csv"})
    with stack.client(keys["web-service"]) as ws:
        ws.post("/v1/ws/activity-reports", content=activity_report_xml([report(p, 10 + i) for i, p in
                                                                         enumerate(LEARNERS)]),
                headers={"Content-Type": "application/xml"})
        ws.post("/v1/ws/activity-reports", json={"activity_reports": [
            {**completion(p, 20 + i), "credit_id": f"ccid:quiet.example:wsj{i}"} for i, p in enumerate(LEARNERS)]})
    with stack.client(keys["provider"]) as api:
        # Every record answered reaches its status; then one of them is deleted.
        for record_id in record_ids:
            stack.wait_for(lambda rid=record_id: api.get(f"/v1/records/{rid}").json().get("status") not in
                           (None, "Submitted", "Processing"), timeout=60)
        accepted = [rid for rid in record_ids if api.get(f"/v1/records/{rid}").json()["status"] == "Accepted"]
        assert accepted, "no record was accepted: the run did not go end to end"
        deleted = api.delete(f"/v1/records/{accepted[0]}")
        assert deleted.status_code == 202, deleted.text
    with stack.client(keys["operator"]) as ops:
        ops.get("/v1/ops/dead-letters")
        ops.get("/v1/ops/streams/pars.submissions/tail", params={"limit": 20})
    # The notifier's digests and every consumer have had their turn: the projection shows the delete.
    with stack.client(keys["provider"]) as api:
        stack.wait_for(lambda: api.get(f"/v1/records/{accepted[0]}").json().get("status") != "Accepted", timeout=60)
    return r


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_service_logs_personal_data_or_keys(run: Run, service: str) -> None:
    text = run.stack.log(service)
    assert text.strip(), f"{service} logged nothing: the test would prove nothing"
    found = leaks(text, run.secrets())
    assert not found, f"{len(found)} log lines of {service} hold personal data or keys:\n" + "\n".join(
        f"  {what}: {line}" for what, line in found[:20])


def test_no_other_file_of_the_run_logs_personal_data(run: Run) -> None:
    """Anything else the stack wrote into its log folder (world files excepted: they are the test's input)."""
    found = []
    for path in sorted(run.stack.log_dir.rglob("*")):
        if path.is_file() and not path.name.startswith("world-"):
            found += [(path.name, what, line) for what, line in leaks(path.read_text(errors="replace"), run.secrets())]
    assert not found, json.dumps(found[:20], indent=1)


def test_postgresql_log_holds_no_personal_data(run: Run) -> None:
    if run.pg_log is None:
        pytest.skip("the database is not the local cluster of deploy/local/postgres.sh: its log is not readable here")
    with run.pg_log.open("rb") as log:
        log.seek(run.pg_offset)
        text = log.read().decode("utf-8", errors="replace")
    found = leaks(text, run.secrets())
    assert not found, f"{len(found)} lines of PostgreSQL's log ({run.pg_log}) hold personal data:\n" + "\n".join(
        f"  {what}: {line}" for what, line in found[:20])
