"""Once the rounds are over and the pipeline is quiet: where every acknowledged record ended, each batch's
tallies against its rows, each rejection's e-mails, and the table of rounds and outcomes.

Kept records are read from the projection (the read model providers see); PARS rejections keep no record,
so they are read from `pars.record-events` itself. Every record is known by its learner (workload.index_of).
"""

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import RecordRejectedByPars, record_event_adapter
from shared.kafka import kafka_client_args
from shared.service_registry import SERVICE_NAMES
from shared.settings import Settings
from shared.topics import RECORD_EVENTS, dead_letters
from tests.chaos.harness import Round
from tests.chaos.workload import PROVIDERS, Fate, Item, fate, index_of, pars_code

FINAL = ("Accepted", "Rejected")


@dataclass
class Kept:
    record_id: UUID
    provider_id: str
    credit_id: str
    board: str
    status: str


@dataclass
class ParsRejection:
    record_id: UUID
    provider_id: str
    channel: str
    codes: list[str]


@dataclass
class FinalState:
    kept: dict[int, list[Kept]] = field(default_factory=lambda: defaultdict(list))
    rejected_by_pars: dict[int, list[ParsRejection]] = field(default_factory=lambda: defaultdict(list))
    same_credit_id: int = 0  # kept records sharing (provider, credit ID, target) with another
    dead_letters: int = 0


async def _read_all(settings: Settings, topics: list[str]) -> list[bytes]:
    """Every message of these topics, from the start to their end now (no group: every partition is this
    consumer's, and nothing is committed)."""
    consumer = AIOKafkaConsumer(*topics, **kafka_client_args(settings),
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while {tp.topic for tp in consumer.assignment()} != set(topics):  # noqa: ASYNC110 - no event for it
                await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(*partitions, timeout_ms=1000, max_records=5000)).values():
                values += [r.value for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]]
        return values
    finally:
        await consumer.stop()


async def final_state(settings: Settings) -> FinalState:
    state = FinalState()
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("SELECT record_id, provider_id, credit_id, board, learner_id, status"
                                f" FROM {settings.schema('projection')}.records WHERE NOT deleted")
    finally:
        await conn.close()
    for r in rows:
        if (i := index_of(r["learner_id"])) is not None:
            state.kept[i].append(Kept(r["record_id"], r["provider_id"], r["credit_id"], r["board"], r["status"]))
    by_credit_id = Counter((r["provider_id"], r["credit_id"], r["board"]) for r in rows)
    state.same_credit_id = sum(n - 1 for n in by_credit_id.values() if n > 1)
    for value in await _read_all(settings, [settings.topic(RECORD_EVENTS.name)]):
        event = record_event_adapter.validate_json(value)
        if isinstance(event, RecordRejectedByPars) and (i := index_of(event.record.learner_id)) is not None:
            rejections = state.rejected_by_pars[i]
            if all(r.record_id != event.record.record_id for r in rejections):  # a re-published event counts once
                rejections.append(ParsRejection(event.record.record_id, event.provider_id, event.record.channel,
                                                [e.code for e in event.errors]))
    state.dead_letters = len(await _read_all(settings, [settings.topic(dead_letters(s).name) for s in SERVICE_NAMES]))
    return state


def read_final_state(settings: Settings) -> FinalState:
    return asyncio.run(final_state(settings))


@dataclass
class Verdict:
    """What became of one acknowledged record."""

    settled: bool = False  # in one final status, the one its mistakes call for
    lost: bool = False  # neither kept nor rejected by PARS
    duplicated: bool = False
    unsettled: bool = False  # kept, but not in a final status
    wrong: str | None = None  # settled in another status than planned


def judge(i: int, item: Item, state: FinalState) -> Verdict:
    kept, pars = state.kept.get(i, []), state.rejected_by_pars.get(i, [])
    if not kept and not pars:
        return Verdict(lost=True)
    # A request sent again after a cut-off may have been kept the first time too: its second answer is then a
    # 603 (credit ID in use) for the same completion, which is the credit ID's uniqueness doing its work.
    echoes = [p for p in pars if p.codes == ["603"]] if item.attempts > 1 else []
    others = [p for p in pars if p not in echoes]
    if len(kept) > 1 or (kept and others) or len(others) > max(1, item.attempts):
        return Verdict(duplicated=True)
    if kept and kept[0].status not in FINAL:
        return Verdict(unsettled=True)
    planned = fate(i)
    if kept and planned is Fate.PARS_REJECTED:
        return Verdict(wrong=f"record {i} kept as {kept[0].status}, planned {planned} ({pars_code(i)})")
    if kept and kept[0].status != planned.value:
        return Verdict(wrong=f"record {i} {kept[0].status}, planned {planned}")
    if not kept and planned is not Fate.PARS_REJECTED:
        return Verdict(wrong=f"record {i} rejected by PARS {others[0].codes if others else '603'}, planned {planned}")
    if not kept and any(pars_code(i) not in p.codes for p in others):
        return Verdict(wrong=f"record {i} rejected by PARS {others[0].codes}, planned {pars_code(i)}")
    return Verdict(settled=True)


def unresolved(rounds: list[Round], state: FinalState) -> list[int]:
    """Acknowledged records with no final outcome yet (what the quiet wait waits for)."""
    return [i for r in rounds for item in r.items if item.acknowledged for i in item.indexes
            if (v := judge(i, item, state)).lost or v.unsettled]


def mailed_rejections(state: FinalState) -> set[str]:
    """The rejections a digest must carry: every board rejection, and PARS rejections of batch and web-service
    records for the provider that asked for them."""
    board = {str(k.record_id) for ks in state.kept.values() for k in ks if k.status == "Rejected"}
    pars = {str(p.record_id) for ps in state.rejected_by_pars.values() for p in ps
            if p.channel in ("batch", "ws") and p.provider_id == PROVIDERS[0]}
    return board | pars


