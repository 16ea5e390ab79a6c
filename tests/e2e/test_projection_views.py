"""What providers look at every day: record lists (every filter, sort, download), activity summaries, tenancy."""

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openpyxl import load_workbook

from shared.service_registry import PROJECTOR
from tests.e2e.conftest import Stack, start_stack, stop_services

pytestmark = pytest.mark.e2e
A, B = "0008001", "0008002"
# ABOHNS answers at once; ABA takes an hour, so its records stay Submitted while the test runs.
WORLD = {
    "providers": [
        {"id": A, "name": "Western", "email": "a@a.example"},
        {"id": B, "name": "Eastern", "email": "b@b.example"},
    ],
    "boards": [{"code": "ABOHNS", "latency_seconds": 0}, {"code": "ABA", "latency_seconds": 3600}],
    "activities": [
        {
            "id": "210000001",
            "provider_id": A,
            "title": "Airway live",
            "format": "Live Course",
            "start_date": "2021-10-01",
            "end_date": "2021-11-30",
            "moc_credits": 8,
            "moc": {"ABOHNS": ["Self-Assessment"], "ABA": ["MOCA"]},
        },
        {
            "id": "210000002",
            "provider_id": A,
            "title": "Sinus journal",
            "format": "Journal-based CME",
            "start_date": "2021-10-01",
            "end_date": "2021-11-30",
            "moc_credits": 8,
            "moc": {"ABOHNS": ["Self-Assessment"]},
        },
        {
            "id": "210000003",
            "provider_id": A,
            "title": "Empty course",
            "format": "Live Course",
            "start_date": "2021-10-01",
            "end_date": "2021-11-30",
            "moc_credits": 8,
            "moc": {"ABOHNS": ["Self-Assessment"]},
        },
        {
            "id": "220000001",
            "provider_id": B,
            "title": "Eastern course",
            "format": "Live Course",
            "start_date": "2021-10-01",
            "end_date": "2021-11-30",
            "moc_credits": 8,
            "moc": {"ABOHNS": ["Self-Assessment"]},
        },
    ],
    "physicians": [
        {
            "first_name": f"F{i}",
            "last_name": f"Last{i:02d}",
            "dob": "01/01",
            "certifications": [{"board": "ABOHNS", "id": f"7{i:03d}"}, {"board": "ABA", "id": f"8{i:03d}"}],
        }
        for i in range(30)
    ],
}


def body(activity: str, i: int, board: str = "ABOHNS", board_id: str | None = None, first: str | None = None) -> dict:
    types = {"Self-Assessment": 1} if board == "ABOHNS" else {"MOCA": 1}
    return {
        "activity_id": activity,
        "first_name": first or f"F{i}",
        "last_name": f"Last{i:02d}",
        "dob": "01/01",
        "completion_date": f"2021-11-{1 + i % 20:02d}",
        "moc": [
            {
                "board": board,
                "board_id": board_id or f"{7 if board == 'ABOHNS' else 8}{i:03d}",
                "credits": 1,
                "credit_types": types,
            }
        ],
    }


