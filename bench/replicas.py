"""Several instances of every service (issue 14): files at scale on a stack of one process of each service and on one
of two (`pars stack run --replicas 2`: consumer groups of two, two intake processes behind one port), and the outbox
relay's drain rate with one and with two relay processes on one schema.

`python -m bench replicas [--providers N] [--messages N]` (`make bench BENCH=replicas`) measures them alone; the suite
measures the two-of-each stack and the relay after its own one-of-each stack. On two cores nothing doubles: twice
the processes share the same two cores with Kafka and PostgreSQL, so the ratio shows what coordination costs.
"""

import argparse

from bench import files, idle, relay
from bench.ceiling import measure
from bench.stack import bench_stack
from bench.table import Figure, render
from shared.settings import Settings
from shared.world import World

ONE = "files: settled records/s"  # the suite's figure, on its stack of one process of each service


def files_with(world: World, providers: int, ceiling: float, replicas: int) -> Figure:
    """Files at scale on a fresh stack of `replicas` processes of each service."""
    with bench_stack(world, world.providers[0].id, replicas=replicas) as stack:
        idle.wait_quiet(stack)  # start-up and the groups' first rebalances done
        name = ONE if replicas == 1 else f"files: settled records/s, {replicas} of each service"
        return files.files_at_scale(stack, world, providers, ceiling, name=name)


def figures(world: World, providers: int, ceiling: float, one: Figure | None, messages: int) -> list[Figure]:
    """Two of each service (beside `one`, measured here when None), then the relay with one and two processes."""
    measured = [] if one is not None else [files_with(world, providers, ceiling, 1)]
    one = one or measured[0]
    two = files_with(world, providers, ceiling, 2)
    if one.value and two.value:
        two = Figure(two.name, two.value, two.unit, per_ceiling=True,
                     note=f"{two.value / one.value:.2f}× one of each; {two.note}")
    return [*measured, two, *relay.relay_figures(messages)]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench replicas", description=__doc__)
    parser.add_argument("--providers", type=int, default=4, help="files at scale: one 5,000-row file each")
    parser.add_argument("--messages", type=int, default=20_000, help="through the ceiling's chain and the relays")
    args = parser.parse_args(argv)
    world = files.suite_world(args.providers)
    rate = measure(Settings(), args.messages)
    table = [Figure("ceiling: plain aiokafka chain", rate, "records/s", per_ceiling=True),
             *figures(world, args.providers, rate, None, args.messages)]
    print(render(table, rate, None))
