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
  file passes through, since librdkafka reads PKCS12 under the same name.
  Other store files (JKS, a PKCS12 truststore, a PEM keystore file) have no
  librdkafka equivalent, and the error names what to set.

Everything else is passed through unchanged, so librdkafka still rejects a
property it does not know, with its own message. Error messages name options
but never show their values, because the values may be secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import ConfigError

PEM_RENAMES = {
    "ssl.truststore.certificates": "ssl.ca.pem",
    "ssl.keystore.certificate.chain": "ssl.certificate.pem",
    "ssl.keystore.key": "ssl.key.pem",
}
# Settings of the Java stores that librdkafka has no use for once the material is translated.
JAVA_ONLY = ("ssl.truststore.type", "ssl.truststore.password", "ssl.keystore.type")
# Login module class names end with one of these; Databricks shades them as kafkashaded.org.apache.kafka...
JAAS_LOGIN_MODULES = (".PlainLoginModule", ".ScramLoginModule")
JAAS_CONTROL_FLAGS = ("required", "requisite", "sufficient", "optional")
# SASL mechanisms that authenticate with the username and password of a PLAIN or SCRAM login module.
PASSWORD_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# The default sasl.mechanism of both the Java client and librdkafka.
DEFAULT_SASL_MECHANISM = "GSSAPI"
SOURCE = "kafka.options (for the librdkafka clients)"
JKS_FIX = ("librdkafka (meterhouse generate, replay and kafka) cannot read a JKS store; give the certificates as PEM "
           "with ssl.truststore.type: PEM and ssl.truststore.certificates, or ssl.keystore.type: PKCS12")
PKCS12_TRUSTSTORE_FIX = ("librdkafka (meterhouse generate, replay and kafka) cannot read a PKCS12 truststore; give the "
                         "CA certificates as a PEM file with ssl.truststore.type: PEM, or as PEM text with "
                         "ssl.truststore.certificates")
PEM_KEYSTORE_FIX = ("librdkafka (meterhouse generate, replay and kafka) cannot read a PEM keystore file; give the "
                    "certificate chain and private key as PEM text with ssl.keystore.certificate.chain and "
                    "ssl.keystore.key, or use ssl.keystore.type: PKCS12")
UNKNOWN_STORE_FIX = "must be JKS, PKCS12 or PEM (the value is not shown)"
# Java store file option -> (librdkafka option, type option, problem per store type; None: readable).
STORE_FILES = {
    "ssl.truststore.location": ("ssl.ca.location", "ssl.truststore.type",
                                {"PEM": None, "JKS": JKS_FIX, "PKCS12": PKCS12_TRUSTSTORE_FIX}),
    "ssl.keystore.location": ("ssl.keystore.location", "ssl.keystore.type",
                              {"PKCS12": None, "JKS": JKS_FIX, "PEM": PEM_KEYSTORE_FIX}),
}
OTHER_MODULE_FIX = ("only the PLAIN and SCRAM login modules can be translated for librdkafka; for OAUTHBEARER or "
                    "GSSAPI set the librdkafka sasl.* options for `meterhouse generate` and `replay` in a separate "
                    "environment file")
JAAS_OPTION = "kafka.options.sasl.jaas.config"

# Tokens of a JAAS entry. Kafka's JaasConfig reads them with java.io.StreamTokenizer, which also accepts
# single quotes, comments and other backslash escapes; this parser rejects those.
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.-]*")
_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")
_JAVA_CLASS_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*")
# A token is (kind, text, position): kind is "word", "quoted", "=" or ";", and position is 0-based.
_Token = tuple[str, str, int]


class JaasSyntaxError(ValueError):
    """A ``sasl.jaas.config`` value cannot be parsed; the message never contains the value."""


@dataclass(frozen=True)
class JaasEntry:
    """One login module entry: ``<class> <flag> key=value ... ;``."""

    login_module: str
    control_flag: str
    options: dict[str, str]


def librdkafka_config(options: dict[str, str], bootstrap_servers: str) -> dict[str, str]:
    """Return the confluent-kafka configuration for ``options`` written with Java client names.

    Raises ``ConfigError`` listing every option that cannot be translated.
    """
    config: dict[str, str] = {}
    problems: list[str] = []
    for key, value in options.items():
        if key == "sasl.jaas.config":
            config.update(_sasl_credentials(value, options.get("sasl.mechanism"), problems))
        elif key in STORE_FILES:
            librdkafka_key, type_key, problem_by_type = STORE_FILES[key]
            problem = _store_file_problem(options, type_key, problem_by_type)
            if problem:
                problems.append(f"kafka.options.{key}: {problem}")
            config[librdkafka_key] = value
        elif key in PEM_RENAMES:
            config[PEM_RENAMES[key]] = value
        elif key not in JAVA_ONLY:
            config[key] = value
    if problems:
        raise ConfigError(SOURCE, problems)
    config["bootstrap.servers"] = bootstrap_servers
    return config


def _store_file_problem(options: dict[str, str], type_key: str, problem_by_type: dict[str, str | None]) -> str | None:
    """Return why librdkafka cannot read the store file of ``type_key``'s type, or None when it can."""
    # The Java client's default store type is JKS. NOTE: the comparison ignores
    # case; whether the Java client also reads a lower-case "pem" is not checked.
    store_type = options.get(type_key, "JKS").strip().upper()
    return problem_by_type.get(store_type, f"{type_key} {UNKNOWN_STORE_FIX}")


