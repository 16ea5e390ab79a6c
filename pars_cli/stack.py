"""Runs the whole stack locally: servers (unless given), topics, demo world, SMTP sink, every service.

`make run` calls `pars stack run`. Services run in their own sessions, so a Ctrl-C reaches only this
supervisor, which stops them in order (intake first, so nothing new comes in) and then stops exactly the
servers it started. A service that exits on its own is started again after a back-off (`Backoff`); only
Ctrl-C or SIGTERM stops the stack.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from pars_cli.cluster import LocalCluster
from shared.service_registry import BY_NAME, INTAKE, SERVICE_NAMES
from shared.settings import Settings, connect_host, local_database_url

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "deploy" / "local" / "infra.sh"


def local_dir() -> Path:
    return Path(os.environ.get("PARS_LOCAL_DIR", REPO / ".local"))


def start_servers(*only: str) -> list[str]:
    """Start local Kafka/PostgreSQL (or `only` those) unless PARS_* points elsewhere; answer which ones this call
    started."""
    out = subprocess.run(["bash", str(INFRA), "start", *only], check=True, capture_output=True, text=True)
    sys.stderr.write(out.stdout)
    return [line.split(":", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("started:")]


def stop_servers(started: list[str]) -> None:
    if started:
        subprocess.run(["bash", str(INFRA), "stop", *started], check=False)


# `--replicas N`: process r (0 … N-1) of a service answers /readyz and /metrics on its one-process port + 10 r
# (the registry's offsets are 1-5; intake's own port is the base itself), so the first keeps today's ports.
REPLICA_PORT_STRIDE = 10


def health_url(settings: Settings, service: str) -> str:
    host = settings.api_host if service == INTAKE.name else settings.health_host
    return f"http://{connect_host(host)}:{settings.service_port(service)}"


def replica_port(settings: Settings, service: str, replica: int) -> int:
    """Where process `replica` of `service` answers /readyz and /metrics when a stack runs several of each."""
    return settings.health_port_base + (BY_NAME[service].health_port_offset or 0) + REPLICA_PORT_STRIDE * replica


@dataclass
class ServiceProcess:
    """One service as a child process with its own session, logging to a file."""

    service: str
    env: dict[str, str]
    log_dir: Path
    replica: int = 0  # which of the service's processes; the first is named as the service alone
    # The API's listening socket, held by the supervisor and passed down to every intake process (--replicas).
    api_socket: socket.socket | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)  # time.monotonic() of the last start

    @property
    def name(self) -> str:
        return self.service if self.replica == 0 else f"{self.service}.{self.replica + 1}"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def url(self, settings: Settings) -> str:
        """Where this process answers /readyz: a port of its own when its environment names one."""
        if "PARS_HEALTH_PORT" in self.env:
            return f"http://{connect_host(settings.health_host)}:{self.env['PARS_HEALTH_PORT']}"
        return health_url(settings, self.service)

    def command(self) -> list[str]:
        return [sys.executable, "-m", BY_NAME[self.service].package]

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        fds = () if self.api_socket is None else (self.api_socket.fileno(),)
        self.process = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=REPO, pass_fds=fds)
        self.started_at = time.monotonic()
        log.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def stop(self, timeout: float = 30.0) -> int | None:
        self.signal(signal.SIGTERM)
        return self.wait(timeout)


def wait_ready(settings: Settings, processes: list[ServiceProcess], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = {p.name: p for p in processes}
    while pending:
        for p in pending.values():
            if not p.alive:
                raise RuntimeError(f"{p.name} exited during start-up; see {p.log_file}")
        for name, p in list(pending.items()):
            try:
                if httpx.get(p.url(settings) + "/readyz", timeout=1.0).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")
        time.sleep(0.3)


def start_services(settings: Settings, env: dict[str, str], log_dir: Path,
                   services: list[str] | None = None, replicas: int = 1) -> list[ServiceProcess]:
    """Each service's process, or `replicas` processes of each: the workers' consumer groups share the partitions;
    intake's processes accept on one listening socket bound here (below)."""
    names = services or list(SERVICE_NAMES)
    if replicas == 1:
        processes = [ServiceProcess(s, env, log_dir) for s in names]
    else:
        api = api_socket(settings) if INTAKE.name in names else None
        processes = [ServiceProcess(s, {**env, **replica_env(settings, s, r, api)}, log_dir, r,
                                    api if s == INTAKE.name else None)
                     for s in names for r in range(replicas)]
    try:
        for p in processes:
            p.start()
        wait_ready(settings, processes)
    except BaseException:  # not ready, or interrupted: none of them is left running without a supervisor
        stop_services(processes)
        raise
    return processes


