"""The `pars` command: world files, API keys, and (later) uploads, tails and replays."""

import asyncio
import importlib.metadata
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pars_cli import admin, ops
from pars_cli.generate import generate_world
from pars_cli.output import to_json
from shared.logging import configure_logging
from shared.settings import get_settings

# -h as well as --help everywhere: each sub-app takes this from its own Typer, not from its parent's.
HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(help="PARS learner reporting: operator and provider tools.", no_args_is_help=True,
                  context_settings=HELP)
world_app = typer.Typer(help="Reference data: providers, boards, activities, physicians.", no_args_is_help=True,
                        context_settings=HELP)
provider_app = typer.Typer(help="Provider accounts.", no_args_is_help=True, context_settings=HELP)
operator_app = typer.Typer(help="Operator accounts.", no_args_is_help=True, context_settings=HELP)
app.add_typer(world_app, name="world")
app.add_typer(provider_app, name="provider")
app.add_typer(operator_app, name="operator")
replay_app = typer.Typer(help="Re-apply what a topic holds.", no_args_is_help=True, context_settings=HELP)
app.add_typer(replay_app, name="replay")
projection_app = typer.Typer(help="The record projection providers read.", no_args_is_help=True, context_settings=HELP)
app.add_typer(projection_app, name="projection")
mail_app = typer.Typer(help="The rejection digests e-mailed to providers.", no_args_is_help=True, context_settings=HELP)
app.add_typer(mail_app, name="mail")
stack_app = typer.Typer(help="The whole stack on this machine.", no_args_is_help=True, context_settings=HELP)
app.add_typer(stack_app, name="stack")
keys_app = typer.Typer(help="API keys issued: list them, revoke one.", no_args_is_help=True, context_settings=HELP)
app.add_typer(keys_app, name="keys")
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(importlib.metadata.version("pars-pipeline"))
        raise typer.Exit()


@app.callback()
def _logging(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    # stdout carries only what a command answers (a key, a file name); logs go to stderr.
    settings = get_settings()
    configure_logging("cli", "WARNING" if settings.log_level.upper() == "INFO" else settings.log_level,
                      "console", stream=sys.stderr)


@world_app.command("load")
def world_load(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Load a world file into every service that needs it (adds and updates; never removes)."""
    from shared.world import World

    try:
        world = World.read(file)
    except ValueError as exc:
        err.print(f"[red]{file}: not a valid world file[/red]\n{exc}")
        raise typer.Exit(2) from exc
    asyncio.run(admin.load_world(get_settings(), world))
    err.print(f"loaded {file}: {len(world.providers)} providers, {len(world.boards)} boards, "
              f"{len(world.activities)} activities, {len(world.physicians)} physicians")


@world_app.command("generate")
def world_generate(
    providers: Annotated[int, typer.Option(min=1)] = 3,
    activities: Annotated[int, typer.Option(min=1)] = 12,
    physicians: Annotated[int, typer.Option(min=1)] = 300,
    seed: int = 1,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("world.json"),
) -> None:
    """Write a generated world file; the same seed always writes the same file."""
    world = generate_world(providers=providers, activities=activities, physicians=physicians, seed=seed)
    output.write_text(world.model_dump_json(indent=1, exclude_none=True), encoding="utf-8")
    err.print(f"wrote {output}")


@provider_app.command("key")
def provider_key(
    provider_id: str,
    web_service: Annotated[bool, typer.Option("--web-service", help="A key for /v1/ws only (a learning "
                                              "management system's credential), not for interactive use.")] = False,
    sandbox: Annotated[bool, typer.Option(help="With --web-service: records are validated and answered, "
                                          "never kept or sent to a board.")] = False,
) -> None:
    """Print a new API key for a provider (shown once; only its hash is kept)."""
    if sandbox and not web_service:
        err.print("[red]--sandbox is for web-service keys: add --web-service[/red]")
        raise typer.Exit(2)
    try:
        key = asyncio.run(admin.issue_key(get_settings(), "webservice" if web_service else "provider", provider_id,
                                          sandbox=sandbox))
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print(key)


@operator_app.command("key")
def operator_key() -> None:
    """Print a new operator API key (shown once)."""
    print(asyncio.run(admin.issue_key(get_settings(), "operator")))


@app.command("upload")
def upload_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    provider: Annotated[str | None, typer.Option("--provider", help="The provider (7-digit ID) the file reports "
                                                 "for; not needed with --key, which says whose it is.")] = None,
    key: Annotated[str | None, typer.Option(envvar="PARS_API_KEY", help="The provider's API key; without it a "
                                            "one-time key is issued for --provider and revoked after.")] = None,
    api: Annotated[str | None, typer.Option(help="The API's base URL (default: PARS_API_HOST:PARS_API_PORT).")]
    = None,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Where the rejection file goes (default: "
                                                 "beside FILE).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to follow the batch before giving up.")] = 600.0,
) -> None:
    """Upload a batch file (.xlsx, tab-delimited .txt, Activity Report .xml), follow it, save its rejections."""
    from pars_cli.upload import UploadFailed, upload

    if key is None and provider is None:
        # intake learns the provider from the key itself; only a one-time key needs to be told whose it is.
        err.print("[red]give --key (or PARS_API_KEY), or --provider to upload with a one-time key[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    base = api or f"http://{settings.api_host}:{settings.api_port}"
    temporary = key is None
    try:
        key = key or asyncio.run(admin.issue_key(settings, "provider", provider))
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    try:
        result = upload(base, key, file, out_dir or file.parent, err, timeout)
    except (UploadFailed, OSError) as exc:
        err.print(f"[red]{file.name}: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        if temporary:
            asyncio.run(admin.revoke_key(settings, key))
    batch = result.batch
    err.print(f"{file.name}: {batch['records']} records, {batch['added']} added, {batch['rejected']} rejected "
              f"(batch {batch['batch_id']})")
    if result.rejections_file:
        err.print(f"rejections saved to {result.rejections_file}")
        print(result.rejections_file)


@app.command("topics")
def topics() -> None:
    """Create every topic of the registry that does not exist yet."""
    created = asyncio.run(admin.create_topics(get_settings()))
    err.print(f"{len(created)} topics created")


@app.command("setup")
def setup() -> None:
    """Create the topics and migrate every service's schema: a deployment's one-shot set-up (the chart's Job)."""
    settings = get_settings()
    created = asyncio.run(admin.create_topics(settings))
    err.print(f"{len(created)} topics created")
    for schema in asyncio.run(admin.migrate_schemas(settings)):
        err.print(f"schema {schema} migrated")


@replay_app.command("board-responses")
def replay_board_responses(
    since: Annotated[datetime, typer.Option(help="Re-read verdicts from this time on (ISO 8601, UTC if no zone).")],
) -> None:
    """Re-apply the boards' verdicts since a time; what already holds does not change."""
    from board_router.replay import replay_board_responses as replay

    when = since if since.tzinfo else since.replace(tzinfo=UTC)
    count = asyncio.run(replay(get_settings(), when))
    err.print(f"replayed {count} board responses since {when.isoformat()}")


@projection_app.command("rebuild")
def projection_rebuild() -> None:
    """Rebuild every projection table from the start of pars.record-events, then swap it in (reads go on)."""
    from projector.rebuild import rebuild

    report = asyncio.run(rebuild(get_settings()))
    err.print(f"projection rebuilt: generation {report.generation}, {report.events} events applied, "
              f"{report.records} records")


JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@keys_app.command("list")
def keys_list(as_json: JSON = False) -> None:
    """Show every API key issued: its ID, role, provider, when created and revoked (never the key itself)."""
    from rich.table import Table

    rows = asyncio.run(admin.keys(get_settings()))
    if as_json:
        print(to_json(rows))
        return
    table = Table("key id", "role", "provider", "sandbox", "created (UTC)", "revoked (UTC)")
    for r in rows:
        table.add_row(r["key_id"], r["role"], r["provider_id"] or "-", "yes" if r["sandbox"] else "",
                      f"{r['created_at']:%Y-%m-%d %H:%M:%S}",
                      f"{r['revoked_at']:%Y-%m-%d %H:%M:%S}" if r["revoked_at"] else "-")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's ID as `pars keys list` shows it (the part "
                                                      "after pars_), or the whole key.")]) -> None:
    """Revoke a key: intake refuses it within seconds (each process trusts a key it checked for a short while)."""
    parts = key_id.split("_", 2)
    key_id = parts[1] if len(parts) == 3 and parts[0] == "pars" else key_id
    if not asyncio.run(admin.revoke_key_by_id(get_settings(), key_id)):
        err.print(f"[red]no key {key_id} that is not revoked already[/red]")
        raise typer.Exit(1)
    err.print(f"revoked {key_id}")


