"""Board-stage codes through the real pipeline: the simulated boards judge what PARS accepted."""

import time

import pytest

from shared.service_registry import PROJECTOR
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e
P = "0008001"
WORLD = {
    "providers": [{"id": P, "name": "Western", "email": "cme@wrmc.example"}],
    "activities": [
        {"id": "210000011", "provider_id": P, "title": "Otolaryngology", "start_date": "2021-10-01",
         "end_date": "2021-11-30", "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment"]}},
        {"id": "210000012", "provider_id": P, "title": "Pediatrics", "start_date": "2021-10-01",
         "end_date": "2021-11-30", "moc_credits": 8, "moc": {"ABP": ["Lifelong Learning"]}},
        {"id": "210000014", "provider_id": P, "title": "Otolaryngology, long", "start_date": "2021-10-01",
         "end_date": "2021-11-30", "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment"]}},
    ],
    # ABOHNS approved 4 points for the long course, fewer than the 8 the provider registered with PARS.
    "boards": [{"code": "ABOHNS", "activity_maximums": {"210000014": 4}}],
    "physicians": [
        {"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
         "certifications": [{"board": "ABOHNS", "id": "19927", "prior_credits": [
             {"activity_id": "210000011", "completion_date": "2021-10-05", "points": 2}]}]},
        {"first_name": "Mina", "last_name": "Okafor", "dob": "03/03",
         "certifications": [{"board": "ABOHNS", "id": "30001", "roster": {"dob": "04/04"}},
                            {"board": "ABP", "id": "40001"}]},
    ],
}
MESSAGES = {
    "664": "Diplomate date of birth does not match Board record for this diplomate ID.",
    "665": "Diplomate name does not batch Board record.",
    "709": "Record is a duplicate for learner completion previously reported to Board.",
    "710": "Maximum MOC points already granted.",
    "711": "MOC points reported exceed maximum available to this learner for this activity.",
    "717": "Learner cannot receive MOC credit for multiple completions of this activity on a single date.",
    "718": "Unable to match a learner with the information provided",
    "674": "MOC points awarded are greater than amount listed for activity.",
}


def completion(activity: str, board: str, board_id: str, when: str, points: float, first: str = "Harper",
               last: str = "Benton", dob: str = "11/11") -> dict:
    kind = "Self-Assessment" if board == "ABOHNS" else "Lifelong Learning"
    return {"activity_id": activity, "first_name": first, "last_name": last, "dob": dob, "completion_date": when,
            "moc": [{"board": board, "board_id": board_id, "credits": points, "credit_types": {kind: points}}]}


def verdict(stack: Stack, key: str, body: dict) -> list[str]:
    """Submit, wait for the board, answer the codes it rejected with ([] when accepted)."""
    with stack.client(key) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=body).json()
        [record] = answer["records"]
        assert record["status"] == "Submitted", record

        def settled() -> dict | None:
            answer = api.get(f"/v1/records/{record['record_id']}")  # 404 until the projector has it
            return answer.json() if answer.status_code == 200 and answer.json()["status"] != "Submitted" else None
        row = stack.wait_for(settled)
    codes = [e["code"] for e in row["errors"]]
    assert [e["message"] for e in row["errors"]] == [MESSAGES[c] for c in codes]
    return codes


def test_board_rules_hold_per_learner_and_activity(stack: Stack) -> None:
    stack.load_world(WORLD)
    key = stack.pars("provider", "key", P).stdout.strip()
    # Harper holds 2 points of 8 from outside PARS (completed 2021-10-05).
    assert verdict(stack, key, completion("210000011", "ABOHNS", "19927", "2021-10-05", 2)) == ["709"]
    assert verdict(stack, key, completion("210000011", "ABOHNS", "19927", "2021-11-01", 7)) == ["711"]
    assert verdict(stack, key, completion("210000011", "ABOHNS", "19927", "2021-11-01", 6)) == []
    assert verdict(stack, key, completion("210000011", "ABOHNS", "19927", "2021-11-02", 1)) == ["710"]
    # The board's roster has Mina's birthday as 04/04, and her name as the directory has it.
    mina = {"first": "Mina", "last": "Okafor", "dob": "03/03"}
    assert verdict(stack, key, completion("210000011", "ABOHNS", "30001", "2021-11-01", 1, **mina)) == ["664"]
    assert verdict(stack, key, completion("210000011", "ABOHNS", "30001", "2021-11-01", 1, first="Nina",
                                          last="Okafor", dob="04/04")) == ["665"]
    # PARS checks the registered 8 points; the board holds its own maximum of 4 for this activity.
    assert verdict(stack, key, completion("210000014", "ABOHNS", "19927", "2021-11-01", 6)) == ["674"]
    assert verdict(stack, key, completion("210000014", "ABOHNS", "19927", "2021-11-02", 4)) == []
    # ABP credits one completion of an activity a day.
    assert verdict(stack, key, completion("210000012", "ABP", "40001", "2021-11-03", 1, **mina)) == []
    assert verdict(stack, key, completion("210000012", "ABP", "40001", "2021-11-03", 1, **mina)) == ["717"]