@pytest.fixture(scope="module")
def views(
    servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("views")
    stack = start_stack(servers, tmp / "logs", PARS_BOARD_LATENCY_SCALE="1")
    try:
        stack.load_world(WORLD)
        keys = {p: stack.pars("provider", "key", p).stdout.strip() for p in (A, B)}
        keys["operator"] = stack.pars("operator", "key").stdout.strip()
        bodies = (
            [(A, body("210000001", i)) for i in range(12)]
            + [(A, body("210000001", i, board="ABA")) for i in range(12, 18)]
            + [(A, body("210000002", i, board_id="9999")) for i in range(18, 24)]  # rejected: 661
            + [(A, body("210000002", 24, first="=HYPERLINK(1)"))]  # a formula-like name: rejected 665
            + [(B, body("220000001", i)) for i in range(25, 30)]
        )
        for provider, completion in bodies:
            with stack.client(keys[provider]) as api:
                assert api.post("/v1/completions", json=completion).status_code == 202
        with stack.client(keys["operator"]) as api:

            def settled() -> bool:
                page = api.get("/v1/records", params={"per_page": 1000}).json()
                return page["total"] == len(bodies) and sum(r["status"] == "Submitted" for r in page["items"]) == 6

            stack.wait_for(settled, timeout=60)
        yield stack, keys
    finally:
        stop_services(list(stack.processes.values()))


FILTERS = [
    {},
    {"board": "ABOHNS"},
    {"status": "Rejected"},
    {"name": "last1"},
    {"completed_from": "2021-11-05", "completed_to": "2021-11-12"},
    {"learner_id": "7003"},
]


@pytest.mark.parametrize("filters", FILTERS)
def test_activity_summary_counts_equal_the_record_lists(views: tuple[Stack, dict[str, str]], filters: dict) -> None:
    stack, keys = views
    with stack.client(keys[A]) as api:
        summary = api.get("/v1/activities", params=filters).json()
        assert summary["total"] == 3 and {a["id"] for a in summary["items"]} == {
            "210000001",
            "210000002",
            "210000003",
        }
        for activity in summary["items"]:
            for status in ("Submitted", "Accepted", "Rejected"):
                listed = api.get(
                    "/v1/records",
                    params={
                        **filters,
                        "activity_id": activity["id"],
                        "status": status,
                        **({"status": status} if "status" not in filters else {}),
                    },
                )
                expected = listed.json()["total"] if filters.get("status", status) == status else 0
                assert activity[status.lower()] == expected, (activity, status, filters)
    every_status = {a["id"]: (a["submitted"], a["accepted"], a["rejected"]) for a in summary["items"]}
    if not filters:
        assert every_status == {"210000001": (6, 12, 0), "210000002": (0, 0, 7), "210000003": (0, 0, 0)}


def test_activity_summary_filters_by_format_and_text_and_sorts(views: tuple[Stack, dict[str, str]]) -> None:
    stack, keys = views
    with stack.client(keys[A]) as api:
        assert [
            a["id"] for a in api.get("/v1/activities", params={"format": "Journal-based CME"}).json()["items"]
        ] == ["210000002"]
        assert [a["id"] for a in api.get("/v1/activities", params={"q": "airway"}).json()["items"]] == ["210000001"]
        by_rejected = api.get("/v1/activities", params={"sort": "-rejected"}).json()["items"]
        assert by_rejected[0]["id"] == "210000002"
        paged = api.get("/v1/activities", params={"sort": "title", "per_page": 2, "page": 2}).json()
        assert paged["total"] == 3 and [a["title"] for a in paged["items"]] == ["Sinus journal"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"board": "ABA"}, 6),
        ({"status": "Accepted"}, 12),
        ({"activity_id": "210000002"}, 7),
        ({"name": "last0"}, 10),
        ({"learner_id": "8013"}, 1),
        ({"completed_from": "2021-11-19", "completed_to": "2021-11-20"}, 2),
    ],
)
def test_record_list_filters(views: tuple[Stack, dict[str, str]], filters: dict, expected: int) -> None:
    stack, keys = views
    with stack.client(keys[A]) as api:
        page = api.get("/v1/records", params={**filters, "per_page": 1000}).json()
    assert page["total"] == expected == len(page["items"])


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("board", lambda r: r["board"]),
        ("name", lambda r: (r["last_name"].lower(), r["first_name"].lower())),
        ("completion", lambda r: r["completion_date"]),
        ("submission", lambda r: r["submitted_at"]),
        ("status", lambda r: r["status"]),
    ],
)
@pytest.mark.parametrize("descending", [False, True])
def test_record_list_sorts(views: tuple[Stack, dict[str, str]], sort: str, key: Callable[[dict[str, Any]], Any],
                           descending: bool) -> None:
    stack, keys = views
    with stack.client(keys[A]) as api:
        items = api.get("/v1/records", params={"sort": ("-" if descending else "") + sort, "per_page": 1000}).json()[
            "items"
        ]
    values = [key(r) for r in items]
    assert values == sorted(values, reverse=descending) and len(values) == 25


def test_record_list_pages(views: tuple[Stack, dict[str, str]]) -> None:
    stack, keys = views
    with stack.client(keys[A]) as api:
        pages = [api.get("/v1/records", params={"sort": "name", "per_page": 10, "page": n}).json() for n in (1, 2, 3)]
    ids = [r["record_id"] for p in pages for r in p["items"]]
    assert [len(p["items"]) for p in pages] == [10, 10, 5] and len(set(ids)) == 25


