"""`pars tail`, `pars lag` and `pars dlq list|redrive|skip`: the operators' console from a terminal.

The same functions answer both (intake.ops): messages are redacted as the console shows them, and a dead letter
re-driven or skipped here is recorded in intake's schema like a click on the console, by `cli:<user>`.
"""

import asyncio
import getpass
import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from intake.ops import browse, dead_letter_actions, kafka_admin, messages
from shared.db import create_pool, migrate
from shared.service_registry import INTAKE, SERVICE_NAMES
from shared.settings import Settings, get_settings

HELP = {"help_option_names": ["-h", "--help"]}
dlq_app = typer.Typer(help="Dead letters: list them, re-drive them to their source topic, or skip them.",
                      no_args_is_help=True, context_settings=HELP)
err = Console(stderr=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AGO = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def register(app: typer.Typer) -> None:
    app.command("tail")(tail)
    app.command("lag")(lag)
    app.add_typer(dlq_app, name="dlq")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """ISO 8601 (UTC when no zone is given) or a span back from now: 30s, 15m, 2h, 1d."""
    ago = AGO.match(text.strip())
    if ago:
        return (now or datetime.now(UTC)) - timedelta(**{UNITS[ago[2]]: int(ago[1])})
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter("give a time (ISO 8601, e.g. 2026-01-05T09:00) or a span back from now "
                                 "(30s, 15m, 2h, 1d)", param_hint="--since") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def _topic(settings: Settings, topic: str) -> str:
    name = kafka_admin.logical(settings, topic)
    async with kafka_admin.admin_client(settings) as admin:
        existing = await admin.list_topics()
    if not name.startswith("pars.") or settings.topic(name) not in existing:
        known = ", ".join(kafka_admin.pipeline_topics(settings, existing))
        err.print(f"[red]no topic {topic!r} in this stack; its topics: {known}[/red]")
        raise typer.Exit(2)
    return settings.topic(name)


def _line(message: dict[str, Any]) -> str:
    value = message.get("value")
    shown = json.dumps(value, separators=(",", ":")) if value is not None else message.get("value_text", "")
    return (f"{message['timestamp'][:23]} {message['topic']}[{message['partition']}]@{message['offset']} "
            f"{message.get('event_type') or '-'} key={message['key'] or '-'} {shown}")


async def _tail(settings: Settings, topic: str, follow: bool, key: str | None, since: datetime | None, limit: int,
                as_json: bool, count: int | None) -> None:
    full = await _topic(settings, topic)
    filters = browse.Filters(key=key)
    if not follow:
        shown = (await browse.browse(settings, full, since=since, filters=filters, limit=limit))["messages"]
        print(json.dumps(shown, indent=1) if as_json else "\n".join(_line(m) for m in shown))
        return
    # Positioned at the end before the history is read: nothing published meanwhile is missed.
    async with aclosing(messages.follow(settings, full)) as arriving:
        await anext(arriving)
        for message in (await browse.browse(settings, full, since=since, filters=filters, limit=limit))["messages"]:
            print(json.dumps(message) if as_json else _line(message), flush=True)
        printed = 0
        async for batch in arriving:
            for record in batch:
                if not filters.matches(record):
                    continue
                message = messages.view(settings, record)
                print(json.dumps(message) if as_json else _line(message), flush=True)
                printed += 1
                if count is not None and printed >= count:
                    return


def tail(
    topic: Annotated[str, typer.Argument(help="A topic of the stack, e.g. pars.record-events (no namespace).")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing messages as they arrive.")] = False,
    key: Annotated[str | None, typer.Option(help="Only messages with this key (a record ID on record events).")]
    = None,
    since: Annotated[str | None, typer.Option(help="From this time on: ISO 8601 or a span back (15m, 2h, 1d).")]
    = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Messages shown before following.")] = 20,
    count: Annotated[int | None, typer.Option(min=1, help="With --follow: stop after this many new messages.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON: an array; with --follow one object per line.")]
    = False,
) -> None:
    """Show a topic's newest messages (or those since a time), personal fields redacted as on the console."""
    when = parse_since(since) if since else None
    with suppress(KeyboardInterrupt):  # Ctrl-C ends --follow
        asyncio.run(_tail(get_settings(), topic, follow, key, when, limit, as_json, count))


def lag(as_json: JSON = False) -> None:
    """Each consumer group's lag per topic and partition: committed offset against the end."""
    answer = asyncio.run(kafka_admin.lag(get_settings()))
    rows = [{"group": g["group"], "state": g["state"], "members": len(g["members"]), "topic": p["topic"],
             "partition": p["partition"], "committed": p["committed"], "end_offset": p["end_offset"], "lag": p["lag"]}
            for g in answer["groups"] for p in g["partitions"]]
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table("group", "state", "members", "topic", "partition", "committed", "end", "lag")
    for g in answer["groups"]:
        table.add_row(g["group"], g["state"], str(len(g["members"])), ", ".join(g["topics"]), "all", "", "",
                      f"[bold red]{g['lag']}[/bold red]" if g["lag"] else "0", end_section=not g["partitions"])
        for i, p in enumerate(g["partitions"]):
            table.add_row("", "", "", p["topic"], str(p["partition"]),
                          "-" if p["committed"] is None else str(p["committed"]), str(p["end_offset"]), str(p["lag"]),
                          end_section=i == len(g["partitions"]) - 1)
    Console().print(table)
    err.print(f"total lag {answer['total_lag']}")


@asynccontextmanager
async def _intake_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    schema = settings.schema(INTAKE.schema)
    pool = await create_pool(settings.database_url, schema, max_size=2)
    try:
        await migrate(pool, schema, INTAKE.package)  # the actions table, should intake not have run yet
        yield pool
    finally:
        await pool.close()


def _service(service: str | None) -> str | None:
    if service is not None and service not in SERVICE_NAMES:
        raise typer.BadParameter(f"one of {', '.join(SERVICE_NAMES)}", param_hint="--service")
    return service


SERVICE = Annotated[str | None, typer.Option(help="Only this service's dead letters (e.g. projector).")]


async def _letters(settings: Settings, service: str | None, limit: int) -> list[dict[str, Any]]:
    found = await messages.last_messages(settings, dead_letter_actions.dlq_topics(settings, service), limit)
    async with _intake_pool(settings) as pool:
        return await dead_letter_actions.actions_for(pool, [messages.dead_letter_view(settings, r) for r in found])


def letter_name(d: dict[str, Any]) -> str:
    return f"{d['topic']}/{d['partition']}/{d['offset']}"


@dlq_app.command("list")
def dlq_list(service: SERVICE = None, limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
             pending: Annotated[bool, typer.Option("--pending", help="Only those nobody re-drove or skipped.")]
             = False, as_json: JSON = False) -> None:
    """The newest dead letters: where they sit (what redrive and skip take), their service, error, source, and
    what was done with them."""
    letters = asyncio.run(_letters(get_settings(), _service(service), limit))
    letters = [d for d in letters if not (pending and d["action"])]
    if as_json:
        print(json.dumps([dict(d, letter=letter_name(d), action=d["action"] and _plain(d["action"]))
                          for d in letters], indent=1))
        return
    table = Table("letter", "service", "failed at", "source", "error", "done")
    for d in letters:
        source = d["source"]
        action = d["action"]
        table.add_row(letter_name(d), d["service"], (d["failed_at"] or d["timestamp"])[:19],
                      f"{source['topic']}[{source['partition']}]@{source['offset']}" if source["topic"] else "-",
                      (d["error"] or "")[:60],
                      f"{action['action']} by {action['operator']} {action['acted_at']:%Y-%m-%d %H:%M}" if action
                      else "pending")
    Console().print(table)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container's)
        return "cli"


def _address(letter: str) -> tuple[str, int, int]:
    topic, _, rest = letter.partition("/")
    partition, _, offset = rest.partition("/")
    if not (topic and partition.isdigit() and offset.isdigit()):
        raise typer.BadParameter("TOPIC/PARTITION/OFFSET, as `pars dlq list` shows it", param_hint="LETTER")
    return topic, int(partition), int(offset)


async def _act(settings: Settings, action: dead_letter_actions.Action, letters: list[str], every: bool,
               service: str | None, as_json: bool) -> int:
    producer = dead_letter_actions.new_producer(settings) if action == "redrive" else None
    if producer is not None:
        await producer.start()
    failed = 0
    try:
        async with _intake_pool(settings) as pool:
            if every:
                counts = await dead_letter_actions.act_on_all(pool, settings, producer, _who(), action, service)
                print(json.dumps(counts) if as_json else
                      f"{action}: {counts['done']} done, {counts['already']} already handled, "
                      f"{counts['refused']} refused (no source topic: skip those)")
                return 0
            for letter in letters:
                topic, partition, offset = _address(letter)
                try:
                    outcome = await dead_letter_actions.act(pool, settings, producer, _who(), action, topic,
                                                            partition, offset)
                except dead_letter_actions.DeadLetterRefused as exc:
                    err.print(f"[red]{letter}: {exc}[/red]")
                    failed += 1
                    continue
                row = _plain(outcome.row)
                if as_json:
                    print(json.dumps({"letter": letter, "done": outcome.done, "action": row}))
                elif outcome.done:
                    print(f"{letter}: {action}" + (f" -> {row['source_topic']} {row['redriven_to']}"
                                                   if row.get("redriven_to") else ""))
                else:
                    print(f"{letter}: already handled ({row['action']} by {row['operator']} at {row['acted_at']})")
    finally:
        if producer is not None:
            await producer.stop()
    return failed


LETTERS = Annotated[list[str] | None, typer.Argument(help="Dead letters as `pars dlq list` names them: "
                                                   "TOPIC/PARTITION/OFFSET.")]
ALL = Annotated[bool, typer.Option("--all", help="Every pending dead letter (of --service, or every service).")]


def _run(action: dead_letter_actions.Action, letters: list[str] | None, every: bool, service: str | None,
         as_json: bool) -> None:
    if bool(letters) == every:
        err.print("[red]name dead letters (TOPIC/PARTITION/OFFSET) or give --all, not both[/red]")
        raise typer.Exit(2)
    if asyncio.run(_act(get_settings(), action, letters or [], every, _service(service), as_json)):
        sys.exit(1)


@dlq_app.command("redrive")
def dlq_redrive(letters: LETTERS = None, every: ALL = False, service: SERVICE = None, as_json: JSON = False) -> None:
    """Send dead letters back to their source topic, once each (asked again, it says who handled it)."""
    _run("redrive", letters, every, service, as_json)


@dlq_app.command("skip")
def dlq_skip(letters: LETTERS = None, every: ALL = False, service: SERVICE = None, as_json: JSON = False) -> None:
    """Mark dead letters as dealt with, sending nothing."""
    _run("skip", letters, every, service, as_json)
