"""Settings shared by every process, read from `PARS_*` environment variables."""

import hashlib
import hmac
import os
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
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
    # hide_input_in_errors: a refused setting's error would print the values given, passwords among them.
    model_config = SettingsConfigDict(env_prefix="PARS_", extra="ignore", hide_input_in_errors=True)

    # Defaults point at the servers deploy/local/infra.sh starts.
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    database_url: str = Field(default_factory=local_database_url, repr=False)  # may carry a password
    # Prefix for every topic, consumer group and schema, so test runs and stacks never mix.
    namespace: str = ""
    # How long the broker holds a fetch of a consumer that is off the callers' path (router, board-sim, projector,
    # notifier, batch tallies) while messages flow, so its batches grow with the load (shared.consumer.long_polls).
    # 250, not 50: at 100 completions/s the board path's batches of one to five took the stack past its two cores
    # (docs/PERFORMANCE.md, "Consumers that linger 250 ms").
    consumer_linger_ms: int = Field(default=250, ge=0, le=1000)
    # Topics the services create: copies of each partition, how many copies must have a write before producers
    # (acks=all) are answered (unset: the broker's min.insync.replicas), and the partitions of the record topics
    # (submissions, record events, board responses; the other topics keep the registry's counts).
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    kafka_partitions: int = Field(default=12, ge=1)
    # How clients reach a real cluster: SASL (PLAIN or SCRAM) over plain TCP or TLS; TLS checks the brokers
    # against the CA file (the system's CAs when unset) and shows the client certificate when one is given.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    # PostgreSQL's TLS, libpq's parameters (asyncpg reads them): added to database_url's unless it names them.
    database_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = None
    database_sslrootcert: Path | None = None
    database_sslcert: Path | None = None
    database_sslkey: Path | None = None

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where providers open the portal, as their browsers reach it (the digest e-mails link a record's page there):
    # e.g. https://pars.example.org. Unset: intake's own address.
    public_url: str | None = None
    # Where each worker service answers /healthz, /readyz and /metrics: base + a fixed offset per service.
    health_port_base: int = 8100
    health_port: int | None = None  # set when several instances of one service share a host
    # A listening socket intake serves the API on instead of binding api_host:api_port, passed down by `pars stack
    # run --replicas N` to its N intake processes (each then answers its own /metrics on health_port).
    api_fd: int | None = None
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
    # Where traces go, by OTLP over HTTP (http://collector:4318, or its /v1/traces URL); unset, tracing is off.
    otlp_endpoint: str | None = None

    @model_validator(mode="after")
    def _kafka_and_database_security(self) -> "Settings":
        min_isr, replicas = self.kafka_min_insync_replicas, self.kafka_replication_factor
        if min_isr is not None and min_isr > replicas:
            raise ValueError(f"kafka_min_insync_replicas: {min_isr} is more than the replication factor ({replicas});"
                             " no write could be acknowledged")
        if self.kafka_security_protocol.startswith("SASL_") and not (self.kafka_sasl_username
                                                                      and self.kafka_sasl_password):
            raise ValueError(f"kafka_sasl_username and kafka_sasl_password: both needed with "
                             f"{self.kafka_security_protocol}")
        if (self.kafka_ssl_keyfile or self.kafka_ssl_key_password) and not self.kafka_ssl_certfile:
            raise ValueError("kafka_ssl_certfile: needed with a client key")
        tls = {"sslmode": self.database_sslmode, "sslrootcert": self.database_sslrootcert,
               "sslcert": self.database_sslcert, "sslkey": self.database_sslkey}
        if any(tls.values()):
            url = urlsplit(self.database_url)
            query = dict(parse_qsl(url.query))
            query |= {k: str(v) for k, v in tls.items() if v is not None and k not in query}  # the URL's own win
            self.database_url = urlunsplit(url._replace(query=urlencode(query, safe="/")))
        return self

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

    def record_page_url(self) -> str:
        """A record's page in the portal, with `{record_id}` left to fill in."""
        base = (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")
        return f"{base}/portal/records/{{record_id}}"

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
