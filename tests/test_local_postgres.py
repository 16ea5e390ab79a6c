"""deploy/local/postgres.sh on a throwaway cluster of this test's own: the project's role has a password, the
superuser is for set-up only, and row values stay out of PostgreSQL's own log."""

import asyncio
import datetime
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support import free_port

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "local" / "postgres.sh"


class Cluster:
    def __init__(self, local_dir: Path, port: int) -> None:
        self.local_dir, self.port = local_dir, port
        self.env = {**os.environ, "PARS_LOCAL_DIR": str(local_dir), "PARS_LOCAL_PG_PORT": str(port)}

    def script(self, command: str) -> str:
        done = subprocess.run(["bash", str(SCRIPT), command], env=self.env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    @property
    def url_file(self) -> Path:
        return self.local_dir / "pg" / "database.url"

    @property
    def url(self) -> str:
        return self.url_file.read_text().strip()

    def superuser(self, sql: str) -> str:
        """SQL as the superuser, the way the script reaches it: the server's OS user, over the socket."""
        psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), key=lambda p: int(p.parts[-3]))[-1]
        as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*as_server, str(psql), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                               str(self.local_dir / "pg"), "-p", str(self.port), "-U", "postgres", "-d", "pars",
                               "-c", sql], capture_output=True, text=True, timeout=60, cwd="/")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def log(self) -> str:
        return (self.local_dir / "pg" / "pg.log").read_text(errors="replace")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    # Under /tmp and traversable, so the server's own user (postgres, when we are root) can keep it there.
    local_dir = Path(tempfile.mkdtemp(prefix="pars-pg-test-"))
    local_dir.chmod(0o755)
    running = Cluster(local_dir, free_port())
    try:
        yield running
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=running.env, capture_output=True, timeout=120)
        shutil.rmtree(local_dir, ignore_errors=True)


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, timeout=10)


def test_the_project_role_logs_in_with_its_password_and_the_superuser_only_over_the_socket(
        cluster: Cluster) -> None:
    out = cluster.script("start")
    assert "started on" in out
    url = cluster.url
    assert url.startswith("postgresql://pars:") and url.endswith(f"@127.0.0.1:{cluster.port}/pars")
    password = url.split(":")[2].split("@")[0]
    assert len(password) >= 32 and password not in out
    assert stat.S_IMODE(cluster.url_file.stat().st_mode) == 0o600

    async def check() -> None:
        conn = await connect(url)
        try:
            assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
            assert await conn.fetchval("SELECT datdba::regrole::text FROM pg_database WHERE datname = 'pars'") \
                == "pars"
            await conn.execute("CREATE SCHEMA probe; CREATE TABLE probe.t (id int)")  # what migrations do
        finally:
            await conn.close()
        for wrong in (f"postgresql://postgres@127.0.0.1:{cluster.port}/pars",
                      f"postgresql://pars:guess@127.0.0.1:{cluster.port}/pars",
                      f"postgresql://pars@127.0.0.1:{cluster.port}/pars"):
            with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
                await (await connect(wrong)).close()

    asyncio.run(check())
    # A second start keeps the password (every process that read the file still has the right one).
    cluster.script("start")
    assert cluster.url == url


def test_an_older_cluster_is_brought_up_to_the_rules_in_place(cluster: Cluster) -> None:
    cluster.script("start")
    # What a set-up before the project's role left behind: the service schemas, made as the superuser.
    cluster.superuser("CREATE SCHEMA old_intake; CREATE TABLE old_intake.batches (id serial PRIMARY KEY, "
                      "name text); CREATE TYPE old_intake.kind AS ENUM ('a'); ALTER DATABASE pars OWNER TO postgres")
    cluster.script("start")  # running: upgraded and reloaded in place
    assert cluster.superuser("SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class "
                             "WHERE relnamespace = 'old_intake'::regnamespace") == "pars"
    assert cluster.superuser("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'old_intake'") \
        == "pars"
    assert cluster.superuser("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'pars'") == "pars"

    async def write() -> None:
        conn = await connect(cluster.url)
        try:
            await conn.execute("INSERT INTO old_intake.batches (name) VALUES ('x')")
            await conn.execute("ALTER TABLE old_intake.batches ADD COLUMN extra int")  # a later migration
            await conn.execute("DROP SCHEMA old_intake CASCADE")  # what the tests' clean-up does
        finally:
            await conn.close()

    asyncio.run(write())


def test_row_values_of_a_failed_statement_stay_out_of_the_server_log(cluster: Cluster) -> None:
    cluster.script("start")

    async def collide() -> None:
        conn = await connect(cluster.url)
        try:
            await conn.execute("CREATE TABLE learners (name text, dob date, UNIQUE (name, dob))")
            row = ("Quilliam Farnsbarrow", datetime.date(1972, 3, 14))
            await conn.execute("INSERT INTO learners VALUES ($1, $2)", *row)
            with pytest.raises(asyncpg.UniqueViolationError) as raised:
                await conn.execute("INSERT INTO learners VALUES ($1, $2)", *row)
            assert "Farnsbarrow" in (raised.value.detail or "")  # the client is told; the server log is not
        finally:
            await conn.close()

    asyncio.run(collide())
    log = cluster.log()
    assert "learners_name_dob_key" in log  # the error is logged ...
    assert "Farnsbarrow" not in log and "1972-03-14" not in log  # ... without the row's values
