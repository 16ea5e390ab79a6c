"""Helpers for tests: unique names and free ports."""

import random
import socket
import uuid

# Below the kernel's ephemeral range (32768 and up here), so no outgoing connection takes a port between the
# moment a test picks it and the moment its server binds it.
_LOW, _HIGH = 20000, 32000


def unique_namespace(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_block(size: int) -> int:
    """A base port such that base .. base+size-1 are all free now."""
    for _ in range(500):
        base = random.randrange(_LOW, _HIGH - size)
        if all(_bindable(port) for port in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports")


def free_port() -> int:
    return free_port_block(1)
