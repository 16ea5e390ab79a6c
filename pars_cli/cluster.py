"""The local three-node Kafka cluster (deploy/local/kafka-cluster.sh) from Python: `pars stack run --brokers 3`
starts it instead of the single broker, and the cluster tests stop, kill and restart its nodes one at a time."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLUSTER_SH = REPO / "deploy" / "local" / "kafka-cluster.sh"
NODES = (1, 2, 3)
DEFAULT_PORT = 29092  # the script's default: brokers on 29092-29094, controllers on 29095-29097
# What the services and `pars topics` need to know of the cluster: three copies of every partition, two of them
# in sync before a write is acknowledged, so any one node may die.
REPLICATION = {"PARS_KAFKA_REPLICATION_FACTOR": "3", "PARS_KAFKA_MIN_INSYNC_REPLICAS": "2"}


@dataclass
class LocalCluster:
    state_dir: Path
    port_base: int = DEFAULT_PORT
    start_seconds: float = 0.0  # how long the last start took

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port(n)}" for n in NODES)

    def broker_port(self, node: int) -> int:
        return self.port_base + node - 1

    def node_at(self, port: int) -> int:
        """The node whose broker listens on `port` (as a partition's leader is named by host and port)."""
        return {self.broker_port(n): n for n in NODES}[port]

    def env(self) -> dict[str, str]:
        """PARS_* settings for a stack on this cluster."""
        return {"PARS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, **REPLICATION}

    def _script(self, *args: str, timeout: float = 300) -> str:
        # The shared servers' settings must not reach the script (it needs none, but a stray bootstrap is confusing).
        env = {k: v for k, v in os.environ.items() if k != "PARS_KAFKA_BOOTSTRAP_SERVERS"}
        env |= {"PARS_LOCAL_CLUSTER_DIR": str(self.state_dir), "PARS_LOCAL_CLUSTER_PORT": str(self.port_base)}
        done = subprocess.run(["bash", str(CLUSTER_SH), *args], env=env, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"kafka-cluster.sh {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def start(self, *nodes: int) -> list[int]:
        """Start these nodes (default all) unless running; wait until each serves; answer those started now."""
        began = time.monotonic()
        out = self._script("start", *map(str, nodes))
        self.start_seconds = time.monotonic() - began
        return [n for n in nodes or NODES if f"node {n} started on" in out]

    def stop(self, *nodes: int) -> None:
        """Controlled shutdown (SIGTERM) of these nodes, default all."""
        self._script("stop", *map(str, nodes))

    def pid(self, node: int) -> int | None:
        try:
            pid = int((self.state_dir / f"node-{node}" / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def kill(self, node: int) -> None:
        """SIGKILL to the node's JVM (broker and controller at once): no shutdown, no flush."""
        pid = self.pid(node)
        assert pid is not None, f"node {node} is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