def _sasl_credentials(jaas: str, mechanism: str | None, problems: list[str]) -> dict[str, str]:
    """Return ``sasl.username`` and ``sasl.password`` of a PLAIN or SCRAM JAAS line, or add to ``problems``."""
    try:
        entries = parse_jaas_config(jaas)
    except JaasSyntaxError as error:
        problems.append(f"{JAAS_OPTION}: {error}")
        return {}
    if len(entries) != 1:
        problems.append(f"{JAAS_OPTION} contains {len(entries)} login module entries; a Kafka client takes exactly one")
        return {}
    entry = entries[0]
    if not entry.login_module.endswith(JAAS_LOGIN_MODULES):
        problems.append(f"{JAAS_OPTION}: {OTHER_MODULE_FIX}")
        return {}

    credentials = {}
    for name in ("username", "password"):
        if name in entry.options:
            credentials[f"sasl.{name}"] = entry.options[name]
        else:
            problems.append(f'{JAAS_OPTION} has no {name}="..." (the value itself is not shown)')
    mechanism_problem = _mechanism_problem(mechanism)
    if mechanism_problem:
        problems.append(f"kafka.options.sasl.mechanism: {mechanism_problem}")
    return credentials


def _mechanism_problem(mechanism: str | None) -> str | None:
    # librdkafka selects the mechanism with strcmp (rdkafka_sasl.c), so names are case-sensitive here too.
    needs = (f"a PlainLoginModule or ScramLoginModule in sasl.jaas.config needs one of "
             f"{', '.join(PASSWORD_MECHANISMS)}")
    if mechanism is None:
        return f"is not set, so both clients use their default {DEFAULT_SASL_MECHANISM}, but {needs}"
    if mechanism in PASSWORD_MECHANISMS:
        return None
    if mechanism in ("GSSAPI", "OAUTHBEARER"):
        return (f"{mechanism} does not use the username and password of the login module, and {needs}; "
                "for GSSAPI and OAUTHBEARER set the librdkafka sasl.* options for `meterhouse generate` and "
                "`replay` in a separate environment file")
    return (f"is not a mechanism name that the clients know (names are case-sensitive; the value is not shown), "
            f"and {needs}")


def parse_jaas_config(text: str) -> list[JaasEntry]:
    """Parse a ``sasl.jaas.config`` value into its login module entries.

    Each entry is ``<login module class> <control flag> key=value ... ;``. A
    value is a bare word or a double-quoted string in which ``\\"`` and ``\\\\``
    stand for ``"`` and ``\\``. Raises ``JaasSyntaxError`` with the position of
    the problem but not the text, because the text contains secrets.
    """
    tokens = _jaas_tokens(text)
    entries = []
    index = 0
    while index < len(tokens):
        parser = _JaasEntryParser(tokens, index, len(entries) + 1)
        entries.append(parser.parse())
        index = parser.index
    if not entries:
        raise JaasSyntaxError("is empty; expected <login module class> <control flag> key=\"value\" ... ;")
    return entries


def _jaas_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        character = text[position]
        if character.isspace():
            position += 1
        elif character in "=;":
            tokens.append((character, character, position))
            position += 1
        elif character == '"':
            quoted = _QUOTED.match(text, position)
            if quoted is None:
                raise JaasSyntaxError(f"character {position + 1}: the quoted value is not closed on the same line")
            tokens.append(("quoted", _unescape(quoted.group(1), position), position))
            position = quoted.end()
        else:
            word = _WORD.match(text, position)
            if word is None:
                raise JaasSyntaxError(f'character {position + 1}: unexpected character; expected a name, "=", ";" '
                                      "or a double-quoted value")
            tokens.append(("word", word.group(), position))
            position = word.end()
    return tokens


def _unescape(body: str, position: int) -> str:
    def replace(escape: re.Match) -> str:
        if escape.group(1) not in '"\\':
            raise JaasSyntaxError(f'character {position + 1}: the quoted value contains an escape other than \\" '
                                  'or \\\\, which cannot be translated')
        return escape.group(1)

    return _ESCAPE.sub(replace, body)


class _JaasEntryParser:
    """Read one entry from ``tokens`` at ``index``; messages give positions, never token text."""

    def __init__(self, tokens: list[_Token], index: int, number: int):
        self.tokens = tokens
        self.index = index
        self.number = number

    def parse(self) -> JaasEntry:
        module = self._expect("word", "a login module class name")
        if not _JAVA_CLASS_NAME.fullmatch(module[1]):
            raise self._error("the login module is not a Java class name", module)
        flag = self._expect("word", "a control flag")
        if flag[1].lower() not in JAAS_CONTROL_FLAGS:
            raise self._error(f"invalid control flag; expected one of {', '.join(JAAS_CONTROL_FLAGS)}", flag)

        options: dict[str, str] = {}
        while self.index < len(self.tokens) and self.tokens[self.index][0] != ";":
            key = self._expect("word", "an option name")
            self._expect("=", '"=" after the option name')
            value = self._next_token("an option value")
            if value[0] not in ("word", "quoted"):
                raise self._error("expected an option value", value)
            if key[1] in options:
                # Only the two known names are shown, since a stray word may be part of a secret.
                name = key[1] if key[1] in ("username", "password") else "an option"
                raise self._error(f"{name} is set more than once", key)
            options[key[1]] = value[1]
        self._expect(";", '";" at the end of the entry')
        return JaasEntry(module[1], flag[1].lower(), options)

    def _next_token(self, expected: str) -> _Token:
        if self.index >= len(self.tokens):
            raise JaasSyntaxError(f"entry {self.number} ends where {expected} is expected; end each entry with ;")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _expect(self, kind: str, expected: str) -> _Token:
        token = self._next_token(expected)
        if token[0] != kind:
            raise self._error(f"expected {expected}", token)
        return token

    def _error(self, problem: str, token: _Token) -> JaasSyntaxError:
        return JaasSyntaxError(f"entry {self.number}, character {token[2] + 1}: {problem}")
