"""The provider portal in Debian's chromium: signing in, the Learner Summary by Activity, a record's page,
deleting, and one provider seeing none of another's pages."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import screenshot
from tests.e2e.conftest import Stack
from tests.portal.conftest import completion, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def settled_record(stack: Stack, key: str, status: str, **changes: object) -> str:
    """A record reported through the API (Harper Benton's unless `changes` say otherwise), once its board answered
    `status`."""
    with stack.client(key) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=completion(**changes))
        assert answer.status_code == 202, answer.text
        record_id = answer.json()["records"][0]["record_id"]
        stack.wait_for(lambda: api.get(f"/v1/records/{record_id}").json().get("status") == status)
    return record_id


def stranger(first_name: str) -> dict[str, str]:
    """A learner the boards do not know: ABOHNS rejects the record (a rejected record deletes at once)."""
    return {"first_name": first_name, "last_name": "Okafor", "dob": "03/14"}


def test_sign_in_is_asked_once_and_refuses_a_wrong_key(page: Page, portal_stack: Stack,
                                                       provider_keys: dict[str, str]) -> None:
    page.goto(f"{portal_stack.api}/portal/learners")
    expect(page).to_have_url(re.compile(r"/portal/sign-in\?next=/portal/learners"))
    page.get_by_label("API key").fill("pars_nope_nope")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a provider's key")

    sign_in(page, portal_stack, provider_keys["0008001"], then="/portal/learners")
    expect(page).to_have_url(re.compile(r"/portal/learners$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "pars_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/portal"
    page.goto(f"{portal_stack.api}/portal/")  # the cookie stands for the key from now on
    expect(page.get_by_role("heading", name="Learner Summary by Activity")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{portal_stack.api}/portal/")
    expect(page).to_have_url(re.compile(r"/portal/sign-in"))


def test_an_operator_key_reaches_the_console_not_the_portal(page: Page, portal_stack: Stack) -> None:
    issued = portal_stack.pars("operator", "key")
    assert issued.returncode == 0, issued.stderr
    page.goto(f"{portal_stack.api}/portal/sign-in")
    page.get_by_label("API key").fill(issued.stdout.strip())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    assert not [c for c in page.context.cookies() if c["name"] == "pars_portal"]


def test_summary_record_page_and_delete(page: Page, portal_stack: Stack, provider_keys: dict[str, str]) -> None:
    record_id = settled_record(portal_stack, provider_keys["0008001"], "Accepted")
    sign_in(page, portal_stack, provider_keys["0008001"])

    row = page.get_by_role("row", name=re.compile("210016865"))
    expect(row).to_contain_text("Testing adding learners via manual entry")
    accepted = row.get_by_role("link", name=re.compile(r"\d+ Accepted in 210016865"))
    expect(accepted).to_be_visible()
    screenshot(page, "portal-learner-summary")

    accepted.click()
    expect(page.get_by_role("heading", name="Learners in activity 210016865")).to_be_visible()
    page.get_by_role("link", name="Benton, Harper").first.click()
    expect(page).to_have_url(re.compile(r"/portal/records/"))

    page.goto(f"{portal_stack.api}/portal/records/{record_id}")
    expect(page.get_by_role("heading", name=re.compile("Harper Benton"))).to_contain_text("Accepted")
    expect(page.locator("ol.timeline")).to_contain_text("Accepted")
    screenshot(page, "portal-record")

    page.get_by_role("button", name="Delete this record").click()
    expect(page.get_by_role("status")).to_contain_text("Delete Submitted")
    if "/portal/records/" in page.url:  # back on its page, which shows the delete (unless the board withdrew it first)
        expect(page.get_by_role("heading", name=re.compile("Harper Benton"))).to_contain_text("Delete Submitted")
    with portal_stack.client(provider_keys["0008001"]) as api:
        def withdrawn() -> bool:  # 404 once its board has withdrawn the credit
            after = api.get(f"/v1/records/{record_id}")
            return after.status_code == 404 or after.json()["status"] == "Delete Submitted"

        # The answer is validation's; the record's page is the projection's, which applies the event a moment later.
        portal_stack.wait_for(withdrawn, timeout=10)


def test_several_records_deleted_at_once_answer_in_words(page: Page, portal_stack: Stack,
                                                          provider_keys: dict[str, str]) -> None:
    first = settled_record(portal_stack, provider_keys["0008001"], "Rejected", **stranger("Ada"))
    second = settled_record(portal_stack, provider_keys["0008001"], "Rejected", **stranger("Bea"))
    sign_in(page, portal_stack, provider_keys["0008001"], then="/portal/learners?name=okafor&per_page=250")
    page.locator(f'input[value="{first}"]').check()
    page.locator(f'input[value="{second}"]').check()
    page.get_by_role("button", name="Delete selected").click()
    outcomes = page.get_by_role("status")
    expect(outcomes).to_contain_text(f"{first}: Deleted: the record is withdrawn.")
    expect(outcomes).to_contain_text(f"{second}: Deleted: the record is withdrawn.")


def test_a_bad_filter_is_named_not_failed(page: Page, portal_stack: Stack, provider_keys: dict[str, str]) -> None:
    sign_in(page, portal_stack, provider_keys["0008001"], then="/portal/learners?status=Bogus&completed_from=13/45")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Status: 'Bogus' is not one of")
    expect(alert).to_contain_text("Completed from: '13/45' is not a date")


def test_a_second_provider_sees_none_of_the_first_ones_pages(page: Page, portal_stack: Stack,
                                                              provider_keys: dict[str, str]) -> None:
    record_id = settled_record(portal_stack, provider_keys["0008001"], "Rejected", **stranger("Cy"))
    sign_in(page, portal_stack, provider_keys["0008002"])
    expect(page.get_by_role("row", name=re.compile("210016865"))).to_have_count(0)
    page.goto(f"{portal_stack.api}/portal/records/{record_id}")
    expect(page.get_by_role("heading", name="No such record")).to_be_visible()
    page.goto(f"{portal_stack.api}/portal/activities/210016865/learners")
    expect(page.get_by_text("No learner record matches these filters.")).to_be_visible()
    download = page.request.get(f"{portal_stack.api}/portal/download?format=csv")  # with the session's cookie
    assert download.ok and download.headers["content-type"].startswith("text/csv")
    assert "Okafor" not in download.text() and "Benton" not in download.text()
