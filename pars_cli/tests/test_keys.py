"""`pars keys list|revoke` against the real PostgreSQL: keys are listed without their secret, and revoked ones
stop authenticating."""

import json

import pytest
from typer.testing import CliRunner

from intake.keys import authenticate
from pars_cli import admin, main
from shared.db import create_pool
from shared.service_registry import INTAKE
from shared.settings import Settings

pytestmark = pytest.mark.integration
runner = CliRunner()


async def _authenticates(settings: Settings, key: str) -> bool:
    pool = await create_pool(settings.database_url, settings.schema(INTAKE.schema), max_size=1)
    try:
        return await authenticate(pool, key) is not None
    finally:
        await pool.close()


def test_keys_are_listed_without_their_secret_and_a_revoked_one_stops_working(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    monkeypatch.setattr(main, "get_settings", lambda: settings)
    kept, revoked = (asyncio.run(admin.issue_key(settings, "operator")) for _ in range(2))
    kept_id, revoked_id = kept.split("_")[1], revoked.split("_")[1]

    result = runner.invoke(main.app, ["keys", "revoke", revoked])  # the whole key is taken too
    assert result.exit_code == 0, result.output
    assert not asyncio.run(_authenticates(settings, revoked))
    assert asyncio.run(_authenticates(settings, kept))

    listed = runner.invoke(main.app, ["keys", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert kept.split("_", 2)[2] not in listed.stdout and revoked.split("_", 2)[2] not in listed.stdout
    keys = {k["key_id"]: k for k in json.loads(listed.stdout)}
    assert set(keys) == {kept_id, revoked_id}
    assert keys[kept_id]["role"] == "operator" and keys[kept_id]["provider_id"] is None
    assert keys[kept_id]["revoked_at"] is None and keys[revoked_id]["revoked_at"] is not None

    table = runner.invoke(main.app, ["keys", "list"])
    assert table.exit_code == 0 and kept_id in table.stdout and revoked_id in table.stdout

    again = runner.invoke(main.app, ["keys", "revoke", revoked_id])
    assert again.exit_code == 1 and revoked_id in again.stderr
    assert runner.invoke(main.app, ["keys", "revoke", "nosuchkey"]).exit_code == 1
