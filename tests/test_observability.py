"""deploy/observability/ holds to what the services expose, and /metrics shows what operators graph.

The Grafana dashboard may only query metrics the services register (read from prometheus_client's registry once
every service's app module is imported); the Prometheus configurations name every service at the port it answers
/metrics on. Then the metrics themselves: HTTP by route template, a consumer's counts, time, batch size and lag
against the real Kafka, the outbox backlog against the real PostgreSQL, the domain counts."""

import asyncio
import importlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client import REGISTRY

from shared import metrics
from shared.consumer import Delivery, subscribe_batches
from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, make_broker, row_publisher
from shared.outbox import Outbox, OutboxMessage, OutboxRelay, OutboxRow
from shared.service import add_health_routes
from shared.service_registry import SERVICES
from shared.settings import Settings
from shared.topics import TopicSpec

OBSERVABILITY = Path(__file__).resolve().parents[1] / "deploy" / "observability"
PROMETHEUS_OWN = {"up"}  # what Prometheus records of each target itself


def registered_samples() -> set[str]:
    """Every sample name the services can expose: each family's name with its type's suffixes."""
    for service in SERVICES:
        importlib.import_module(f"{service.package}.app")
    names: set[str] = set()
    for family in REGISTRY.collect():
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "summary": ("_sum", "_count", "_created")}.get(family.type, ("",))
        names |= {family.name + s for s in suffixes}
    return names


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_every_metric_the_dashboard_queries_is_one_a_service_registers() -> None:
    known = registered_samples()
    panels: dict[str, set[str]] = {}
    for title, expr in dashboard_expressions():
        without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
        names = set(re.findall(r"\b(pars_[a-z0-9_]+|up)\b(?!\s*\()", without_ranges))
        assert names, f"panel {title!r} queries no metric: {expr}"
        panels.setdefault(title, set()).update(names)
        unknown = names - known - PROMETHEUS_OWN
        assert not unknown, f"panel {title!r} queries metrics no service registers: {sorted(unknown)}"
    used = set().union(*panels.values())
    for wanted in ("pars_messages_consumed_total", "pars_messages_produced_total", "pars_handler_seconds_bucket",
                   "pars_batch_size_count", "pars_consumer_lag", "pars_outbox_backlog", "pars_rejection_codes_total",
                   "pars_board_verdicts_total", "pars_digests_total", "pars_http_requests_total",
                   "pars_http_request_seconds_bucket"):
        assert wanted in used, f"no panel graphs {wanted}"


def test_the_local_scrape_configuration_names_every_service_at_its_metrics_port() -> None:
    config = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["honor_labels"] is True
    scraped = {c["labels"]["service"]: c["targets"] for c in job["static_configs"]}
    defaults = Settings()
    assert scraped == {s.name: [f"127.0.0.1:{defaults.service_port(s.name)}"] for s in SERVICES}


def test_the_compose_scrape_configuration_finds_every_service_by_name() -> None:
    config = yaml.safe_load((OBSERVABILITY / "prometheus-compose.yml").read_text())
    [job] = config["scrape_configs"]
    defaults = Settings()
    found = {c["names"][0]: c["port"] for c in job["dns_sd_configs"]}
    assert found == {s.name: defaults.service_port(s.name) for s in SERVICES}


def test_the_kubernetes_scrape_configuration_keeps_annotated_pods_and_names_their_service() -> None:
    text = (OBSERVABILITY / "prometheus-kubernetes.yml").read_text()
    [job] = yaml.safe_load(text)["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    assert {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "action": "keep",
            "regex": "true"} in job["relabel_configs"]
    assert any(r.get("target_label") == "service" for r in job["relabel_configs"])
    for service in SERVICES:  # each service's port is written beside the annotations to give its pods
        assert f"{Settings().service_port(service.name)}" in text


# --- the metrics themselves --------------------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until(check: Callable[[], bool]) -> None:
    """Look again every 50 ms (the caller bounds the wait): a scrape reads metrics the same way, by looking."""
    for _ in itertools.count():
        if check():
            return
        await asyncio.sleep(0.05)


async def test_http_requests_are_counted_by_route_template_and_status() -> None:
    app = FastAPI()

    @app.get("/v1/records/{record_id}")
    async def record(record_id: str) -> dict[str, str]:
        if record_id == "gone":
            raise RuntimeError("a bug")
        return {"id": record_id}

    async def ready() -> bool:
        return True

    add_health_routes(app, "http-test", ready)
    app.add_middleware(metrics.HttpMetrics, service="http-test")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for record_id in ("rec-a1", "rec-b2", "rec-c3"):
            assert (await client.get(f"/v1/records/{record_id}")).status_code == 200
        assert (await client.get("/v1/records/gone")).status_code == 500
        assert (await client.get("/nowhere/42")).status_code == 404
        scraped = (await client.get("/metrics")).text
    route = {"service": "http-test", "method": "GET", "route": "/v1/records/{record_id}"}
    assert sample("pars_http_requests_total", **route, status="200") == 3
    assert sample("pars_http_requests_total", **route, status="500") == 1
    assert sample("pars_http_requests_total", service="http-test", method="GET", route=metrics.UNMATCHED,
                  status="404") == 1
    assert sample("pars_http_request_seconds_count", **route) == 4
    # No path, only templates (the ids are distinctive: the registry also holds other tests' random topic names).
    assert "rec-a1" not in scraped and "/nowhere/42" not in scraped
    assert 'route="/v1/records/{record_id}"' in scraped