def test_a_board_matching_without_an_id_answers_718_when_its_roster_is_ambiguous(stack: Stack) -> None:
    provider = "0008010"
    # PARS's directory tells the two Jane Roes apart by birthday; ABS's own roster has both born 05/05.
    world = {
        "providers": [{"id": provider, "name": "Surgery CME", "email": "cme@surgery.example"}],
        "activities": [{"id": "210000019", "provider_id": provider, "title": "Surgery update",
                        "start_date": "2021-10-01", "end_date": "2021-11-30", "moc_credits": 4,
                        "moc": {"ABS": ["Accredited CME"]}}],
        "physicians": [
            {"first_name": "Jane", "last_name": "Roe", "dob": "05/05",
             "certifications": [{"board": "ABS", "id": "71001"}]},
            {"first_name": "Jane", "last_name": "Roe", "dob": "06/06",
             "certifications": [{"board": "ABS", "id": "71002", "roster": {"dob": "05/05"}}]},
            {"first_name": "Omar", "last_name": "Roe", "dob": "07/07",
             "certifications": [{"board": "ABS", "id": "71003"}]},
            {"first_name": "Ines", "last_name": "D'Ávila", "dob": "08/08",
             "certifications": [{"board": "ABS", "id": "71004"}]},
        ],
    }
    stack.load_world(world)
    key = stack.pars("provider", "key", provider).stdout.strip()

    def without_id(first: str, dob: str) -> dict:
        return {"activity_id": "210000019", "first_name": first, "last_name": "Roe", "dob": dob,
                "completion_date": "2021-11-03", "moc": [{"board": "ABS", "credits": 2,
                                                          "credit_types": {"Accredited CME": 2}}]}
    assert verdict(stack, key, without_id("Jane", "05/05")) == ["718"]
    assert verdict(stack, key, without_id("Omar", "07/07")) == []  # one match on the roster: accepted
    written_plainly = {**without_id("Ines", "08/08"), "last_name": "Davila"}  # names compared as PARS forgives them
    assert verdict(stack, key, written_plainly) == []


def test_every_certifying_board_of_the_catalogue_accepts_a_good_record(stack: Stack) -> None:
    from shared.boards import shipped_boards

    boards = {code: b for code, b in shipped_boards().items() if b.kind == "moc"}
    provider = "0008009"
    world = {
        "providers": [{"id": provider, "name": "Every Board CME", "email": "cme@every.example"}],
        "activities": [{"id": f"2500000{i:02d}", "provider_id": provider, "title": f"{code} course",
                        "start_date": "2021-10-01", "end_date": "2021-11-30", "moc_credits": 4,
                        "moc": {code: [board.credit_types[0]]}} for i, (code, board) in enumerate(boards.items())],
        "physicians": [{"first_name": "Quinn", "last_name": "Every", "dob": "05/06",
                        "certifications": [{"board": code, "id": f"77{i:03d}"} for i, code in enumerate(boards)]}],
    }
    stack.load_world(world)
    key = stack.pars("provider", "key", provider).stdout.strip()
    with stack.client(key) as api:
        results = {}
        for i, (code, board) in enumerate(boards.items()):
            body = {"activity_id": f"2500000{i:02d}", "first_name": "Quinn", "last_name": "Every", "dob": "05/06",
                    "completion_date": "2021-11-03",
                    "moc": [{"board": code, "board_id": f"77{i:03d}", "credits": 2,
                             "credit_types": {board.credit_types[0]: 2}}]}
            answer = api.post("/v1/completions", params={"wait": "true"}, json=body).json()
            results[code] = answer["records"][0]
    assert {c: r["errors"] for c, r in results.items()} == {c: [] for c in boards}
    with stack.client(key) as api:
        def all_accepted() -> bool:
            rows = api.get("/v1/records", params={"per_page": 100}).json()["items"]
            return {r["board"]: r["status"] for r in rows} == dict.fromkeys(boards, "Accepted")
        stack.wait_for(all_accepted, timeout=30)


CHECKSUM = (
    "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
    " SELECT concat_ws(',', record_id, status, errors, deleted, updated_at) AS x FROM records UNION ALL"
    " SELECT concat_ws(',', event_id, record_id, event_type, occurred_at, payload) FROM record_events) t")


def test_replaying_board_responses_changes_nothing_and_restores_lost_verdicts(stack: Stack) -> None:
    import asyncio

    import asyncpg

    async def query(*statements: str) -> str | None:
        conn = await asyncpg.connect(stack.settings.database_url,
                                     server_settings={"search_path": stack.settings.schema(PROJECTOR.schema)})
        try:
            for statement in statements[:-1]:
                await conn.execute(statement)
            return await conn.fetchval(statements[-1])
        finally:
            await conn.close()

    def settled_checksum() -> str | None:
        return asyncio.run(query(CHECKSUM))

    before = settled_checksum()
    for _ in range(2):  # replaying everything, twice, leaves every row as it was
        replayed = stack.pars("replay", "board-responses", "--since", "2000-01-01T00:00:00")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 0 " not in replayed.stderr
        time.sleep(3)  # the projector applies whatever the replay appended
        assert settled_checksum() == before
    # A view that lost its board verdicts gets them back from a replay.
    table = asyncio.run(query("SELECT 'records_g' || active FROM projection_state"))
    assert table is not None
    events = table.replace("records", "record_events")
    asyncio.run(query(f"DELETE FROM {events} WHERE event_type IN ('RecordAccepted', 'RecordRejected')",
                      f"UPDATE {table} SET status = 'Submitted', errors = '[]'", "SELECT 1"))
    assert settled_checksum() != before
    assert stack.pars("replay", "board-responses", "--since", "2000-01-01T00:00:00").returncode == 0
    stack.wait_for(lambda: settled_checksum() == before, timeout=30)
