"""Kafka Java client options translated for the librdkafka clients (generate, replay, kafka)."""

import pytest

from pipelines.config import PROJECT_ROOT, load_settings
from pipelines.errors import ConfigError
from pipelines.runtime.kafka_clients import librdkafka_config

SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="meterhouse" password="p\\"w=1;";'


def test_scram_jaas_becomes_username_password():
    options = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": SCRAM}

    config = librdkafka_config(options, "k1:9096,k2:9096")

    assert config == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                      "sasl.username": "meterhouse", "sasl.password": 'p"w=1;', "bootstrap.servers": "k1:9096,k2:9096"}


def test_pem_material_renamed():
    options = {"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.certificates": "CA",
               "ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": "CHAIN", "ssl.keystore.key": "KEY"}

    config = librdkafka_config(options, "k1:9093")

    assert config == {"security.protocol": "SSL", "ssl.ca.pem": "CA", "ssl.certificate.pem": "CHAIN",
                      "ssl.key.pem": "KEY", "bootstrap.servers": "k1:9093"}


def test_store_files_translated_when_librdkafka_reads_them():
    options = {"ssl.truststore.type": "PEM", "ssl.truststore.location": "/etc/kafka/ca.pem",
               "ssl.keystore.type": "PKCS12", "ssl.keystore.location": "/etc/kafka/client.p12",
               "ssl.keystore.password": "s"}

    config = librdkafka_config(options, "k1:9093")

    assert config == {"ssl.ca.location": "/etc/kafka/ca.pem", "ssl.keystore.location": "/etc/kafka/client.p12",
                      "ssl.keystore.password": "s", "bootstrap.servers": "k1:9093"}


@pytest.mark.parametrize("key", ["ssl.truststore.location", "ssl.keystore.location"])
def test_jks_store_rejected_with_fix(key):
    with pytest.raises(ConfigError, match=f"kafka.options.{key}: librdkafka .* cannot read a JKS store"):
        librdkafka_config({key: "/etc/kafka/store.jks"}, "k1:9093")


def test_oauth_login_module_rejected():
    jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"

    with pytest.raises(ConfigError, match="only the PLAIN and SCRAM login modules"):
        librdkafka_config({"sasl.jaas.config": jaas}, "k1:9093")


def test_missing_password_named_not_shown():
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="secret-user";'

    with pytest.raises(ConfigError) as raised:
        librdkafka_config({"sasl.jaas.config": jaas}, "k1:9093")

    assert 'has no password="..."' in str(raised.value)
    assert "secret-user" not in str(raised.value)


def test_other_options_pass_through():
    assert librdkafka_config({"client.id": "meterhouse", "acks": "all"}, "127.0.0.1:9092") == {
        "client.id": "meterhouse", "acks": "all", "bootstrap.servers": "127.0.0.1:9092"}


def test_cluster_file_gives_librdkafka_credentials(monkeypatch):
    monkeypatch.setenv("KAFKA_SASL_JAAS_CONFIG", SCRAM)
    monkeypatch.setenv("KAFKA_CA_PEM", "-----BEGIN CERTIFICATE-----")

    config = load_settings(PROJECT_ROOT / "conf" / "cluster.yaml").kafka.client_config()

    assert config["sasl.username"] == "meterhouse"
    assert config["sasl.password"] == 'p"w=1;'
    assert config["ssl.ca.pem"] == "-----BEGIN CERTIFICATE-----"
    assert "sasl.jaas.config" not in config