def test_domain_counts_by_code_board_verdict_and_digest_outcome() -> None:
    metrics.serve_as("domain-test")
    try:
        target = SimpleNamespace(code="ABOHNS")
        error = SimpleNamespace(code="661")
        metrics.count_rejection_codes([
            SimpleNamespace(event_type="RecordRejectedByPars", errors=[SimpleNamespace(code="106"), error]),
            SimpleNamespace(event_type="RecordSubmitted")])
        metrics.count_board_verdicts([
            SimpleNamespace(event_type="BoardVerdict", board="ABA", accepted=True),
            SimpleNamespace(event_type="RecordRejected", target=target, response_id="r", errors=[error]),
            SimpleNamespace(event_type="RecordAccepted", target=target, response_id=None),  # PARS's own: no board
        ])
        metrics.count_digest(sent=True)
        metrics.count_digest(sent=False)
        metrics.count_digest(sent=True)
    finally:
        metrics.serve_as("unknown")
    assert sample("pars_rejection_codes_total", service="domain-test", code="106") == 1
    assert sample("pars_rejection_codes_total", service="domain-test", code="661") == 1
    assert sample("pars_board_verdicts_total", service="domain-test", board="ABA", verdict="accepted") == 1
    assert sample("pars_board_verdicts_total", service="domain-test", board="ABOHNS", verdict="rejected") == 1
    assert sample("pars_board_verdicts_total", service="domain-test", board="ABOHNS", verdict="accepted") == 0
    assert sample("pars_digests_total", service="domain-test", outcome="sent") == 2
    assert sample("pars_digests_total", service="domain-test", outcome="failed") == 1


@pytest.mark.integration
async def test_a_consumer_counts_its_batches_and_shows_its_lag(settings: Settings) -> None:
    """Five messages, a consumer taking one at a time and held on the first: its lag shows the four behind it; let
    go, the lag drains to 0 and the counts, times and batch sizes are there. The five were produced through
    row_publisher, which counts them."""
    await ensure_topics(settings, [TopicSpec("metrics-test", "k", (), (), partitions=1)])
    topic, group = settings.topic("metrics-test"), settings.group("metrics-test")
    service = f"metrics-{settings.namespace}"
    metrics.serve_as(service)
    go_on, handled = asyncio.Event(), asyncio.Event()
    seen: list[int] = []

    async def handle(batch: list[Delivery[dict[str, int]]]) -> None:
        seen.extend(d.message["n"] for d in batch)
        handled.set()
        await go_on.wait()

    def lag() -> float:
        return sample("pars_consumer_lag", service=service, group=group, topic=topic, partition="0")

    broker = make_broker(settings, "tester")
    subscribe_batches(broker, settings, service=service, topics=[topic], group=group, decode=json.loads,
                      handle=handle, max_records=1, linger_ms=0)
    await broker.start()
    try:
        await row_publisher(broker)([OutboxRow(n, topic, b"k", json.dumps({"n": n}).encode(), {}) for n in range(5)])
        assert sample("pars_messages_produced_total", service=service, topic=topic) == 5
        async with asyncio.timeout(20):
            await handled.wait()
            await until(lambda: lag() == 4)  # the high watermark comes with a fetch's answer, the position with a batch
            go_on.set()
            await until(lambda: len(seen) == 5 and lag() == 0)
    finally:
        go_on.set()
        await broker.stop()
        metrics.serve_as("unknown")
    assert seen == [0, 1, 2, 3, 4]
    assert sample("pars_messages_consumed_total", service=service, topic=topic) == 5
    assert sample("pars_handler_seconds_count", service=service, topic=topic) == 5
    assert sample("pars_batch_size_sum", service=service, topic=topic) == 5
    assert sample("pars_batch_size_bucket", service=service, topic=topic, le="1.0") == 5


@pytest.mark.integration
async def test_the_outbox_backlog_counts_due_and_scheduled_rows(settings: Settings) -> None:
    schema = settings.schema("metricsoutbox")
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "projector")
    metrics.serve_as("outbox-test")
    try:
        outbox = Outbox(schema)

        async def never(_: Any) -> None:
            raise AssertionError("the relay does not run here")

        relay = OutboxRelay(pool, outbox, never)
        later = datetime.now(UTC) + timedelta(hours=1)
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [OutboxMessage("t", b"due", b"k")] * 3, notify=False)
            await outbox.enqueue(conn, [OutboxMessage("t", b"later", b"k", not_before=later)] * 2, notify=False)
            await outbox.enqueue(conn, [OutboxMessage("t", b"its writer's", b"k")], notify=False, hand_over_after=60)
        await relay.measure_backlog()
    finally:
        metrics.serve_as("unknown")
        await pool.close()
    assert sample("pars_outbox_backlog", service="outbox-test", schema=schema) == 3
    assert sample("pars_outbox_scheduled", service="outbox-test", schema=schema) == 2  # the writer's row is neither
