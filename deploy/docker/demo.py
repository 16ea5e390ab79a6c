"""Compose's one-shot `demo` job: load the demo world `pars stack run` loads, then print a provider and an operator key.

`pars stack run` does this inside the process that also starts the servers and services; in compose those are
containers of their own, so this job does only the loading and the keys (migrating each schema first, so it may
run before or alongside the services).
"""

import asyncio

from pars_cli import admin
from shared.settings import get_settings


def main() -> None:
    _, keys = asyncio.run(admin.load_demo_world(get_settings()))
    for who, key in keys:
        print(f"{who} key: {key}", flush=True)


if __name__ == "__main__":
    main()
