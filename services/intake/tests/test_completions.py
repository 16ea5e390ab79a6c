"""One completion into records per target; the completion body; API keys."""

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from intake.completions.schemas import Completion
from intake.keys import PREFIX, KeyCache, Principal, UnknownProvider, _digest, authenticate, issue_key
from intake.submitting.completions import split_into_records
from shared.events import ReportedRecord, Target

PROVIDER = "0008001"
SUBMISSION = UUID("5a1d7d0e-9a8c-4f4f-8a57-1f6c2b8e3c11")

CONTRACT_BODY: dict[str, Any] = {
    "activity_id": "210016865", "credit_id": "ccid-1", "action": "Add", "first_name": "Harper",
    "last_name": "Benton", "dob": "11/11", "completion_date": "2021-11-02", "npi": None, "medical_school": None,
    "cme": {"credits": 8, "state": "LA", "license_id": "MD.205357"},
    "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8,
             "credit_types": {"Self-Assessment": 8, "Patient Safety": 1}}],
    "rems": None,
}


def split(body: dict[str, Any]) -> list[ReportedRecord]:
    return split_into_records(Completion.model_validate(body), PROVIDER, SUBMISSION)


# split_into_records -------------------------------------------------------------------------------------


def test_the_contract_example_gives_one_record_per_target() -> None:
    state, moc = split(CONTRACT_BODY)
    assert state.target == Target(kind="state", code="LA")
    assert (state.learner_id, state.credits) == ("MD.205357", "8")
    assert moc.target == Target(kind="moc", code="ABOHNS")
    assert (moc.learner_id, moc.credits) == ("19927", "8")
    assert [(c.name, c.points) for c in moc.credit_types] == [("Self-Assessment", "8"), ("Patient Safety", "1")]
    for record in (state, moc):
        assert record.credit_id == "ccid-1"
        assert (record.submission_id, record.provider_id, record.channel) == (SUBMISSION, PROVIDER, "api")
        assert (record.action, record.activity_id, record.first_name, record.last_name, record.dob,
                record.completion_date) == ("Add", "210016865", "Harper", "Benton", "11/11", "2021-11-02")
    assert state.record_id != moc.record_id


def test_every_target_kind_upper_cased() -> None:
    body = CONTRACT_BODY | {
        "cme": {"credits": "2.5", "state": " ca ", "license_id": "A1"},
        "moc": [{"board": "abohns", "board_id": "1"}, {"board": " Aba ", "board_id": "2"}],
        "rems": [{"program": "opioid", "learner_id": "R1"}, {"program": "Mycophenolate"}],
    }
    records = split(body)
    assert [r.target for r in records] == [
        Target(kind="state", code="CA"), Target(kind="moc", code="ABOHNS"), Target(kind="moc", code="ABA"),
        Target(kind="rems", code="OPIOID"), Target(kind="rems", code="MYCOPHENOLATE")]
    assert [r.learner_id for r in records] == ["A1", "1", "2", "R1", None]
    assert len({r.record_id for r in records}) == 5
    assert {r.credit_id for r in records} == {"ccid-1"}
    # REMS records carry the CME credits.
    assert [r.credits for r in records[3:]] == ["2.5", "2.5"]


def test_a_generated_credit_id_is_shared_by_every_record() -> None:
    body = CONTRACT_BODY | {"rems": [{"program": "OPIOID"}]}
    del body["credit_id"]
    records = split(body)
    assert len(records) == 3
    assert {r.credit_id for r in records} == {f"ccid:pars-{PROVIDER}:{SUBMISSION}"}


def test_rems_alone_reports_no_credits() -> None:
    # A REMS record reports the completion; validation asks no points of it.
    [rems] = split({"rems": [{"program": "OPIOID", "profession": "Nurse"}]})
    assert rems.rems is not None
    assert (rems.target, rems.credits, rems.rems.profession) == (Target(kind="rems", code="OPIOID"), None, "Nurse")


def test_the_licence_falls_back_to_the_npi() -> None:
    [state] = split({"npi": "1234567893", "cme": {"credits": 1, "state": "LA"}})
    assert state.learner_id == "1234567893"


@pytest.mark.parametrize(
    ("credits", "text"),
    [(8, "8"), ("8", "8"), ("8.50", "8.50"), (8.25, "8.25"), ("eight", "eight"), ("-1", "-1"), (None, None)],
)
def test_credits_are_kept_as_text_for_validation_to_judge(credits: object, text: str | None) -> None:
    body = {"cme": {"credits": credits, "state": "LA"},
            "moc": [{"board": "ABOHNS", "credits": credits, "credit_types": {"Self-Assessment": credits}}]}
    state, moc = split(body)
    assert state.credits == moc.credits == text
    assert [(c.name, c.points) for c in moc.credit_types] == [("Self-Assessment", text)]