def test_downloads_hold_the_whole_filtered_list(views: tuple[Stack, dict[str, str]]) -> None:
    stack, keys = views
    with stack.client(keys[A]) as api:
        listed = api.get("/v1/records", params={"activity_id": "210000002", "per_page": 1000}).json()
        as_csv = api.get("/v1/records", params={"activity_id": "210000002", "format": "csv"})
        as_xlsx = api.get("/v1/records", params={"activity_id": "210000002", "format": "xlsx"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert as_csv.headers["content-type"].startswith("text/csv") and len(rows) == listed["total"] == 7
    assert {r["Record ID"] for r in rows} == {r["record_id"] for r in listed["items"]}
    assert {r["Error Code"] for r in rows} == {"661", "665"}
    assert "'=HYPERLINK(1)" in {r["First Name"] for r in rows}  # neutralised, never a live formula
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).active
    xlsx_rows = list(sheet.iter_rows(values_only=True))
    assert len(xlsx_rows) == 8 and xlsx_rows[0][0] == "Record ID"
    assert {r[0] for r in xlsx_rows[1:]} == {r["record_id"] for r in listed["items"]}


def test_each_provider_sees_only_its_own(views: tuple[Stack, dict[str, str]]) -> None:
    stack, keys = views
    with stack.client(keys[A]) as a_api, stack.client(keys[B]) as b_api, stack.client(keys["operator"]) as ops:
        a_record = a_api.get("/v1/records", params={"per_page": 1}).json()["items"][0]["record_id"]
        b_page = b_api.get("/v1/records", params={"per_page": 1000}).json()
        assert b_page["total"] == 5 and a_record not in {r["record_id"] for r in b_page["items"]}
        assert b_api.get(f"/v1/records/{a_record}").status_code == 404
        assert b_api.get("/v1/activities/210000001").status_code == 404
        assert [a["id"] for a in b_api.get("/v1/activities").json()["items"]] == ["220000001"]
        assert len(list(csv.DictReader(io.StringIO(b_api.get("/v1/records", params={"format": "csv"}).text)))) == 5
        assert b_api.get("/v1/records", params={"activity_id": "210000001"}).json()["total"] == 0
        assert ops.get("/v1/records").json()["total"] == 30 and ops.get("/v1/activities").json()["total"] == 4
        assert ops.get(f"/v1/records/{a_record}").status_code == 200


CHECKSUM = (
    "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
    " SELECT concat_ws(',', record_id, provider_id, credit_id, activity_id, board, first_name, last_name, dob,"
    "  learner_id, completion_date, submitted_at, credits, credit_types, status, errors, deleted, updated_at) AS x"
    " FROM records UNION ALL"
    " SELECT concat_ws(',', event_id, record_id, event_type, occurred_at, payload) FROM record_events) t"
)


def test_rebuild_gives_identical_tables_while_providers_keep_reading(views: tuple[Stack, dict[str, str]]) -> None:
    import asyncio
    import threading

    import asyncpg

    stack, keys = views
    schema = stack.settings.schema(PROJECTOR.schema)

    async def checksum_and_generation() -> tuple[str, int]:
        conn = await asyncpg.connect(stack.settings.database_url, server_settings={"search_path": schema})
        try:
            return await conn.fetchval(CHECKSUM), await conn.fetchval("SELECT active FROM projection_state")
        finally:
            await conn.close()

    before, generation = asyncio.run(checksum_and_generation())
    answers: list[tuple[int, int]] = []
    reading = threading.Event()
    reading.set()

    def read() -> None:
        with stack.client(keys[A]) as api:
            while reading.is_set():
                page = api.get("/v1/records", params={"per_page": 1})
                answers.append((page.status_code, page.json().get("total", -1)))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rebuilt = stack.pars("projection", "rebuild")
    finally:
        reading.clear()
        reader.join(10)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after, new_generation = asyncio.run(checksum_and_generation())
    assert after == before and new_generation == generation + 1
    assert answers and set(answers) == {(200, 25)}  # every read during the rebuild answered, and in full
    # The running projector now writes the new tables.
    with stack.client(keys[A]) as api:
        assert api.post("/v1/completions", json=body("210000003", 3)).status_code == 202
        stack.wait_for(lambda: api.get("/v1/records", params={"activity_id": "210000003"}).json()["total"] == 1)
