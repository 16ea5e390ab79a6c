"""Settings shared by every process, read from `PARS_*` environment variables."""

import hashlib
import hmac
import os
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.service_registry import BY_NAME, VALIDATION

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/pars"


def local_database_url() -> str:
    """The local cluster's URL for the project's role, as deploy/local/postgres.sh keeps it (with its password)
    in <local dir>/pg/database.url; a cluster set up before that file existed is reached as before."""
    local_dir = Path(os.environ.get("PARS_LOCAL_DIR") or Path(__file__).resolve().parent.parent / ".local")
    try:
        return (local_dir / "pg" / "database.url").read_text(encoding="utf-8").strip() or LOCAL_DATABASE_URL
    except OSError:
        return LOCAL_DATABASE_URL


def connect_host(host: str) -> str:
    """Where to connect to a server listening on `host` (one listening everywhere is reached on loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARS_", extra="ignore")

    # Defaults point at the servers deploy/local/infra.sh starts.
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    database_url: str = Field(default_factory=local_database_url, repr=False)  # may carry a password
    # Prefix for every topic, consumer group and schema, so test runs and stacks never mix.
    namespace: str = ""
    # How long the broker holds a fetch of a consumer that is off the callers' path (router, board-sim, projector,
    # notifier, batch tallies) while messages flow, so its batches grow with the load (shared.consumer.long_polls).
    consumer_linger_ms: int = Field(default=50, ge=0, le=1000)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where each worker service answers /healthz, /readyz and /metrics: base + a fixed offset per service.
    health_port_base: int = 8100
    health_port: int | None = None  # set when several instances of one service share a host
    # Where the workers listen (those routes, and validation's /internal ones): loopback unless, as in a
    # container, intake and the health checks come from elsewhere.
    health_host: str = "127.0.0.1"
    # Intake shows it to validation's /internal routes. Unset: derived from the database URL and namespace,
    # so every process of one stack agrees with no set-up (see internal_token).
    service_token: str | None = Field(default=None, repr=False)
    # Where intake reaches the validation service's own routes (activities, learner matching).
    validation_url: str | None = None

    smtp_host: str | None = None
    smtp_port: int = 2525
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    mail_from: str = "PARS <pars-noreply@accme.example>"

    # The date PARS takes as today (deadlines, future dates); unset means the real date. For demos and tests.
    today: date | None = None

    board_latency_scale: float = 1.0
    # How long past a board's answer time the router waits before asking again.
    board_answer_grace_seconds: float = 30.0
    digest_seconds: float = 86400.0
    # Boards the board-sim process serves; empty means every board of the catalogue.
    boards: str = ""

    # How long a consumer keeps the ids of the messages it applied (processed_events), and how often each service
    # prunes older ones. A message can come again only while Kafka holds it: retention.ms plus a segment's age
    # (segment.ms), 7 + 7 days with Kafka's defaults (docs/DESIGN-NOTES.md, "Retention of processed_events").
    processed_events_keep_days: float = Field(default=14.0, gt=0)
    processed_events_prune_seconds: float = Field(default=900.0, gt=0)

    log_level: str = "INFO"
    log_format: str = "json"

    def processed_events_keep(self) -> timedelta:
        return timedelta(days=self.processed_events_keep_days)

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    # Shadows pydantic's deprecated BaseModel.schema() classmethod, never called on settings; renaming would touch
    # every caller for nothing.
    def schema(self, name: str) -> str:  # type: ignore[override]
        return f"{self.namespace}_{name}".lower() if self.namespace else name

    def group(self, name: str) -> str:
        return self.topic(name)

    def service_port(self, service: str) -> int:
        """The port a service (by its registry name) answers HTTP on when run with these settings' defaults."""
        offset = BY_NAME[service].health_port_offset
        return self.api_port if offset is None else self.health_port_base + offset

    def validation_base_url(self) -> str:
        return self.validation_url or f"http://{connect_host(self.health_host)}:{self.service_port(VALIDATION.name)}"

    def internal_token(self) -> str:
        """The service token: PARS_SERVICE_TOKEN, else one derived from what every process of a stack already
        shares. Whoever knows the database URL can read every record anyway, so it gives nobody new powers."""
        if self.service_token:
            return self.service_token
        return hmac.new(self.database_url.encode(), f"pars service token|{self.namespace}".encode(),
                        hashlib.sha256).hexdigest()


@lru_cache
def get_settings() -> Settings:
    return Settings()