def test_a_state_left_out_gives_an_empty_state_code() -> None:
    # validation answers 713 for it: no board has an empty code
    [state] = split({"cme": {"credits": 1}})
    assert state.target == Target(kind="state", code="")


# Completion --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"activity_id": "210016865", "first_name": "Harper"},
        {"cme": None, "moc": [], "rems": []},
        {"cme": None, "moc": [], "rems": None},
    ],
)
def test_a_completion_without_a_target_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="at least one target"):
        Completion.model_validate(body)


@pytest.mark.parametrize(
    "body",
    [
        {"moc": [{"board": ""}]},
        {"rems": [{"program": ""}]},
        {"moc": {"board": "ABOHNS"}},
        {"cme": "LA"},
    ],
)
def test_a_malformed_target_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Completion.model_validate(body)


@pytest.mark.parametrize(
    "body",
    [
        {"cme": {}},
        {"moc": [{"board": "ABOHNS"}]},
        {"rems": [{"program": "OPIOID"}]},
        {"cme": {"credits": "lots"}, "first_name": None, "last_name": None, "activity_id": None},
        {"cme": {"credits": 1}, "action": None, "completion_date": "yesterday"},
    ],
)
def test_missing_or_odd_fields_are_left_to_pars_codes(body: dict[str, Any]) -> None:
    completion = Completion.model_validate(body)
    assert completion.activity_id is None
    assert completion.first_name is None and completion.last_name is None


def test_action_defaults_to_add() -> None:
    assert Completion.model_validate({"cme": {}}).action == "Add"


def test_the_contract_example_is_a_completion() -> None:
    completion = Completion.model_validate(CONTRACT_BODY)
    assert completion.cme is not None and completion.cme.credits == Decimal(8)
    assert completion.moc[0].board == "ABOHNS"


# keys -------------------------------------------------------------------------------------------------


class FakeConnection:
    """Answers the two queries keys.py makes, from an in-memory api_keys table."""

    def __init__(self, providers: set[str] | None = None) -> None:
        self.providers = providers or set()
        self.keys: dict[str, dict[str, Any]] = {}
        self.lookups: list[str] = []

    async def fetchval(self, _query: str, provider_id: str) -> int | None:
        return 1 if provider_id in self.providers else None

    async def execute(self, _query: str, key_id: str, key_hash: bytes, role: str, provider_id: str | None,
                      sandbox: bool = False) -> None:
        self.keys[key_id] = {"key_hash": key_hash, "role": role, "provider_id": provider_id, "sandbox": sandbox}

    async def fetchrow(self, _query: str, key_id: str) -> dict[str, Any] | None:
        self.lookups.append(key_id)
        return self.keys.get(key_id)


def test_the_digest_is_not_the_key() -> None:
    key = "pars_0123456789ab_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
    digest = _digest(key)
    assert digest != key.encode()
    assert key.encode() not in digest
    assert len(digest) == 32
    assert digest == _digest(key)
    assert digest != _digest(key + "x")


@pytest.mark.parametrize(
    "key",
    ["", "pars", "pars_onlyid", "token_0123456789ab_secret", "PARS_0123456789ab_secret", "pars-0123456789ab-secret",
     "Bearer pars_0123456789ab_secret"],
)
async def test_malformed_keys_are_refused_without_a_lookup(key: str) -> None:
    conn = FakeConnection()
    conn.keys["0123456789ab"] = {"key_hash": _digest(key), "role": "operator", "provider_id": None, "sandbox": False}
    assert await authenticate(conn, key) is None  # type: ignore[arg-type]
    assert conn.lookups == []


async def test_an_issued_key_authenticates_as_its_provider() -> None:
    conn = FakeConnection(providers={PROVIDER})
    key = await issue_key(conn, "provider", PROVIDER)  # type: ignore[arg-type]
    prefix, key_id, _secret = key.split("_", 2)
    assert prefix == PREFIX
    assert list(conn.keys) == [key_id]
    assert conn.keys[key_id]["key_hash"] == _digest(key)  # the key itself is not stored
    assert key.encode() not in conn.keys[key_id]["key_hash"]
    principal = await authenticate(conn, key)  # type: ignore[arg-type]
    assert principal == Principal("provider", PROVIDER)
    assert not principal.is_operator
    assert conn.lookups == [key_id]


async def test_an_operator_key_authenticates_as_operator() -> None:
    conn = FakeConnection()
    key = await issue_key(conn, "operator")  # type: ignore[arg-type]
    principal = await authenticate(conn, key)  # type: ignore[arg-type]
    assert principal is not None and principal.is_operator and principal.provider_id is None


