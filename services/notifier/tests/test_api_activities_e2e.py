"""An activity registered through the API reaches the notifier: its title heads the rejections of its records in
the provider's digest, as a world file's activities do."""

import asyncio
from email.message import EmailMessage
from pathlib import Path

import pytest

from shared.db import create_pool
from shared.service_registry import NOTIFIER
from tests.e2e.conftest import Stack, start_stack, stop_services
from tests.e2e.test_notifier_digests import Mailbox, linked_records, mailbox  # noqa: F401 - mailbox: a fixture

pytestmark = pytest.mark.e2e
PROVIDER = "0008001"
ACTIVITY = {"id": "310000001", "title": "Airway update, registered through the API", "start_date": "2021-10-15",
            "end_date": "2021-11-15", "moc_credits": 8, "moc": {"ABOHNS": ["Self-Assessment"]}}
WORLD = {  # no activities: the provider registers its own through the API
    "providers": [{"id": PROVIDER, "name": f"Provider {PROVIDER}", "email": f"cme@{PROVIDER}.example"}],
    "physicians": [{"first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                    "certifications": [{"board": "ABOHNS", "id": "19927"}]}],
}


async def notifier_title(stack: Stack, activity_id: str) -> str | None:
    pool = await create_pool(stack.settings.database_url, stack.settings.schema(NOTIFIER.schema), max_size=1)
    try:
        return await pool.fetchval("SELECT title FROM activities WHERE id = $1", activity_id)
    finally:
        await pool.close()


def test_an_activity_registered_through_the_api_is_named_in_the_digest(
        servers: dict[str, str], tmp_path: Path, mailbox: tuple[Mailbox, int]) -> None:  # noqa: F811
    box, port = mailbox
    stack = start_stack(servers, tmp_path / "logs", PARS_SMTP_HOST="127.0.0.1", PARS_SMTP_PORT=str(port),
                        PARS_DIGEST_SECONDS="3")
    try:
        stack.load_world(WORLD)
        key = stack.pars("provider", "key", PROVIDER).stdout.strip()
        with stack.client(key) as api:
            registered = api.post("/v1/activities", json=ACTIVITY)
            assert registered.status_code == 201, registered.text
            assert stack.wait_for(lambda: asyncio.run(notifier_title(stack, str(ACTIVITY["id"])))) == ACTIVITY["title"]
            answer = api.post("/v1/completions", json={
                "activity_id": ACTIVITY["id"], "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
                "completion_date": "2021-11-02",
                "moc": [{"board": "ABOHNS", "board_id": "77", "credits": 8, "credit_types": {"Self-Assessment": 8}}]})
        assert answer.status_code == 202, answer.text
        record_id = answer.json()["records"][0]["record_id"]  # the board does not know 77: 661

        def digest() -> EmailMessage | None:
            return next((m for m in box.by_message_id().values() if record_id in linked_records(m)), None)

        text = stack.wait_for(digest, timeout=60).get_body(("plain",)).get_content()
        assert f"Activity {ACTIVITY['id']} {ACTIVITY['title']}" in text.splitlines()
    finally:
        stop_services(list(stack.processes.values()))