def api_socket(settings: Settings) -> socket.socket:
    """The API's listening socket for several intake processes: bound once here and inherited by each, which all
    accept on it (an idle one first: a busy one is not waiting). It outlives any one of them, so connections that
    arrive while one restarts wait in its backlog for another instead of being refused or reset, and no stray
    process can join the port (SO_REUSEPORT would let any of the user's processes bind it too)."""
    return socket.create_server((settings.api_host, settings.api_port), backlog=2048)


def replica_env(settings: Settings, service: str, replica: int, api: socket.socket | None) -> dict[str, str]:
    """What process `replica` of `service` is told beside the stack's environment: its own health port, and for
    intake the inherited API socket."""
    env = {"PARS_HEALTH_PORT": str(replica_port(settings, service, replica))}
    if service == INTAKE.name and api is not None:
        env["PARS_API_FD"] = str(api.fileno())
    return env


def stop_services(processes: Sequence[ServiceProcess]) -> dict[str, int | None]:
    """SIGTERM, intake first (no new work comes in while the workers finish theirs); answer exit codes by process
    name. The API socket the supervisor held for several intake processes is closed once they stopped."""
    intake = [p for p in processes if p.service == INTAKE.name]
    for p in intake:
        p.signal(signal.SIGTERM)
    codes = {p.name: p.wait(30.0) for p in intake}
    for p in intake:
        if p.api_socket is not None:
            p.api_socket.close()
    for p in processes:
        p.signal(signal.SIGTERM)
    return codes | {p.name: p.wait(30.0) for p in processes if p.service != INTAKE.name}


def start_smtp_sink(host: str, port: int, mail_dir: Path, log_dir: Path) -> subprocess.Popen[bytes]:
    """A local SMTP server keeping every mail in a Maildir under `mail_dir` (new mail in `mail_dir/new`)."""
    for folder in ("cur", "new", "tmp"):  # Maildir only lays these out itself in a folder that did not exist
        (mail_dir / folder).mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / "smtp-sink.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{host}:{port}", "-c", "aiosmtpd.handlers.Mailbox",
         str(mail_dir)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@dataclass
class Backoff:
    """How long to wait before starting a crashed service again: 1 s, 2 s, 4 s ... at most `cap`; a service
    that had stayed up `steady` seconds before it exited starts over at `first` (it was working, this is news)."""

    first: float = 1.0
    cap: float = 30.0
    steady: float = 60.0
    attempt: int = 0  # restarts since the service last stayed up `steady` seconds

    def next_delay(self, uptime: float) -> float:
        """The wait before the next start, given how long the run that just ended lasted; counts the attempt."""
        if uptime >= self.steady:
            self.attempt = 0
        self.attempt += 1
        return min(self.cap, self.first * 2 ** (self.attempt - 1))


def exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def supervise(processes: list[ServiceProcess], stopping: Callable[[], bool],
              backoff: Callable[[], Backoff] = Backoff, every: float = 0.3) -> None:
    """Until `stopping()`: a service that exited is started again after its back-off, said on stderr.
    Restarts do not wait for /readyz, so one slow service never holds up the others' restarts."""
    policies = {p.name: backoff() for p in processes}
    due: dict[str, float] = {}  # process name -> when it starts again
    while not stopping():
        now = time.monotonic()
        for p in processes:
            if p.name in due:
                if now >= due[p.name]:
                    del due[p.name]
                    p.start()
                    assert p.process is not None
                    print(f"pars stack: {p.name} started again (pid {p.process.pid})", file=sys.stderr, flush=True)
            elif not p.alive:
                assert p.process is not None
                policy = policies[p.name]
                delay = policy.next_delay(now - p.started_at)
                due[p.name] = now + delay
                print(f"pars stack: {p.name} exited ({exit_reason(p.process.returncode)}) after "
                      f"{now - p.started_at:.0f} s; restart {policy.attempt} in {delay:g} s; log: {p.log_file}",
                      file=sys.stderr, flush=True)
        time.sleep(every)


def _on_sigterm(*_: object) -> None:
    raise KeyboardInterrupt


def interrupt_on_ctrl_c_and_sigterm() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, so what this process started is stopped on the way out, even when
    it was started with SIGINT ignored, as a shell does for a command it runs in the background (Python then installs
    no KeyboardInterrupt of its own)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)


