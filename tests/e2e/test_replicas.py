"""`pars stack run --replicas 2`'s stack: two processes of every service, intake's two behind one port. A caller of
`?wait=true` is answered right whichever intake process took its request, and every record settles once."""

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pars_cli.stack import REPLICA_PORT_STRIDE, ServiceProcess, start_services, stop_services
from shared.service_registry import INTAKE, SERVICE_NAMES
from shared.settings import Settings
from tests.e2e.conftest import PARS, TODAY, Stack
from tests.e2e.test_walking_skeleton import WORLD, completion
from tests.support import free_port, free_port_block, unique_namespace

pytestmark = pytest.mark.e2e

REPLICAS = 2
CALLERS = 24  # completions, each on a connection of its own
UNKNOWN_ACTIVITY = "999999999"


@pytest.fixture
def replicated(servers: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    env = {**os.environ, **servers, "PARS_NAMESPACE": unique_namespace("rep"), "PARS_API_HOST": "127.0.0.1",
           "PARS_API_PORT": str(free_port()), "PARS_HEALTH_PORT_BASE": str(free_port_block(REPLICA_PORT_STRIDE * 2)),
           "PARS_BOARD_LATENCY_SCALE": "0", "PARS_SMTP_HOST": "127.0.0.1", "PARS_SMTP_PORT": str(free_port()),
           "PARS_LOG_LEVEL": "INFO", "PARS_TODAY": TODAY}
    env.pop("PARS_HEALTH_PORT", None)
    fields: dict[str, Any] = {k[5:].lower(): v for k, v in env.items()
                              if k.startswith("PARS_") and k[5:].lower() in Settings.model_fields}
    settings = Settings(_env_file=None, **fields)
    subprocess.run([PARS, "topics"], env=env, check=True, capture_output=True, timeout=120)
    processes = start_services(settings, env, tmp_path, replicas=REPLICAS)
    try:
        yield Stack(settings, env, {p.name: p for p in processes}, tmp_path)
    finally:
        codes = stop_services(processes)
    assert codes == dict.fromkeys((p.name for p in processes), 0)  # every process stopped cleanly


def completions_answered(process: ServiceProcess, settings: Settings) -> int:
    """POST /v1/completions answered 202 by this process, from its own /metrics (on its own port)."""
    text = httpx.get(f"{process.url(settings)}/metrics", timeout=10).text
    return int(sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                   if sample.name == "pars_http_requests_total" and sample.labels.get("method") == "POST"
                   and sample.labels.get("route") == "/v1/completions" and sample.labels.get("status") == "202"))


def test_two_of_each_answer_every_waiting_caller_and_settle_each_record_once(replicated: Stack) -> None:
    stack = replicated
    assert sorted(stack.processes) == sorted(
        name for service in SERVICE_NAMES for name in (service, f"{service}.2"))
    stack.load_world(WORLD)
    key = stack.pars("provider", "key", "0008001").stdout.strip()
    bodies = [completion(activity_id=UNKNOWN_ACTIVITY) if i % 4 == 3 else completion(credit_id=f"rep-{i}")
              for i in range(CALLERS)]
    # One client per caller, each its own connection: the kernel hands each new connection to whichever intake
    # process accepts first on the socket they share.
    clients = [stack.client(key) for _ in bodies]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda c, b: c.post("/v1/completions", params={"wait": "true"}, json=b),
                                    clients, bodies))
    finally:
        for client in clients:
            client.close()
    took = {p.name: completions_answered(p, stack.settings) for p in stack.processes.values()
            if p.service == INTAKE.name}
    assert all(n > 0 for n in took.values()) and sum(took.values()) == CALLERS, took

    kept: list[str] = []
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 202, answer.text
        [record] = answer.json()["records"]
        if body["activity_id"] == UNKNOWN_ACTIVITY:  # validation's answer, through whichever process waited
            assert record["status"] == "Rejected by PARS" and record["errors"], record
        else:
            assert (record["status"], record["errors"]) == ("Submitted", []), record
            kept.append(record["record_id"])

    with stack.client(key) as api:
        def all_settled() -> list[dict[str, Any]] | None:  # by the board: Accepted, or Rejected past its maximum
            rows = [api.get(f"/v1/records/{r}").json() for r in kept]
            return rows if all(row.get("status") in ("Accepted", "Rejected") for row in rows) else None
        rows = stack.wait_for(all_settled, timeout=45)
        # Once each: one submission and one verdict in each record's history, and no record twice in the list.
        verdicts = {"Accepted": "RecordAccepted", "Rejected": "RecordRejected"}
        assert all([h["event_type"] for h in row["history"]] == ["RecordSubmitted", verdicts[row["status"]]]
                   for row in rows), [[h["event_type"] for h in row["history"]] for row in rows]
        assert any(row["status"] == "Accepted" for row in rows)
        listed = api.get("/v1/records", params={"per_page": 100}).json()
        assert sorted(item["record_id"] for item in listed["items"]) == sorted(kept)