@mail_app.command("list")
def mail_list(limit: Annotated[int, typer.Option(min=1)] = 50, as_json: JSON = False) -> None:
    """Show the newest digests: window, provider, status, how many rejections, when sent."""
    from rich.table import Table

    from notifier.digests import message_id

    rows = asyncio.run(admin.sent_mail(get_settings(), limit))
    if as_json:
        print(to_json({**r, "message_id": message_id(r["digest_id"])} for r in rows))
        return
    table = Table("window (UTC)", "provider", "to", "status", "rejections", "attempts", "sent at", "message id")
    for r in rows:
        status = r["status"] if not r["last_error"] else f"{r['status']} ({r['last_error'][:40]})"
        table.add_row(f"{r['window_start']:%Y-%m-%d %H:%M:%S}", r["provider_id"], r["email"], status,
                      str(r["rejections"]), str(r["attempts"]),
                      f"{r['sent_at']:%Y-%m-%d %H:%M:%S}" if r["sent_at"] else "-",
                      message_id(r["digest_id"]))
    Console().print(table)


@stack_app.command("run")
def stack_run(demo: Annotated[bool, typer.Option(help="Load the demo world and print a demo key.")] = True,
              brokers: Annotated[int, typer.Option(
                  min=1, max=3, help="3: a local three-node Kafka cluster (.local/cluster, ports 29092-29097; "
                  "topics with three replicas, two in sync) instead of the single broker.")] = 1,
              replicas: Annotated[int, typer.Option(
                  min=1, max=8, help="N processes of every service: the workers share their partitions, intake's "
                  "accept on the one API port.")] = 1) -> None:
    """Start servers (unless PARS_* point elsewhere), topics, demo world, SMTP sink and every service."""
    from pars_cli.stack import run_stack

    if brokers == 2:
        raise typer.BadParameter("1 (one broker) or 3 (a cluster that survives losing a node)", param_hint="--brokers")
    run_stack(get_settings(), load_demo=demo, brokers=brokers, replicas=replicas)


ops.register(app)  # tail, lag, dlq: the console's views and actions (pars_cli/ops.py)

if __name__ == "__main__":
    app()
