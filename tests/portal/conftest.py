"""The portal browser tests' fixtures: a stack with the guide's world, its two providers' keys, signing in."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, start_stack
from tests.e2e.worlds import GUIDE_WORLD

PROVIDERS = ("0008001", "0008002")  # the guide's: the first has activity 210016865, the second none


@pytest.fixture(scope="module")
def portal_stack(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from pars_cli.stack import stop_services

    running = start_stack(servers, tmp_path_factory.mktemp("portal-logs"))
    running.load_world(GUIDE_WORLD)
    yield running
    stop_services(list(running.processes.values()))


@pytest.fixture(scope="module")
def provider_keys(portal_stack: Stack) -> dict[str, str]:
    keys = {}
    for provider in PROVIDERS:
        issued = portal_stack.pars("provider", "key", provider)
        assert issued.returncode == 0, issued.stderr
        keys[provider] = issued.stdout.strip()
    return keys


def sign_in(page: Page, stack: Stack, key: str, then: str = "/portal/") -> None:
    page.goto(f"{stack.api}/portal/sign-in?next={quote(then, safe='/')}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def completion(**changes: Any) -> dict[str, Any]:
    """Harper Benton's completion of the guide's activity, for ABOHNS (its board answers Accepted)."""
    body: dict[str, Any] = {
        "activity_id": "210016865", "action": "Add", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": "2021-11-02",
        "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8,
                 "credit_types": {"Self-Assessment": 8, "Patient Safety": 1}}]}
    body.update(changes)
    return body
