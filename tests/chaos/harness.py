"""Rounds of ingest with kills at random moments: the client that sends, the kills, and what each round did.

A kill is due when the round has sent a drawn share of its records; the sender holds back at that point
until the kill happened, so every kill lands while records are in flight, however long restarts take.
What is killed is started again after a short random pause (no supervisor is relied on), and the round
goes on only once every service answers ready again.
"""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from pars_cli.stack import ServiceProcess, wait_ready
from shared.service_registry import SERVICE_NAMES
from tests.chaos.servers import ChaosServers
from tests.chaos.workload import Item, batch_content, completion
from tests.e2e.conftest import Stack

KINDS = ("services", "kafka", "postgres")  # rounds take these in turn
SENDERS = 4  # requests in flight at once
GIVE_UP_SECONDS = 300.0  # a request refused for this long, with everything back up, fails the suite


@dataclass
class Kill:
    target: str  # a service, "kafka" or "postgres"
    at_record: int  # due once the round has sent this many records
    pause: float  # seconds between the kill and the restart
    at_seconds: float | None = None  # when it happened, from the round's start
    back_after: float | None = None  # seconds from the kill until every service answered ready again

    def describe(self) -> str:
        if self.at_seconds is None:
            return f"{self.target} (not done)"
        return f"{self.target} {self.at_seconds:.0f}+{self.back_after:.0f}s"


@dataclass
class Round:
    number: int
    kind: str
    first: int  # its records are first .. first + records - 1
    records: int
    items: list[Item]
    kills: list[Kill]
    exited: list[str] = field(default_factory=list)  # services that died without being killed (restarted too)
    seconds: float = 0.0

    @property
    def acknowledged(self) -> int:
        return sum(len(i.indexes) for i in self.items if i.acknowledged)

    @property
    def refused(self) -> int:
        """Requests not answered 202 (5xx, 503, cut off, timed out): the client asked again."""
        return sum(i.attempts - 1 if i.acknowledged else i.attempts for i in self.items)


def plan_kills(kind: str, records: int, rng: random.Random) -> list[Kill]:
    def at() -> int:
        return max(1, int(records * rng.uniform(0.05, 0.9)))

    if kind == "services":
        kills = [Kill(s, at(), rng.uniform(0.2, 3.0)) for s in rng.sample(SERVICE_NAMES, len(SERVICE_NAMES))]
    else:
        assert kind in KINDS, f"no round kind {kind!r}: {', '.join(KINDS)}"
        kills = [Kill(kind, max(1, int(records * rng.uniform(0.15, 0.6))), rng.uniform(1.0, 5.0))]
    return sorted(kills, key=lambda k: k.at_record)


class Sender:
    """Sends a round's items, SENDERS at a time; a refused request is sent again (same credit ID, same
    Idempotency-Key), and a file whose upload was cut off is first looked for in the upload history."""

    def __init__(self, stack: Stack, keys: dict[str, str]) -> None:
        self.stack, self.keys = stack, keys
        self.sent = 0  # records of the current round handed to a sender
        self.hold_at: int | None = None  # no item starts once `sent` reached this (a kill is due first)
        self.changed = threading.Condition()

    def run(self, items: list[Item]) -> None:
        free = threading.BoundedSemaphore(SENDERS)

        def send(item: Item) -> None:
            try:
                self._send(item)
            except Exception as exc:  # kept on the item: the table shows it and the suite fails on it
                item.refused_for_good = f"{type(exc).__name__}: {exc}"
            finally:
                free.release()

        with ThreadPoolExecutor(SENDERS) as pool:
            for item in items:
                free.acquire()
                with self.changed:
                    self.changed.wait_for(lambda: self.hold_at is None or self.sent < self.hold_at)
                    self.sent += len(item.indexes)
                    self.changed.notify_all()
                pool.submit(send, item)

    def wait_sent(self, records: int) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.sent >= records)

    def hold(self, at: int | None) -> None:
        with self.changed:
            self.hold_at = at
            self.changed.notify_all()

    def _send(self, item: Item) -> None:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        with httpx.Client(base_url=self.stack.api, headers={"Authorization": f"Bearer {self.keys[item.provider]}"},
                          timeout=httpx.Timeout(15.0, read=120.0 if item.file else 15.0)) as api:
            while time.monotonic() < deadline:
                item.attempts += 1
                try:
                    answer = self._post(api, item)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 202:
                    body = answer.json()
                    item.ids = (body["batch_id"],) if item.file else tuple(r["record_id"] for r in body["records"])
                    item.acknowledged = True
                    return
                if answer is not None and answer.status_code < 500 and answer.status_code not in (408, 409, 429):
                    item.refused_for_good = f"{answer.status_code}: {answer.text[:300]}"
                    return
                if item.file and self._in_history(api, item, deadline):
                    return
                time.sleep(min(2.0, 0.25 * item.attempts))
        item.refused_for_good = f"still refused after {GIVE_UP_SECONDS:.0f} s and {item.attempts} attempts"

    def _post(self, api: httpx.Client, item: Item) -> httpx.Response:
        if item.file:
            name, kind = item.file
            return api.post("/v1/batches", files={"file": (name, batch_content(item.indexes, item.provider, kind))})
        [i] = item.indexes
        body = completion(i, item.provider)
        return api.post("/v1/completions", json=body, headers={"Idempotency-Key": body["credit_id"]})

    @staticmethod
    def _in_history(api: httpx.Client, item: Item, deadline: float) -> bool:
        """Whether an upload that got no answer was kept after all (asked again until intake answers)."""
        assert item.file is not None
        while time.monotonic() < deadline:
            try:
                answer = api.get("/v1/batches", params={"per_page": 500})
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 200:
                kept = [b for b in answer.json()["items"] if b["file_name"] == item.file[0] and b["status"] != "failed"]
                if kept:
                    item.ids, item.acknowledged, item.found_after_cut_off = (kept[0]["batch_id"],), True, True
                return bool(kept)
            time.sleep(0.5)
        return False


