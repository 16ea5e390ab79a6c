"""The settings for a real cluster turn into the right client arguments: Kafka's SASL and TLS for FastStream's
broker and the plain aiokafka clients alike, PostgreSQL's TLS in the URL asyncpg reads, the topics' replication;
secrets never show in a repr or a log line."""

import io
import json
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asyncpg import connect_utils
from pydantic import ValidationError

from shared.kafka import kafka_client_args, kafka_security, make_broker, new_topic
from shared.logging import configure_logging, get_logger
from shared.settings import Settings
from shared.topics import ACTIVITIES, BOARD_RESPONSES, RECORD_EVENTS, SUBMISSIONS, board_requests, dead_letters

PASSWORD = "kafka-s3cret-value"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key (standing for a CA and a client's certificate)."""
    folder = tmp_path_factory.mktemp("certs")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-subj", "/CN=pars-test", "-days", "1"],
                   check=True, capture_output=True)
    return {"cert": cert, "key": key}


def test_plaintext_by_default_adds_nothing() -> None:
    settings = Settings(_env_file=None, kafka_bootstrap_servers="k1:9092,k2:9092")
    assert kafka_security(settings) is None
    assert kafka_client_args(settings) == {"bootstrap_servers": ["k1:9092", "k2:9092"]}
    # FastStream takes a string as one server: the broker gets the list.
    assert make_broker(settings, "test")._connection_kwargs["bootstrap_servers"] == ["k1:9092", "k2:9092"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_gives_every_client_the_mechanism_credentials_and_a_verifying_context(
        mechanism: str, certs: dict[str, Path]) -> None:
    settings = Settings(_env_file=None, kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism=mechanism,
                        kafka_sasl_username="pars", kafka_sasl_password=PASSWORD, kafka_ssl_cafile=certs["cert"],
                        kafka_ssl_certfile=certs["cert"], kafka_ssl_keyfile=certs["key"])
    args = kafka_client_args(settings)
    assert (args["security_protocol"], args["sasl_mechanism"]) == ("SASL_SSL", mechanism)
    assert (args["sasl_plain_username"], args["sasl_plain_password"]) == ("pars", PASSWORD)
    context = args["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "pars-test"),),)]
    # FastStream's broker hands the same arguments to its producer, consumers and admin client.
    broker_args = make_broker(settings, "test")._connection_kwargs
    assert {k: broker_args[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username",
                                         "sasl_plain_password")} == {
        k: args[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")}
    assert isinstance(broker_args["ssl_context"], ssl.SSLContext)


def test_sasl_plaintext_has_no_tls() -> None:
    args = kafka_client_args(Settings(_env_file=None, kafka_security_protocol="SASL_PLAINTEXT",
                                      kafka_sasl_mechanism="SCRAM-SHA-256", kafka_sasl_username="pars",
                                      kafka_sasl_password=PASSWORD))
    assert args["security_protocol"] == "SASL_PLAINTEXT" and args["ssl_context"] is None
    assert args["sasl_mechanism"] == "SCRAM-SHA-256"


def test_ssl_with_a_client_certificate_and_no_sasl(certs: dict[str, Path]) -> None:
    args = kafka_client_args(Settings(_env_file=None, kafka_security_protocol="SSL", kafka_ssl_cafile=certs["cert"],
                                      kafka_ssl_certfile=certs["cert"], kafka_ssl_keyfile=certs["key"]))
    assert args["security_protocol"] == "SSL" and "sasl_mechanism" not in args
    assert isinstance(args["ssl_context"], ssl.SSLContext)


def test_a_missing_certificate_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        kafka_client_args(Settings(_env_file=None, kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "no"))


@pytest.mark.parametrize(("given", "named"), [
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "pars"}, "kafka_sasl_password"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "kafka_sasl_username"),
    ({"kafka_ssl_keyfile": "/k.pem"}, "kafka_ssl_certfile"),
    ({"kafka_replication_factor": 1, "kafka_min_insync_replicas": 2}, "kafka_min_insync_replicas"),
    ({"kafka_security_protocol": "SASL"}, "kafka_security_protocol"),
    ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ({"database_sslmode": "sometimes"}, "database_sslmode"),
])
def test_wrong_settings_are_refused_naming_the_field(given: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(_env_file=None, **given)


def test_secrets_show_in_no_repr_dump_or_log() -> None:
    settings = Settings(_env_file=None, kafka_security_protocol="SASL_SSL", kafka_sasl_username="pars",
                        kafka_sasl_password=PASSWORD, kafka_ssl_certfile="/c.pem",
                        kafka_ssl_key_password="key-s3cret-value")
    with pytest.raises(ValidationError) as refused:  # a refused setting's error does not echo what was given
        Settings(_env_file=None, kafka_sasl_password=PASSWORD, kafka_ssl_key_password="key-s3cret-value",
                 database_url="postgresql://pars:db-s3cret-value@db/pars", kafka_replication_factor=0)
    logged = io.StringIO()
    configure_logging("tester", "INFO", "json", stream=logged)
    get_logger("test").info("settings", settings=settings, dump=settings.model_dump())
    shown = [repr(settings), str(settings), settings.model_dump_json(), json.dumps(settings.model_dump(), default=str),
             logged.getvalue(), str(refused.value)]
    assert "pars" in logged.getvalue()  # the line was written
    for text in shown:
        assert PASSWORD not in text and "key-s3cret-value" not in text and "db-s3cret-value" not in text


def test_topics_take_partitions_replication_and_min_insync_from_the_settings() -> None:
    settings = Settings(_env_file=None, namespace="ns", kafka_replication_factor=3, kafka_min_insync_replicas=2,
                        kafka_partitions=12)
    for spec in (SUBMISSIONS, RECORD_EVENTS, BOARD_RESPONSES):
        topic = new_topic(settings, spec)
        assert (topic.name, topic.num_partitions, topic.replication_factor) == (f"ns.{spec.name}", 12, 3)
        assert topic.topic_configs == {"min.insync.replicas": "2"}
    # The other topics keep the registry's counts, replicated all the same.
    for spec in (board_requests("ABA"), ACTIVITIES, dead_letters("projector")):
        topic = new_topic(settings, spec)
        assert (topic.num_partitions, topic.replication_factor) == (spec.partitions, 3)
    assert (ACTIVITIES.partitions, dead_letters("projector").partitions) == (3, 1)


def test_a_single_broker_gets_one_replica_and_the_brokers_min_insync() -> None:
    topic = new_topic(Settings(_env_file=None), SUBMISSIONS)
    assert (topic.num_partitions, topic.replication_factor, topic.topic_configs) == (12, 1, {})


def _asyncpg_ssl(url: str) -> Any:
    """What asyncpg makes of a URL's TLS parameters (its own parser, as connect and create_pool use it)."""
    _, params = connect_utils._parse_connect_dsn_and_args(  # type: ignore[attr-defined]
        dsn=url, host=None, port=None, user=None, password=None, passfile=None, database=None, ssl=None,
        service=None, servicefile=None, direct_tls=None, server_settings=None, target_session_attrs=None,
        krbsrvname=None, gsslib=None)
    return params.ssl


def test_database_tls_goes_into_the_url_asyncpg_reads(certs: dict[str, Path]) -> None:
    settings = Settings(_env_file=None, database_url="postgresql://pars:pw@db.internal:5432/pars",
                        database_sslmode="verify-full", database_sslrootcert=certs["cert"],
                        database_sslcert=certs["cert"], database_sslkey=certs["key"])
    assert settings.database_url.startswith("postgresql://pars:pw@db.internal:5432/pars?sslmode=verify-full&")
    context = _asyncpg_ssl(settings.database_url)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "pars-test"),),)]


def test_the_urls_own_tls_parameters_win_and_none_set_changes_nothing() -> None:
    url = "postgresql://pars@db/pars?sslmode=require"
    assert Settings(_env_file=None, database_url=url, database_sslmode="verify-ca").database_url == url
    assert Settings(_env_file=None, database_url="postgresql://pars@db/pars").database_url == "postgresql://pars@db/pars"
