"""The Helm chart (deploy/helm/pars) agrees with the code: services, ports, probes, settings, secrets, groups.

helm comes from deploy/local/helm.sh (built once from its Go module into .local/bin). Every test here renders the
chart with `helm template` and reads the manifests as YAML; nothing needs a Kubernetes cluster. The last test runs
the set-up Job's own command against the test session's Kafka and PostgreSQL.
"""

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

import asyncpg
import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from shared.service_registry import BY_NAME, SERVICE_NAMES, SERVICES
from shared.settings import Settings
from shared.topics import GROUPS, all_topics

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "deploy" / "helm" / "pars"
EXAMPLES = CHART / "examples"
OPERATOR_VALUES = EXAMPLES / "values-operators.yaml"
HELM_SCRIPT = REPO / "deploy" / "local" / "helm.sh"
RELEASE = "pars"

# The first run builds helm from source (minutes, cold); the rest of the module takes seconds.
pytestmark = pytest.mark.timeout(1800)

# Settings without which no service works on a cluster: the servers, where each process listens (beyond its
# pod's loopback), where intake finds validation, and the token validation's internal routes want.
REQUIRED_ON_A_CLUSTER = {
    "kafka_bootstrap_servers", "database_url", "api_host", "api_port", "health_host", "health_port_base",
    "validation_url", "service_token",
}
# Settings with no use on a cluster, so with no chart value: several processes of one service on one host.
NOT_FOR_A_CLUSTER = {"health_port", "api_fd"}


def _is_secret(field: FieldInfo) -> bool:
    return field.repr is False or SecretStr in (field.annotation, *get_args(field.annotation))


# The settings that are secrets: Settings keeps them out of its repr, or holds them as SecretStr.
SECRET_FIELDS = {name for name, field in Settings.model_fields.items() if _is_secret(field)}

# Renders of the chart: plain values, the operators' example, and every optional part switched on.
ALL_ON = ["--set", "autoscaling.enabled=true", "--set", "ingress.enabled=true"]
RENDERS: dict[str, list[str]] = {
    "plain": [],
    "operators": ["-f", str(OPERATOR_VALUES)],
    "all-on": ALL_ON,
}


