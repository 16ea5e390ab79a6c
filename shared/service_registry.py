"""The registry of services: each service's name, Python package, PostgreSQL schema and health port, written once.

The name is the one the design, the logs, the dead-letter topics and the CLI use ("board-router"); the package is
what `python -m` runs and where its migrations live; the schema is the service's own, before `Settings.schema()`
adds a stack's or a test run's namespace. Every other place (the apps, the CLI, the replay and rebuild tools,
the benchmarks, compose, the tests' helpers) reads these from here.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    package: str
    schema: str
    # Where it answers /healthz, /readyz and /metrics: Settings.health_port_base + this. None: intake, which answers
    # them on the API's port.
    health_port_offset: int | None


INTAKE = Service("intake", "intake", "intake", None)
VALIDATION = Service("validation", "validation", "validation", 1)
BOARD_ROUTER = Service("board-router", "board_router", "router", 2)
BOARD_SIM = Service("board-sim", "board_sim", "board_sim", 3)
PROJECTOR = Service("projector", "projector", "projection", 4)
NOTIFIER = Service("notifier", "notifier", "notifier", 5)

# In the order a stack starts them (and `pars world load` fills their schemas).
SERVICES: tuple[Service, ...] = (INTAKE, VALIDATION, BOARD_ROUTER, BOARD_SIM, PROJECTOR, NOTIFIER)
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
BY_NAME: dict[str, Service] = {s.name: s for s in SERVICES}
BY_PACKAGE: dict[str, Service] = {s.package: s for s in SERVICES}
