"""docker-compose.yml agrees with the code: modules, settings, health ports and Kafka's configuration.

Nothing here needs a Docker engine. Only the last test runs `docker compose config`, and only where the
compose CLI plugin exists (it validates the file without an engine).
"""

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pars_cli.generate import demo_world
from shared.service import health_port
from shared.service_registry import BY_PACKAGE, SERVICES, VALIDATION
from shared.settings import Settings
from shared.topics import RECORD_PARTITIONS
from shared.world import World
from tests.support import kafka_release

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
KAFKA_SCRIPT = REPO / "deploy" / "local" / "kafka.sh"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
DEMO_SCRIPT = REPO / "deploy" / "docker" / "demo.py"
RUNTIME_LOCK = REPO / "requirements-runtime.lock"

# Broker properties of kafka.sh that describe its own network and disk, not the broker's behaviour.
KAFKA_LOCAL_ONLY = {"listeners", "advertised.listeners", "listener.security.protocol.map",
                    "controller.quorum.voters", "log.dirs"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}, $NAME, and $$ (a literal $).
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_READYZ = re.compile(r"https?://(?:127\.0\.0\.1|localhost):(?P<port>\d+)/readyz")


def interpolate(value: str) -> str:
    """Compose's interpolation with no variable set: every `${NAME:-default}` gives its default."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        op, arg = match["op"] or "", match["arg"] or ""
        if op.endswith("?"):
            raise AssertionError(f"{COMPOSE_FILE.name} requires {match['braced']} to be set: {value!r}")
        return arg if op.endswith("-") else ""

    return _VARIABLE.sub(replace, value)


def referenced_variables(text: str) -> set[str]:
    return {m["braced"] or m["bare"] for m in _VARIABLE.finditer(text) if not m["escaped"]}


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as compose passes it (list or mapping form), interpolated."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: interpolate(_scalar(value)) for key, value in env.items()}


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML true/false; compose wants them quoted, but be lenient here
        return str(value).lower()
    return str(value)


def command(service: Mapping[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


@cache
def service_packages() -> list[str]:
    # Every folder under services/ is a service package run as `python -m <folder>`.
    return sorted(p.parent.name for p in (REPO / "services").glob("*/__main__.py"))


def test_the_registry_of_services_names_every_service_package() -> None:
    assert sorted(s.package for s in SERVICES) == service_packages()


def compose_service_running(package: str) -> tuple[str, dict[str, Any]]:
    found = [(name, s) for name, s in services().items() if command(s) == ["python", "-m", package]]
    assert len(found) == 1, f"want exactly one compose service running `python -m {package}`, got {found}"
    return found[0]


def service_name(package: str) -> str:
    """The name the code knows a service by (shared.service_registry): board_router -> board-router."""
    assert package in BY_PACKAGE, f"package {package} is no service of shared.service_registry.SERVICES"
    return BY_PACKAGE[package].name


def settings_from(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a container with exactly this environment would read them."""
    for key in list(os.environ):
        if key.upper().startswith("PARS_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def kafka_script_properties() -> dict[str, str]:
    """The broker properties deploy/local/kafka.sh writes into server.properties."""
    text = KAFKA_SCRIPT.read_text(encoding="utf-8")
    heredoc = re.search(r'cat >"\$PROPS" <<EOF\n(?P<body>.*?)\nEOF\n', text, re.S)
    assert heredoc, f"no server.properties here-document found in {KAFKA_SCRIPT}"
    props = {}
    for line in heredoc["body"].splitlines():
        # `$(kafka_thread_properties)`: threads sized for the cores of the machine the script runs on
        # (deploy/local/kafka-sizing.sh); a container leaves them to the image, as the JVM's collector.
        if line.strip() and not line.lstrip().startswith(("#", "$(")):
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def kafka_env_name(prop: str) -> str:
    """The apache/kafka image's mapping, reversed: log.dirs -> KAFKA_LOG_DIRS (_ -> __, - -> ___)."""
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def kafka_service() -> tuple[str, dict[str, Any]]:
    found = [(n, s) for n, s in services().items() if str(s.get("image", "")).startswith("apache/kafka:")]
    assert len(found) == 1, f"want one service on the apache/kafka image, got {[n for n, _ in found]}"
    return found[0]


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


@pytest.mark.parametrize("package", service_packages())
def test_every_service_package_runs_in_compose(package: str) -> None:
    name, service = compose_service_running(package)
    assert service.get("build") or service.get("image"), f"{name} has neither build nor image"


def test_compose_pars_variables_are_settings_fields() -> None:
    fields = {f"PARS_{name.upper()}" for name in Settings.model_fields}
    used = {key for s in services().values() for key in environment(s) if key.startswith("PARS_")}
    # `${PARS_X:-...}` passes the host's setting through: it must name a setting too.
    used |= {v for v in referenced_variables(COMPOSE_FILE.read_text(encoding="utf-8")) if v.startswith("PARS_")}
    assert used, "compose passes no PARS_* variable at all"
    unknown = sorted(used - fields)
    assert not unknown, f"PARS_* variables in {COMPOSE_FILE.name} that shared.settings.Settings lacks: {unknown}"


@pytest.mark.parametrize("package", service_packages())
def test_every_service_reaches_kafka_and_postgres(package: str) -> None:
    name, service = compose_service_running(package)
    env = environment(service)
    for key in ("PARS_KAFKA_BOOTSTRAP_SERVERS", "PARS_DATABASE_URL"):
        assert env.get(key), f"{name} gets no {key}"
    assert env.get("PARS_API_HOST") == "0.0.0.0", f"{name} must listen beyond its container's loopback"

    kafka_name, kafka = kafka_service()
    kafka_listeners = environment(kafka)["KAFKA_ADVERTISED_LISTENERS"]
    for server in env["PARS_KAFKA_BOOTSTRAP_SERVERS"].split(","):
        host, port = host_port(server)
        assert host in {kafka_name, kafka.get("hostname")}, f"{name}: {server} is not the compose Kafka"
        assert f"//{host}:{port}" in kafka_listeners, f"{name}: Kafka advertises no listener {server}"

    database = re.fullmatch(r"postgres(?:ql)?://[^@/]+@(?P<host>[^:/]+)(?::(?P<port>\d+))?/(?P<db>[^?]+).*",
                            env["PARS_DATABASE_URL"])
    assert database, f"{name}: PARS_DATABASE_URL is not a PostgreSQL URL"
    postgres = services().get(database["host"])
    assert postgres is not None, f"{name}: database host {database['host']} is no compose service"
    assert environment(postgres).get("POSTGRES_DB") == database["db"]


@pytest.mark.parametrize("package", service_packages())
def test_every_service_starts_after_its_dependencies(package: str) -> None:
    name, service = compose_service_running(package)
    depends = service.get("depends_on") or {}
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a plain list"
    kafka_name, _ = kafka_service()
    want = {kafka_name: "service_healthy", "postgres": "service_healthy", "topics": "service_completed_successfully"}
    for dependency, condition in want.items():
        assert (depends.get(dependency) or {}).get("condition") == condition, \
            f"{name} must depend on {dependency} with condition {condition}"
    for dependency, spec in depends.items():
        assert dependency in services(), f"{name} depends on unknown service {dependency}"
        if spec.get("condition") == "service_healthy":
            assert services()[dependency].get("healthcheck"), f"{dependency} has no healthcheck to wait for"
    assert command(services()["topics"]) == ["pars", "topics"]


@pytest.mark.parametrize("package", service_packages())
def test_healthcheck_port_is_the_service_port(package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name, service = compose_service_running(package)
    logical = service_name(package)
    settings = settings_from(environment(service), monkeypatch)
    # intake answers /readyz on its API port; the workers on the port shared.service.health_port gives them.
    offset = BY_PACKAGE[package].health_port_offset
    want = settings.api_port if offset is None else health_port(settings, logical)
    assert want == settings.service_port(logical)

    test = service.get("healthcheck", {}).get("test")
    assert test, f"{name} has no healthcheck"
    text = " ".join(test) if isinstance(test, list) else str(test)
    assert "curl" not in text and "wget" not in text, f"{name}: python:3.11-slim has neither curl nor wget"
    ports = [int(m["port"]) for m in _READYZ.finditer(text)]
    assert ports == [want], f"{name}'s healthcheck asks {ports}, but the service listens on {want}"


def test_intake_api_is_published_on_8000(monkeypatch: pytest.MonkeyPatch) -> None:
    _, intake = compose_service_running("intake")
    api_port = settings_from(environment(intake), monkeypatch).api_port
    published = [interpolate(str(p)) if not isinstance(p, dict) else f"{p.get('published')}:{p.get('target')}"
                 for p in intake.get("ports", [])]
    assert any(p.endswith(f"8000:{api_port}") for p in published), f"intake publishes {published}"


def test_kafka_is_configured_like_the_local_script() -> None:
    script = KAFKA_SCRIPT.read_text(encoding="utf-8")
    assert "auto.create.topics.enable=false" in script
    props = kafka_script_properties()
    _, kafka = kafka_service()
    env = environment(kafka)

    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() == "false", "compose Kafka auto-creates topics"
    partitions = int(env.get("KAFKA_NUM_PARTITIONS", "1"))
    assert partitions >= int(props["num.partitions"]), "compose Kafka has fewer default partitions than kafka.sh"
    assert partitions >= RECORD_PARTITIONS, "compose Kafka has fewer default partitions than the record topics"

    for prop, value in props.items():
        if prop in KAFKA_LOCAL_ONLY or prop == "num.partitions":
            continue
        assert env.get(kafka_env_name(prop)) == value, \
            f"kafka.sh sets {prop}={value}; compose sets {kafka_env_name(prop)}={env.get(kafka_env_name(prop))}"

    # Listener names must agree with each other: every advertised/used name has a protocol and a listener.
    protocols = dict(item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = {item.split("://", 1)[0] for item in env["KAFKA_LISTENERS"].split(",")}
    advertised = {item.split("://", 1)[0] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    named = {env["KAFKA_INTER_BROKER_LISTENER_NAME"], env["KAFKA_CONTROLLER_LISTENER_NAMES"]}
    assert advertised | named <= listeners <= set(protocols)


def test_kafka_image_is_the_local_release() -> None:
    _, kafka = kafka_service()
    tag = str(kafka["image"]).split(":", 1)[1]
    assert tag.split(".")[0] == "4", "the project runs Kafka 4 (KRaft only)"
    assert tag == kafka_release(), f"compose runs Kafka {tag}, deploy/local/kafka.sh runs {kafka_release()}"


def test_postgres_is_15_with_a_readiness_check() -> None:
    postgres = services()["postgres"]
    assert str(postgres["image"]).split(":", 1)[1].split(".")[0].split("-")[0] == "15"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_referenced_dockerfile_exists() -> None:
    built = {name: s["build"] for name, s in services().items() if s.get("build")}
    assert built, "no service is built from the project's Dockerfile"
    for name, build in built.items():
        context = REPO / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
        assert dockerfile.is_file(), f"{name} builds from {dockerfile}, which does not exist"
        text = dockerfile.read_text(encoding="utf-8")
        assert "python:3.11-slim" in text
        users = re.findall(r"^USER\s+(\S+)", text, re.M)
        assert users and users[-1].split(":")[0] not in {"root", "0"}, f"{dockerfile} runs as root"
    assert (REPO / ".dockerignore").is_file()


def test_docker_compose_config_validates() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, check=False)
    if version.returncode != 0:
        pytest.skip("the docker compose CLI plugin is not installed")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"], cwd=REPO,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr


def test_intake_reaches_the_compose_validation_service(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unset, PARS_VALIDATION_URL falls back to intake's own container (Settings.validation_base_url).
    _, intake = compose_service_running("intake")
    url = urlsplit(settings_from(environment(intake), monkeypatch).validation_base_url())
    name, validation = compose_service_running(VALIDATION.package)
    validation_settings = settings_from(environment(validation), monkeypatch)
    assert (url.scheme, url.hostname) == ("http", name), f"intake calls {url.geturl()}, not the service {name}"
    assert url.port == validation_settings.service_port(VALIDATION.name)
    assert validation_settings.health_host == "0.0.0.0", "validation answers only its own container's loopback"
    assert validation_settings.internal_token() == settings_from(environment(intake), monkeypatch).internal_token()


def test_notifier_mails_the_compose_smtp_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    _, notifier = compose_service_running("notifier")
    settings = settings_from(environment(notifier), monkeypatch)
    sink = services().get(settings.smtp_host or "")
    assert sink is not None, f"notifier mails {settings.smtp_host}, which is no compose service"
    listen = command(sink)[command(sink).index("-l") + 1]
    assert host_port(listen) == ("0.0.0.0", settings.smtp_port)
    assert notifier["depends_on"][settings.smtp_host]["condition"] == "service_healthy"


@pytest.mark.parametrize("package", [s.package for s in SERVICES if s.health_port_offset is not None])
def test_every_worker_service_scales(package: str) -> None:
    # `docker compose up --scale validation=2` fails on a fixed container name or a fixed host port.
    name, service = compose_service_running(package)
    assert "container_name" not in service, f"{name} has a container_name: it cannot run twice"
    assert not service.get("ports"), f"{name} publishes {service['ports']}: a second instance could not bind them"


def lock_pins(path: Path) -> dict[str, str]:
    return {canonical(m["name"]): m["version"]
            for m in re.finditer(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)",
                                 path.read_text(encoding="utf-8"), re.M)}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return canonical(match[0])


def test_runtime_lock_is_the_full_lock_without_the_dev_tools() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    full, runtime = lock_pins(REPO / "requirements.lock"), lock_pins(RUNTIME_LOCK)
    changed = {name: (version, full.get(name)) for name, version in runtime.items() if full.get(name) != version}
    assert not changed, f"{RUNTIME_LOCK.name} pins differ from requirements.lock (runtime, full): {changed}"
    missing = {requirement_name(r) for r in project["dependencies"]} - set(runtime)
    assert not missing, f"{RUNTIME_LOCK.name} lacks runtime dependencies {missing}"
    dev = {requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    assert {"pytest", "ruff", "mypy", "testcontainers", "schemathesis"} <= dev <= set(full)
    assert not dev & set(runtime), f"{RUNTIME_LOCK.name} holds dev tools {sorted(dev & set(runtime))}"


def test_image_installs_the_runtime_lock_only() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    installs = re.findall(r"pip install[^\n]*?-r\s+(\S+)", text)
    assert installs == [RUNTIME_LOCK.name], f"{DOCKERFILE} installs {installs}"
    assert "[dev]" not in text and "--extra" not in text


def test_demo_job_loads_the_demo_world_once_infrastructure_is_up() -> None:
    demo = services()["demo"]
    script = command(demo)[1:]
    assert command(demo)[0] == "python" and len(script) == 1
    copied = re.findall(r"^COPY\s+(\S+)\s+(\S+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert (str(DEMO_SCRIPT.relative_to(REPO)), script[0]) in copied, f"the image has no {script[0]}"
    assert demo.get("restart") == "no"
    kafka_name, _ = kafka_service()
    depends = demo["depends_on"]
    assert depends[kafka_name]["condition"] == depends["postgres"]["condition"] == "service_healthy"
    assert depends["topics"]["condition"] == "service_completed_successfully"
    assert environment(demo) == environment(compose_service_running("intake")[1])


def test_demo_script_loads_the_demo_world_and_prints_keys(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("pars_compose_demo", DEMO_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded: list[World] = []
    issued: list[tuple[str, str | None]] = []

    async def load_world(settings: Settings, world: World) -> None:
        loaded.append(world)

    async def issue_key(settings: Settings, role: str, provider_id: str | None = None) -> str:
        issued.append((role, provider_id))
        return f"key-{len(issued)}"

    monkeypatch.setattr(module.admin, "load_world", load_world)
    monkeypatch.setattr(module.admin, "issue_key", issue_key)
    monkeypatch.setattr(module, "get_settings", lambda: Settings(today=date(2026, 3, 2)))
    module.main()

    assert loaded == [demo_world(today=date(2026, 3, 2))]
    provider = loaded[0].providers[0]
    assert issued == [("provider", provider.id), ("operator", None)]
    assert capsys.readouterr().out.splitlines() == [f"provider {provider.id} ({provider.name}) key: key-1",
                                                    "operator key: key-2"]
