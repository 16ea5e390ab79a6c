"""Compose's one-shot `demo` job: load the demo world `pars stack run` loads, then print a provider and an operator key.

`pars stack run` does this inside the process that also starts the servers and services; in compose those are
containers of their own, so this job does only the loading and the keys (migrating each schema first, so it may
run before or alongside the services).
"""

import asyncio
from datetime import UTC, datetime

from pars_cli import admin
from pars_cli.generate import demo_world
from shared.settings import Settings, get_settings


async def load_demo(settings: Settings) -> list[tuple[str, str]]:
    """Load the demo world; return (who, key) for its first provider and for an operator."""
    world = demo_world(today=settings.today or datetime.now(UTC).date())
    await admin.load_world(settings, world)
    provider = world.providers[0]
    return [(f"provider {provider.id} ({provider.name})", await admin.issue_key(settings, "provider", provider.id)),
            ("operator", await admin.issue_key(settings, "operator"))]


def main() -> None:
    for who, key in asyncio.run(load_demo(get_settings())):
        print(f"{who} key: {key}", flush=True)


if __name__ == "__main__":
    main()
