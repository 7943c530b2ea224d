"""Translate ``kafka.options`` (Kafka Java client names) for the librdkafka clients.

Spark's Kafka source is the Java client, so the environment files name its
properties. ``meterhouse generate``, ``replay`` and ``kafka`` use
confluent-kafka, which is librdkafka and names a few of the same settings
differently or not at all. One set of options, written once, serves both:

- ``sasl.jaas.config`` becomes ``sasl.username`` and ``sasl.password`` (PLAIN
  and SCRAM login modules; librdkafka has no JAAS).
- PEM trust and key material (``ssl.truststore.certificates``,
  ``ssl.keystore.certificate.chain``, ``ssl.keystore.key``) becomes
  ``ssl.ca.pem``, ``ssl.certificate.pem`` and ``ssl.key.pem``.
- A PEM truststore file becomes ``ssl.ca.location``, and a PKCS12 keystore
  file passes through, since librdkafka reads PKCS12 under the same name. A
  JKS store has no librdkafka equivalent, and the error names what to set.

Everything else is passed through unchanged, so librdkafka still rejects a
property it does not know, with its own message.
"""

from __future__ import annotations

import re

from pipelines.errors import ConfigError

PEM_RENAMES = {
    "ssl.truststore.certificates": "ssl.ca.pem",
    "ssl.keystore.certificate.chain": "ssl.certificate.pem",
    "ssl.keystore.key": "ssl.key.pem",
}
# Settings of the Java stores that librdkafka has no use for once the material is translated.
JAVA_ONLY = ("ssl.truststore.type", "ssl.truststore.password", "ssl.keystore.type")
JAAS_LOGIN_MODULES = ("PlainLoginModule", "ScramLoginModule")
JAAS_VALUE = r'\b{name}\s*=\s*"((?:[^"\\]|\\.)*)"'
SOURCE = "kafka.options (for the librdkafka clients)"
JKS_FIX = ("librdkafka (meterhouse generate, replay and kafka) cannot read a JKS store; give the certificates as PEM "
           "with ssl.truststore.type: PEM and ssl.truststore.certificates, or ssl.keystore.type: PKCS12")


def librdkafka_config(options: dict[str, str], bootstrap_servers: str) -> dict[str, str]:
    """Return the confluent-kafka configuration for ``options`` written with Java client names."""
    config: dict[str, str] = {}
    for key, value in options.items():
        if key == "sasl.jaas.config":
            config.update(_sasl_credentials(value))
        elif key == "ssl.truststore.location":
            config["ssl.ca.location"] = _pem_truststore(options, value)
        elif key == "ssl.keystore.location":
            config[key] = _pkcs12_keystore(options, value)
        elif key in PEM_RENAMES:
            config[PEM_RENAMES[key]] = value
        elif key not in JAVA_ONLY:
            config[key] = value
    config["bootstrap.servers"] = bootstrap_servers
    return config


def _pem_truststore(options: dict[str, str], location: str) -> str:
    # The Java client's default store type is JKS.
    if options.get("ssl.truststore.type", "JKS").upper() != "PEM":
        raise ConfigError(SOURCE, [f"kafka.options.ssl.truststore.location: {JKS_FIX}"])
    return location


def _pkcs12_keystore(options: dict[str, str], location: str) -> str:
    if options.get("ssl.keystore.type", "JKS").upper() != "PKCS12":
        raise ConfigError(SOURCE, [f"kafka.options.ssl.keystore.location: {JKS_FIX}"])
    return location


def _sasl_credentials(jaas: str) -> dict[str, str]:
    if not any(module in jaas for module in JAAS_LOGIN_MODULES):
        raise ConfigError(SOURCE, [
            "kafka.options.sasl.jaas.config: only the PLAIN and SCRAM login modules can be translated for librdkafka; "
            "for OAUTHBEARER or GSSAPI set the librdkafka sasl.* options for `meterhouse generate` and `replay` "
            "in a separate environment file"])
    credentials = {}
    for name in ("username", "password"):
        found = re.search(JAAS_VALUE.format(name=name), jaas)
        if found is None:
            raise ConfigError(SOURCE, [f'kafka.options.sasl.jaas.config has no {name}="..." (the value itself is not shown)'])
        credentials[f"sasl.{name}"] = found.group(1).replace('\\"', '"').replace("\\\\", "\\")
    return credentials
