"""The benchmarks' stack settings: a namespace of their own, free ports, boards answering at once."""

import os

from shared.settings import Settings
from tests.support import free_port, free_port_block, unique_namespace


def bench_env() -> tuple[dict[str, str], Settings]:
    env = {**os.environ, "PARS_NAMESPACE": unique_namespace("bench"), "PARS_API_PORT": str(free_port()),
           "PARS_HEALTH_PORT_BASE": str(free_port_block(6)), "PARS_BOARD_LATENCY_SCALE": "0",
           "PARS_SMTP_HOST": "127.0.0.1", "PARS_LOG_LEVEL": "WARNING"}
    settings = Settings(**{k[5:].lower(): v for k, v in env.items()
                           if k.startswith("PARS_") and k[5:].lower() in Settings.model_fields})
    return env, settings