def batch_tallies(api: str, keys: dict[str, str], rounds: list[Round]) -> dict[int, tuple[int, int, list[str]]]:
    """Per round: batches whose status and tallies match their rows, batches uploaded, and what was off.
    Every batch in the history is looked at, so a file kept twice shows as well as a wrong count."""
    planned = {item.file[0]: item for r in rounds for item in r.items if item.file}
    round_of = {item.file[0]: r.number for r in rounds for item in r.items if item.file}
    seen: Counter[str] = Counter()
    result: dict[int, tuple[int, int, list[str]]] = {r.number: (0, 0, []) for r in rounds}
    for provider, key in keys.items():
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            history = client.get("/v1/batches", params={"per_page": 500}).json()["items"]
        for batch in history:
            name = batch["file_name"]
            item, number = planned.get(name), round_of.get(name)
            if item is None or number is None:
                result[rounds[-1].number][2].append(f"unplanned batch {name}")
                continue
            seen[name] += 1
            rejected = sum(1 for i in item.indexes if fate(i) is Fate.PARS_REJECTED)
            want = ("complete", len(item.indexes), len(item.indexes) - rejected, rejected, provider)
            got = (batch["status"], batch["records"], batch["added"], batch["rejected"], item.provider)
            ok, total, problems = result[number]
            if got != want or seen[name] > 1:
                problems.append(f"{name}: {got[:4]} (want {want[:4]}){' kept twice' if seen[name] > 1 else ''}")
            result[number] = (ok + (got == want and seen[name] == 1), total + 1, problems)
    for name, item in planned.items():
        if item.acknowledged and not seen[name]:
            result[round_of[name]][2].append(f"{name}: acknowledged but not in the history")
    return result


@dataclass
class RoundOutcome:
    round: Round
    settled: int = 0
    lost: int = 0
    duplicated: int = 0
    unsettled: int = 0
    wrong: list[str] = field(default_factory=list)
    batches_ok: int = 0
    batches: int = 0
    batch_problems: list[str] = field(default_factory=list)
    mailed_once: int = 0
    to_mail: int = 0

    @property
    def clean(self) -> bool:
        r = self.round
        return (self.settled == r.acknowledged and not (self.lost or self.duplicated or self.unsettled or self.wrong)
                and self.batches_ok == self.batches and self.mailed_once == self.to_mail
                and not any(i.refused_for_good for i in r.items))


def outcomes(rounds: list[Round], state: FinalState, tallies: dict[int, tuple[int, int, list[str]]],
             mails_per_record: dict[str, int]) -> list[RoundOutcome]:
    to_mail = mailed_rejections(state)
    result = []
    for r in rounds:
        out = RoundOutcome(r)
        out.batches_ok, out.batches, out.batch_problems = tallies[r.number]
        for item in r.items:
            for i in item.indexes:
                ids = {str(k.record_id) for k in state.kept.get(i, [])} | {
                    str(p.record_id) for p in state.rejected_by_pars.get(i, [])}
                for record_id in ids & to_mail:
                    out.to_mail += 1
                    out.mailed_once += mails_per_record.get(record_id, 0) == 1
                if not item.acknowledged:
                    continue
                v = judge(i, item, state)
                out.settled += v.settled
                out.lost += v.lost
                out.duplicated += v.duplicated
                out.unsettled += v.unsettled
                out.wrong += [v.wrong] if v.wrong else []
        result.append(out)
    return result


def table(results: list[RoundOutcome], state: FinalState, mails: int, stray_mail: int) -> str:
    head = ("round", "killed (s into the round + s until all ready)", "sent", "202", "refused", "settled", "lost",
            "dup", "batches ok", "e-mails ok")
    rows: list[tuple[str, ...]] = [head]
    for o in results:
        r = o.round
        killed = ", ".join(k.describe() for k in r.kills) + (f"; exited: {', '.join(r.exited)}" if r.exited else "")
        rows.append((f"{r.number} {r.kind}", killed, str(r.records), str(r.acknowledged), str(r.refused),
                     str(o.settled), str(o.lost + o.unsettled), str(o.duplicated), f"{o.batches_ok}/{o.batches}",
                     f"{o.mailed_once}/{o.to_mail}"))
    total = [sum(int(row[c]) for row in rows[1:]) for c in range(2, 8)]
    rows.append(("all", f"{sum(o.round.seconds for o in results):.0f} s of rounds", *map(str, total),
                 f"{sum(o.batches_ok for o in results)}/{sum(o.batches for o in results)}",
                 f"{sum(o.mailed_once for o in results)}/{sum(o.to_mail for o in results)}"))
    widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) if c < 2 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths,
                                                                                                   strict=True)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    notes = [f"e-mails: {mails} digests (by Message-ID), {stray_mail} links to records no digest should carry;"
             f" dead letters: {state.dead_letters};"
             f" kept records sharing a credit ID and target: {state.same_credit_id}"]
    for o in results:
        notes += [f"round {o.round.number}: {p}" for p in o.batch_problems + o.wrong[:10]]
        notes += [f"round {o.round.number}: refused for good: {i.refused_for_good}" for i in o.round.items
                  if i.refused_for_good]
        cut_off = sum(1 for i in o.round.items if i.found_after_cut_off)
        if cut_off:
            notes.append(f"round {o.round.number}: {cut_off} upload(s) cut off before their 202 were found kept"
                         " in the upload history (counted as acknowledged)")
    return "\n".join(lines + notes)