@pytest.fixture(scope="module")
def helm() -> str:
    """helm's path, built by the project's own script when missing."""
    done = subprocess.run(["bash", str(HELM_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{HELM_SCRIPT.relative_to(REPO)} could not provide helm:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1]


def run_helm(helm: str, *args: str) -> str:
    done = subprocess.run([helm, *args], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@cache
def _render(helm: str, which: str) -> tuple[dict[str, Any], ...]:
    out = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", "pars", *RENDERS[which])
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


@pytest.fixture(scope="module", params=sorted(RENDERS))
def manifests(request: pytest.FixtureRequest, helm: str) -> tuple[dict[str, Any], ...]:
    return _render(helm, request.param)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def by_component(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for doc in of_kind(docs, kind):
        component = doc["metadata"]["labels"].get("app.kubernetes.io/component")
        assert component not in found, f"two {kind}s for {component}"
        found[component] = doc
    return found


def named(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"want one {kind} {name}, got {len(found)}"
    return found[0]


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return loaded


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: want one container"
    found: dict[str, Any] = containers[0]
    return found


def environment(docs: tuple[dict[str, Any], ...], workload: dict[str, Any]) -> dict[str, Any]:
    """A container's environment as Kubernetes builds it: envFrom's ConfigMaps and Secrets (decoded), then env
    (a value, or {"secretKeyRef": ...} for one taken from a Secret the chart does not make)."""
    env: dict[str, Any] = {}
    spec = container(workload)
    for source in spec.get("envFrom", []):
        if "configMapRef" in source:
            env.update(named(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            data = named(docs, "Secret", source["secretRef"]["name"]).get("data") or {}
            env.update({k: base64.b64decode(v).decode() for k, v in data.items()})
    for item in spec.get("env", []):
        env[item["name"]] = item["value"] if "value" in item else item["valueFrom"]
    return env


def settings_of(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as a process with this environment reads them (values from Secrets the chart does not make are
    stand-ins)."""
    for key in list(os.environ):
        if key.upper().startswith("PARS_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value if isinstance(value, str) else "postgresql://stand-in@db/pars")
    return Settings(_env_file=None)


def test_helm_lints_the_chart_with_each_values_file(helm: str) -> None:
    for which, args in RENDERS.items():
        out = run_helm(helm, "lint", "--strict", str(CHART), *args)
        assert "0 chart(s) failed" in out, f"{which}: {out}"


def test_every_service_has_a_deployment_running_its_module(manifests: tuple[dict[str, Any], ...]) -> None:
    deployments = by_component(manifests, "Deployment")
    assert sorted(deployments) == sorted(SERVICE_NAMES)
    for name, deployment in deployments.items():
        assert container(deployment)["command"] == ["python", "-m", BY_NAME[name].package], name
        pod = deployment["spec"]["template"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), name


def test_chart_values_mirror_the_registry_and_the_groups() -> None:
    services = values()["services"]
    assert sorted(services) == sorted(SERVICE_NAMES)
    for service in SERVICES:
        given = services[service.name]
        assert given["module"] == service.package, service.name
        assert given["healthPortOffset"] == service.health_port_offset, service.name
        assert sorted(given["consumerGroups"]) == sorted(g.name for g in GROUPS if g.service == service.name)


def test_probes_answer_on_each_services_port(manifests: tuple[dict[str, Any], ...],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name, deployment in by_component(manifests, "Deployment").items():
        settings = settings_of(environment(manifests, deployment), monkeypatch)
        spec = container(deployment)
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        assert settings.health_port is None, "one pod per port: no PARS_HEALTH_PORT"
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
            check = spec[probe]["httpGet"]
            assert check["path"] == path, f"{name} {probe}"
            assert ports[check["port"]] == settings.service_port(name), f"{name} {probe} on the wrong port"
        assert settings.api_host == settings.health_host == "0.0.0.0", f"{name} must listen beyond its pod"
        scrape = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(scrape["prometheus.io/port"]) == settings.service_port(name), f"{name}: /metrics elsewhere"


def test_graceful_termination(manifests: tuple[dict[str, Any], ...]) -> None:
    for name, deployment in by_component(manifests, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        sleep = container(deployment).get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        pre_stop = int(sleep[-1]) if sleep else 0
        # uvicorn gives in-flight requests 25 s (shared/service.py), then the relays drain.
        assert pod["terminationGracePeriodSeconds"] >= 30 + pre_stop, name
    intake = by_component(manifests, "Deployment")["intake"]
    assert container(intake)["lifecycle"]["preStop"], "intake must keep serving while its endpoints drop it"


def test_every_setting_has_a_chart_value() -> None:
    given = values()
    chart_keys = set(given["settings"]) | set(given["secrets"])
    missing = sorted(set(Settings.model_fields) - chart_keys - NOT_FOR_A_CLUSTER)
    assert not missing, f"settings of shared/settings.py with no value in the chart's values.yaml: {missing}"
    unknown = sorted(chart_keys - (set(Settings.model_fields) - NOT_FOR_A_CLUSTER))
    assert not unknown, f"chart values that are no setting of shared/settings.py: {unknown}"
    assert not SECRET_FIELDS & set(given["settings"]), "a secret under settings would land in the ConfigMap"
    assert set(given["secrets"]) >= SECRET_FIELDS


def test_every_process_gets_the_settings_it_needs(manifests: tuple[dict[str, Any], ...],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    given = {k: v for k, v in (values()["settings"] | values()["secrets"]).items() if v not in (None, "")}
    workloads = [*of_kind(manifests, "Deployment"), *of_kind(manifests, "Job")]
    for workload in workloads:
        env = environment(manifests, workload)
        name = workload["metadata"]["name"]
        expected = (REQUIRED_ON_A_CLUSTER | set(given)) - ({"service_token"} if workload["kind"] == "Job" else set())
        missing = sorted(f"PARS_{k.upper()}" for k in expected if f"PARS_{k.upper()}" not in env)
        assert not missing, f"{name} lacks {missing}"
        settings_of(env, monkeypatch)  # every value parses as its setting


def test_secrets_are_in_secrets_never_in_a_configmap(manifests: tuple[dict[str, Any], ...]) -> None:
    secret_env = {f"PARS_{k.upper()}" for k in SECRET_FIELDS}
    for config in of_kind(manifests, "ConfigMap"):
        leaked = sorted(secret_env & set(config["data"]))
        assert not leaked, f"ConfigMap {config['metadata']['name']} holds secrets: {leaked}"
    for workload in [*of_kind(manifests, "Deployment"), *of_kind(manifests, "Job")]:
        for item in container(workload).get("env", []):
            if item["name"] in secret_env:
                assert "secretKeyRef" in item.get("valueFrom", {}), f"{item['name']} given in plain text"


def test_the_secret_holds_the_database_url_and_the_service_token(helm: str) -> None:
    docs = _render(helm, "plain")
    data = named(docs, "Secret", f"{RELEASE}-secrets")["data"]
    assert base64.b64decode(data["PARS_DATABASE_URL"]).decode() == values()["secrets"]["database_url"]
    assert len(base64.b64decode(data["PARS_SERVICE_TOKEN"])) >= 32, "a generated service token"
    # The operators' example takes the database URL from CloudNativePG's Secret instead.
    docs = _render(helm, "operators")
    assert "PARS_DATABASE_URL" not in (named(docs, "Secret", f"{RELEASE}-secrets").get("data") or {})
    for deployment in of_kind(docs, "Deployment"):
        assert "secretKeyRef" in environment(docs, deployment)["PARS_DATABASE_URL"]


def test_intake_reaches_validation_through_its_service(manifests: tuple[dict[str, Any], ...],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    intake = by_component(manifests, "Deployment")["intake"]
    url = settings_of(environment(manifests, intake), monkeypatch).validation_base_url()
    services = by_component(manifests, "Service")
    validation = services["validation"]
    port = validation["spec"]["ports"][0]
    assert url == f"http://{validation['metadata']['name']}:{port['port']}"
    deployment = by_component(manifests, "Deployment")["validation"]
    assert validation["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert port["targetPort"] in {p["name"] for p in container(deployment)["ports"]}
    assert services["intake"]["spec"]["ports"][0]["targetPort"] == "http"


def test_every_service_has_a_disruption_budget(manifests: tuple[dict[str, Any], ...]) -> None:
    budgets = by_component(manifests, "PodDisruptionBudget")
    deployments = by_component(manifests, "Deployment")
    assert sorted(budgets) == sorted(deployments)
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert "maxUnavailable" in budget["spec"] or "minAvailable" in budget["spec"], name


def test_the_setup_job_runs_before_install_and_upgrade(manifests: tuple[dict[str, Any], ...]) -> None:
    jobs = of_kind(manifests, "Job")
    assert len(jobs) == 1
    job = jobs[0]
    hooks = job["metadata"]["annotations"]
    assert set(hooks["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    # What it reads exists before it: hooks of the same phases with a lower weight.
    for source in container(job)["envFrom"]:
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        made = named(manifests, kind, ref["name"])["metadata"]["annotations"]
        assert made["helm.sh/hook"] == hooks["helm.sh/hook"]
        assert int(made["helm.sh/hook-weight"]) < int(hooks["helm.sh/hook-weight"])
    assert container(job)["command"] == ["pars", "setup"]  # the topics, then every schema (run below, for real)


def test_consumers_scale_on_their_groups_lag(helm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for which in ("all-on", "operators"):
        docs = _render(helm, which)
        scaled = by_component(docs, "ScaledObject")
        chart_values = values()["services"]
        assert sorted(scaled) == sorted(n for n, s in chart_values.items() if s["autoscaling"]["enabled"]), which
        deployments = by_component(docs, "Deployment")
        for name, scaler in scaled.items():
            settings = settings_of(environment(docs, deployments[name]), monkeypatch)
            spec = scaler["spec"]
            assert spec["scaleTargetRef"]["name"] == deployments[name]["metadata"]["name"]
            assert "replicas" not in deployments[name]["spec"], f"{name}: KEDA owns the replica count"
            assert spec["minReplicaCount"] >= 1, f"{name}: its outbox relays need a running process"
            groups = {t["metadata"]["consumerGroup"] for t in spec["triggers"] if t["type"] == "kafka"}
            assert groups == {settings.group(g.name) for g in GROUPS if g.service == name}, name
            for trigger in spec["triggers"]:
                assert trigger["metadata"]["bootstrapServers"] == settings.kafka_bootstrap_servers


def test_the_ingress_leads_to_intake(helm: str) -> None:
    docs = _render(helm, "all-on")
    ingress = of_kind(docs, "Ingress")
    assert len(ingress) == 1
    backend = ingress[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": by_component(docs, "Service")["intake"]["metadata"]["name"], "port": {"name": "http"}}


def test_the_operator_examples_are_the_ones_the_values_point_at(helm: str) -> None:
    kafka = list(yaml.safe_load_all((EXAMPLES / "strimzi-kafka.yaml").read_text(encoding="utf-8")))
    postgres = list(yaml.safe_load_all((EXAMPLES / "cloudnativepg-cluster.yaml").read_text(encoding="utf-8")))
    cluster = next(d for d in kafka if d["kind"] == "Kafka")
    pools = [d["spec"] for d in kafka if d["kind"] == "KafkaNodePool"]
    user = next(d for d in kafka if d["kind"] == "KafkaUser")
    for role in ("broker", "controller"):
        assert sum(p["replicas"] for p in pools if role in p["roles"]) == 3, f"three {role}s"
    assert cluster["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    listener = cluster["spec"]["kafka"]["listeners"][0]
    assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512"
    db = postgres[0]
    assert db["kind"] == "Cluster" and db["spec"]["instances"] == 3

    operator_values = yaml.safe_load(OPERATOR_VALUES.read_text(encoding="utf-8"))
    bootstrap = operator_values["settings"]["kafka_bootstrap_servers"]
    assert bootstrap == f"{cluster['metadata']['name']}-kafka-bootstrap:{listener['port']}"
    refs = operator_values["secretRefs"]
    assert refs["database_url"]["name"] == f"{db['metadata']['name']}-app"
    assert user["metadata"]["name"] in {ref["name"] for ref in refs.values()}, "the KafkaUser's password"
    mounted = {c["secretName"] for c in operator_values["certificates"]}
    assert f"{cluster['metadata']['name']}-cluster-ca-cert" in mounted
    assert f"{db['metadata']['name']}-ca" in mounted


@pytest.fixture
def job_env(helm: str, settings: Settings) -> Iterator[dict[str, str]]:
    """The set-up Job's environment from the plain render, pointed at the test session's servers."""
    docs = _render(helm, "plain")
    env = {k: v for k, v in environment(docs, of_kind(docs, "Job")[0]).items() if isinstance(v, str)}
    env |= {"PARS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PARS_DATABASE_URL": settings.database_url, "PARS_NAMESPACE": settings.namespace,
            # The session's Kafka may be one broker, where the chart's three copies (two in sync) cannot be placed.
            "PARS_KAFKA_REPLICATION_FACTOR": "1"}
    env.pop("PARS_KAFKA_MIN_INSYNC_REPLICAS", None)
    yield {k: v for k, v in os.environ.items() if not k.startswith("PARS_")} | env


@pytest.mark.integration
async def test_the_setup_job_creates_the_topics_and_migrates_every_schema(
        helm: str, settings: Settings, job_env: dict[str, str]) -> None:
    docs = _render(helm, "plain")
    command = container(of_kind(docs, "Job")[0])["command"]
    assert command == ["pars", "setup"]
    pars = str(Path(sys.executable).parent / "pars")  # the image's `pars`, as this checkout installed it
    done = await asyncio.to_thread(subprocess.run, [pars, *command[1:]], env=job_env,
                                   capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    wanted = {settings.topic(t.name) for t in all_topics([]) if not t.name.startswith("pars.board.")}
    assert wanted <= topics, sorted(wanted - topics)
    conn = await asyncpg.connect(settings.database_url)
    try:
        migrated = {r["table_schema"] for r in await conn.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'schema_migrations'"
            " AND table_schema LIKE $1", f"{settings.namespace}_%")}
    finally:
        await conn.close()
    assert migrated == {settings.schema(s.schema) for s in SERVICES}