class Chaos:
    """Kills and brings back services, the broker and the database of one stack."""

    def __init__(self, stack: Stack, servers: ChaosServers, rng: random.Random) -> None:
        self.stack, self.servers, self.rng = stack, servers, rng

    def run_round(self, round_: Round, sender: Sender) -> None:
        began, failures = time.monotonic(), []

        def kills() -> None:
            try:
                for n, kill in enumerate(round_.kills):
                    sender.wait_sent(kill.at_record)
                    kill.at_seconds = time.monotonic() - began
                    self.take_down(kill)
                    # Records keep coming while it is down; the next kill waits until all is back.
                    sender.hold(round_.kills[n + 1].at_record if n + 1 < len(round_.kills) else None)
                    time.sleep(kill.pause)
                    self.bring_back(kill, round_)
                    kill.back_after = time.monotonic() - began - kill.at_seconds
            except BaseException as exc:
                failures.append(exc)
                sender.hold(None)  # the sender must not wait for a kill that will not come

        sender.sent = 0
        sender.hold(round_.kills[0].at_record if round_.kills else None)
        striker = threading.Thread(target=kills, name=f"chaos-round-{round_.number}")
        striker.start()
        try:
            sender.run(round_.items)
        finally:
            sender.hold(None)
            striker.join()
        if failures:
            raise failures[0]
        self.all_ready(round_)
        round_.seconds = time.monotonic() - began

    def take_down(self, kill: Kill) -> None:
        if kill.target == "kafka":
            self.servers.kill_kafka()
        elif kill.target == "postgres":
            self.servers.stop_postgres()
        else:
            process = self.stack.processes[kill.target]
            assert process.process is not None
            process.process.kill()  # SIGKILL: no clean-up, no commit, no drain
            process.wait(10)

    def bring_back(self, kill: Kill, round_: Round) -> None:
        if kill.target == "kafka":
            self.servers.start_kafka()
        elif kill.target == "postgres":
            self.servers.start_postgres()
        else:
            self.revive(self.stack.processes[kill.target])
        self.all_ready(round_)

    def all_ready(self, round_: Round) -> None:
        """Every service running and ready; one that died on its own is noted and started again."""
        for process in self.stack.processes.values():
            if not process.alive:
                round_.exited.append(process.service)
                self.revive(process)
        wait_ready(self.stack.settings, list(self.stack.processes.values()), timeout=180)

    def revive(self, process: ServiceProcess) -> None:
        for _ in range(10):  # a start can fail while the broker or the database is still coming back
            process.start()
            try:
                wait_ready(self.stack.settings, [process], timeout=90)
                return
            except (RuntimeError, TimeoutError):
                if process.alive and process.process is not None:
                    process.process.kill()
                process.wait(10)
                time.sleep(2)
        raise RuntimeError(f"{process.service} did not come back")