class _StopAsked:
    """From here on Ctrl-C and SIGTERM only set a flag the supervisor loop reads, so an interrupt never lands
    inside `Popen.poll` (it could leave a child's wait lock held, and the clean-up's wait would never return).
    A plain flag, not a threading.Event: setting an Event from a handler can deadlock on its own lock."""

    def __init__(self) -> None:
        self.asked = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._ask)

    def _ask(self, *_: object) -> None:
        self.asked = True


def start_cluster(settings: Settings) -> tuple[LocalCluster, list[int], Settings]:
    """`--brokers 3`: the local three-node cluster (.local/cluster) instead of the single broker; answers it, the
    nodes this call started, and the settings on it (three replicas, two in sync)."""
    if "kafka_bootstrap_servers" in settings.model_fields_set:
        raise SystemExit("pars stack run --brokers 3 starts a local cluster, but PARS_KAFKA_BOOTSTRAP_SERVERS is set")
    cluster = LocalCluster(local_dir() / "cluster")
    started = cluster.start()
    return cluster, started, settings.model_copy(update={
        "kafka_bootstrap_servers": cluster.bootstrap, "kafka_replication_factor": 3, "kafka_min_insync_replicas": 2})


def run_stack(settings: Settings, *, load_demo: bool = True, brokers: int = 1, replicas: int = 1) -> None:
    """Everything `make run` promises, until Ctrl-C or SIGTERM; then stop all that was started."""
    import asyncio

    from pars_cli import admin
    from pars_cli.demo_files import write_demo_files

    interrupt_on_ctrl_c_and_sigterm()
    logs, processes, smtp, demo_files = local_dir() / "logs", [], None, []
    cluster: LocalCluster | None = None
    cluster_started: list[int] = []
    if brokers > 1:
        cluster, cluster_started, settings = start_cluster(settings)
    started = start_servers(*(["postgres"] if cluster else []))
    if "database_url" not in settings.model_fields_set:  # the local cluster's URL file may be new
        settings = settings.model_copy(update={"database_url": local_database_url()})
    try:
        asyncio.run(admin.create_topics(settings))
        env = dict(os.environ) | (cluster.env() if cluster else {})
        if not settings.smtp_host:
            smtp = start_smtp_sink("127.0.0.1", settings.smtp_port, local_dir() / "mail", logs)
            env["PARS_SMTP_HOST"] = "127.0.0.1"
        if load_demo:
            world, keys = asyncio.run(admin.load_demo_world(settings))
            path = local_dir() / "demo-world.json"
            path.write_text(world.model_dump_json(indent=1, exclude_none=True), encoding="utf-8")
            demo_files = write_demo_files(world, settings.today or datetime.now(UTC).date(), local_dir() / "demo")
        else:
            keys = [("operator", asyncio.run(admin.issue_key(settings, "operator")))]
        processes = start_services(settings, env, logs, replicas=replicas)
        api = f"http://{settings.api_host}:{settings.api_port}"
        print(f"\nPARS is running.\n  API:        {api}/v1   (docs at {api}/docs)")
        print(f"  portal:     {api}/portal/   (providers: sign in with a provider key)")
        print(f"  console:    {api}/console   (operators: an operator key)")
        if replicas > 1:
            print(f"  replicas:   {replicas} processes of every service, intake's behind the one API port; process"
                  f" r's /metrics on its port + {REPLICA_PORT_STRIDE} r (logs: SERVICE.2.log …)")
        if cluster is not None:
            print(f"  kafka:      {cluster.bootstrap}  (3 nodes; for pars commands: "
                  f"export PARS_KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap})")
        for who, key in keys:
            print(f"  {who} key: {key}")
        if load_demo:
            print(f"  demo world: {local_dir() / 'demo-world.json'}")
            print(f"  demo files: {', '.join(str(f) for f in demo_files)}  (pars upload FILE --provider "
                  f"{world.providers[0].id})")
        print(f"  mail:       {local_dir() / 'mail' / 'new'}  (pars mail list)" if smtp
              else f"  mail:       SMTP {settings.smtp_host}")
        stop = _StopAsked()
        print(f"  logs:       {logs}/\nPress Ctrl-C to stop everything.", flush=True)
        supervise(processes, lambda: stop.asked)
        raise KeyboardInterrupt  # a stop was asked
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stop_services(processes)
        if smtp is not None:
            smtp.terminate()
            smtp.wait(10)
        stop_servers(started)
        if cluster is not None and cluster_started:
            cluster.stop(*cluster_started)
        print("stopped.", file=sys.stderr)
