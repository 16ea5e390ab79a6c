"""The chaos suite's own Kafka and PostgreSQL, started by the project's scripts in a folder of their own
(`.local/chaos`, other ports): killing them disturbs no other test and no `make run`."""

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pars_cli.stack import local_dir
from tests.support import free_port, free_port_block

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "deploy" / "local"
# PARS_* settings of the shared servers must not leak into the scripts (infra.sh reads them) or the stack.
SHARED = ("PARS_KAFKA_BOOTSTRAP_SERVERS", "PARS_DATABASE_URL")


@dataclass
class ChaosServers:
    local_dir: Path
    kafka_port: int
    pg_port: int
    database_url: str = ""

    @classmethod
    def fresh(cls, local_dir: Path) -> "ChaosServers":
        """Ports of their own, and an empty Kafka log: topics of earlier runs would only slow the broker."""
        servers = cls(local_dir, free_port_block(2), free_port())
        servers.stop()  # a broker or cluster left behind by an interrupted run
        shutil.rmtree(local_dir / "kafka" / "data", ignore_errors=True)
        servers._share_kafka_jars()
        return servers

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHARED}
        return env | {"PARS_LOCAL_DIR": str(self.local_dir), "PARS_LOCAL_KAFKA_PORT": str(self.kafka_port),
                      "PARS_LOCAL_PG_PORT": str(self.pg_port)}

    def _script(self, name: str, command: str) -> str:
        done = subprocess.run(["bash", str(SCRIPTS / name), command], env=self._env(), capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{name} {command} failed: {done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def _share_kafka_jars(self) -> None:
        """Hard links to the jars `make test` already resolved (same pom, same stamp), so no second Maven run."""
        mine, theirs = self.local_dir / "kafka", local_dir() / "kafka"
        if (mine / "libs.stamp").exists() or not (theirs / "libs.stamp").exists():
            return  # kafka.sh compares the stamp with its pom and resolves again when they differ
        mine.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(mine / "libs", ignore_errors=True)
        shutil.copytree(theirs / "libs", mine / "libs", copy_function=os.link)
        shutil.copy(theirs / "libs.stamp", mine / "libs.stamp")

    def start_kafka(self) -> None:
        self._script("kafka.sh", "start")

    def start_postgres(self) -> None:
        self._script("postgres.sh", "start")
        # The script keeps the project role's URL (with its password) in the state folder; a script without
        # that file serves its trust defaults.
        url_file = self.local_dir / "pg" / "database.url"
        self.database_url = (url_file.read_text().strip() if url_file.exists()
                             else f"postgresql://postgres@127.0.0.1:{self.pg_port}/pars")

    def start(self) -> None:
        self.start_postgres()
        self.start_kafka()

    def stop(self) -> None:
        for name in ("kafka.sh", "postgres.sh"):
            subprocess.run(["bash", str(SCRIPTS / name), "stop"], env=self._env(), capture_output=True, timeout=120)

    def kill_kafka(self) -> int:
        """SIGKILL to the broker's JVM: no controlled shutdown, its log recovers at the next start."""
        pid = int((self.local_dir / "kafka" / "kafka.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return pid

    def stop_postgres(self) -> None:
        """The script's stop: a fast shutdown (open transactions roll back, every client is cut off). Not
        kill -9: the cluster runs with synchronous_commit off, so a crash may lose its last commits by
        configuration, which is not what this suite looks for."""
        self._script("postgres.sh", "stop")