async def test_a_key_for_an_unknown_provider_is_not_issued() -> None:
    conn = FakeConnection()
    with pytest.raises(UnknownProvider):
        await issue_key(conn, "provider", "0000000")  # type: ignore[arg-type]
    assert conn.keys == {}


async def test_a_wrong_secret_or_unknown_id_is_refused() -> None:
    conn = FakeConnection(providers={PROVIDER})
    key = await issue_key(conn, "provider", PROVIDER)  # type: ignore[arg-type]
    prefix, key_id, secret = key.split("_", 2)
    assert await authenticate(conn, f"{prefix}_{key_id}_{secret}x") is None  # type: ignore[arg-type]
    assert await authenticate(conn, f"{prefix}_ffffffffffff_{secret}") is None  # type: ignore[arg-type]


async def test_a_secret_with_underscores_is_part_of_the_key() -> None:
    conn = FakeConnection()
    key = "pars_0123456789ab_se_cr_et"
    conn.keys["0123456789ab"] = {"key_hash": _digest(key), "role": "provider", "provider_id": PROVIDER,
                                 "sandbox": False}
    assert await authenticate(conn, key) == Principal("provider", PROVIDER)  # type: ignore[arg-type]
    assert conn.lookups == ["0123456789ab"]


async def test_a_revoked_key_is_refused() -> None:
    conn = FakeConnection(providers={PROVIDER})
    key = await issue_key(conn, "provider", PROVIDER)  # type: ignore[arg-type]
    conn.keys.clear()  # the query filters revoked keys out: no row
    assert await authenticate(conn, key) is None  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_valid_key_is_looked_up_once_per_ttl() -> None:
    conn, clock = FakeConnection(providers={PROVIDER}), Clock()
    cache = KeyCache(ttl=15, clock=clock)
    key = await issue_key(conn, "provider", PROVIDER)  # type: ignore[arg-type]
    for _ in range(3):
        assert await cache.authenticate(conn, key) == Principal("provider", PROVIDER)  # type: ignore[arg-type]
    assert len(conn.lookups) == 1
    clock.now += 15
    assert await cache.authenticate(conn, key) == Principal("provider", PROVIDER)  # type: ignore[arg-type]
    assert len(conn.lookups) == 2


async def test_a_revoked_key_is_refused_once_its_ttl_is_over() -> None:
    conn, clock = FakeConnection(providers={PROVIDER}), Clock()
    cache = KeyCache(ttl=15, clock=clock)
    key = await issue_key(conn, "provider", PROVIDER)  # type: ignore[arg-type]
    assert await cache.authenticate(conn, key) is not None  # type: ignore[arg-type]
    conn.keys.clear()  # revoked
    clock.now += 14.9
    assert await cache.authenticate(conn, key) is not None  # type: ignore[arg-type]  # within the TTL: departure
    clock.now += 0.1
    assert await cache.authenticate(conn, key) is None  # type: ignore[arg-type]
    assert await cache.authenticate(conn, key) is None  # type: ignore[arg-type]
    assert len(conn.lookups) == 3  # a refused key is asked for every time: nothing remembered of it


async def test_the_cache_keeps_digests_only_and_never_a_wrong_secret() -> None:
    conn = FakeConnection(providers={PROVIDER})
    cache = KeyCache(clock=Clock())
    key = await issue_key(conn, "provider", PROVIDER)  # type: ignore[arg-type]
    prefix, key_id, secret = key.split("_", 2)
    assert await cache.authenticate(conn, key) is not None  # type: ignore[arg-type]
    assert list(cache._known) == [_digest(key)]
    assert all(key.encode() not in digest for digest in cache._known)
    # The same key ID with another secret is another digest: looked up, and refused.
    assert await cache.authenticate(conn, f"{prefix}_{key_id}_{secret}x") is None  # type: ignore[arg-type]
    assert conn.lookups == [key_id, key_id]


async def test_a_full_cache_drops_what_expired_first_then_everything() -> None:
    conn, clock = FakeConnection(providers={PROVIDER}), Clock()
    cache = KeyCache(ttl=10, clock=clock, size=2)
    keys = [await issue_key(conn, "provider", PROVIDER) for _ in range(4)]  # type: ignore[arg-type]
    for key in keys[:2]:
        await cache.authenticate(conn, key)  # type: ignore[arg-type]
    clock.now += 5
    await cache.authenticate(conn, keys[2])  # type: ignore[arg-type]  # full, nothing expired: all dropped
    assert list(cache._known) == [_digest(keys[2])]
    clock.now += 3
    await cache.authenticate(conn, keys[3])  # type: ignore[arg-type]
    clock.now += 8  # keys[2] expired, keys[3] not
    await cache.authenticate(conn, keys[0])  # type: ignore[arg-type]
    assert list(cache._known) == [_digest(keys[3]), _digest(keys[0])]
