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


PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
SECRET = "hunter2Secret"


def sasl_options(jaas, mechanism="PLAIN"):
    options = {"security.protocol": "SASL_SSL", "sasl.jaas.config": jaas}
    if mechanism is not None:
        options["sasl.mechanism"] = mechanism
    return options


def config_error(options):
    with pytest.raises(ConfigError) as raised:
        librdkafka_config(options, "k1:9093")
    return str(raised.value)


def credentials(jaas, mechanism="PLAIN"):
    config = librdkafka_config(sasl_options(jaas, mechanism), "k1:9093")
    return config["sasl.username"], config["sasl.password"]


def test_shaded_plain_module_and_escapes_translated():
    jaas = f'kafkashaded.{PLAIN_MODULE}  REQUIRED\n username="u\\\\ser"\tpassword = "a\\"b;c=d" ;  '

    assert credentials(jaas) == ("u\\ser", 'a"b;c=d')


def test_unquoted_values_translated():
    assert credentials(f"{SCRAM_MODULE} required username=alice password=s3cr3t.x-y;", "SCRAM-SHA-256") == (
        "alice", "s3cr3t.x-y")


@pytest.mark.parametrize("decoy", ["my.password", "x-password", "password_old", "passwords", "my.username"])
def test_credentials_matched_as_whole_keys(decoy):
    jaas = f'{PLAIN_MODULE} required {decoy}="wrong" username="u" password="right";'

    assert credentials(jaas) == ("u", "right")


@pytest.mark.parametrize("decoy", ["my.password", "x-password"])
def test_decoy_key_is_not_the_password(decoy):
    message = config_error(sasl_options(f'{PLAIN_MODULE} required username="u" {decoy}="p";'))

    assert 'kafka.options.sasl.jaas.config has no password="..."' in message


def test_plain_name_in_oauth_value_rejected():
    jaas = ("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
            f'note="{PLAIN_MODULE}" username="u" password="p";')

    message = config_error(sasl_options(jaas, "OAUTHBEARER"))

    assert "only the PLAIN and SCRAM login modules can be translated" in message


@pytest.mark.parametrize("module", ["org.example.NotPlainLoginModule", "PlainLoginModule",
                                    "org.example.PlainLoginModuleX"])
def test_module_name_suffix_checked(module):
    message = config_error(sasl_options(f'{module} required username="u" password="p";'))

    assert "only the PLAIN and SCRAM login modules can be translated" in message


def test_two_module_entries_rejected():
    jaas = (f'{PLAIN_MODULE} required username="a" password="b"; '
            f'{SCRAM_MODULE} required username="c" password="d";')

    message = config_error(sasl_options(jaas))

    assert "sasl.jaas.config contains 2 login module entries; a Kafka client takes exactly one" in message


@pytest.mark.parametrize(("jaas", "fragment"), [
    ("", "sasl.jaas.config: is empty"),
    (f'{PLAIN_MODULE} required username="u" password="p"',
     'entry 1 ends where ";" at the end of the entry is expected'),
    (f"{PLAIN_MODULE};", "entry 1, character 56: expected a control flag"),
    (f'{PLAIN_MODULE} mandatory username="u";', "entry 1, character 57: invalid control flag; expected one of "
                                                "required, requisite, sufficient, optional"),
    (f'{PLAIN_MODULE} required username "u";', 'entry 1, character 75: expected "=" after the option name'),
    (f"{PLAIN_MODULE} required username=;", "entry 1, character 75: expected an option value"),
    (f'{PLAIN_MODULE} required username="u;', "character 75: the quoted value is not closed on the same line"),
    (f'{PLAIN_MODULE} required password="a\\nb";',
     'character 75: the quoted value contains an escape other than \\" or \\\\'),
    (f"{PLAIN_MODULE} required password='p';", "character 75: unexpected character"),
    (f'{PLAIN_MODULE} required password=1234;', "character 75: unexpected character"),
    (f'{PLAIN_MODULE} required password="a" password="b";', "entry 1, character 79: password is set more than once"),
    (f'"{PLAIN_MODULE}" required;', "entry 1, character 1: expected a login module class name"),
])
def test_jaas_syntax_errors_named(jaas, fragment):
    message = config_error(sasl_options(jaas))

    assert fragment in message


@pytest.mark.parametrize("mechanism", ["GSSAPI", "OAUTHBEARER"])
def test_gssapi_oauth_mechanisms_rejected(mechanism):
    message = config_error(sasl_options(f'{PLAIN_MODULE} required username="u" password="p";', mechanism))

    assert (f"kafka.options.sasl.mechanism: {mechanism} does not use the username and password of the login "
            "module") in message


def test_missing_mechanism_rejected():
    message = config_error(sasl_options(f'{SCRAM_MODULE} required username="u" password="p";', mechanism=None))

    assert "kafka.options.sasl.mechanism: is not set, so both clients use their default GSSAPI" in message


@pytest.mark.parametrize("mechanism", ["plain", "SCRAM-SHA-1"])
def test_unknown_mechanism_rejected(mechanism):
    message = config_error(sasl_options(f'{SCRAM_MODULE} required username="u" password="p";', mechanism))

    assert "is not a mechanism name that the clients know (names are case-sensitive" in message


def test_store_types_stripped_and_case_insensitive():
    options = {"ssl.truststore.type": " pem ", "ssl.truststore.location": "/etc/kafka/ca.pem",
               "ssl.keystore.type": "Pkcs12\n", "ssl.keystore.location": "/etc/kafka/client.p12"}

    config = librdkafka_config(options, "k1:9093")

    assert config["ssl.ca.location"] == "/etc/kafka/ca.pem"
    assert config["ssl.keystore.location"] == "/etc/kafka/client.p12"


def test_pkcs12_truststore_file_rejected_accurately():
    message = config_error({"ssl.truststore.type": "PKCS12", "ssl.truststore.location": "/etc/kafka/trust.p12"})

    assert "kafka.options.ssl.truststore.location: librdkafka" in message
    assert "cannot read a PKCS12 truststore" in message
    assert "JKS" not in message


def test_pem_keystore_file_rejected_accurately():
    message = config_error({"ssl.keystore.type": "PEM", "ssl.keystore.location": "/etc/kafka/client.pem"})

    assert "kafka.options.ssl.keystore.location: librdkafka" in message
    assert "cannot read a PEM keystore file" in message
    assert "ssl.keystore.certificate.chain and ssl.keystore.key" in message
    assert "JKS" not in message


def test_unknown_store_type_rejected():
    message = config_error({"ssl.truststore.type": "BKS", "ssl.truststore.location": "/etc/kafka/trust.bks"})

    assert "ssl.truststore.type must be JKS, PKCS12 or PEM (the value is not shown)" in message


def test_every_problem_reported_at_once():
    options = {"ssl.truststore.type": "PKCS12", "ssl.truststore.location": "/t",
               "ssl.keystore.type": "PEM", "ssl.keystore.location": "/k",
               "sasl.jaas.config": f'{PLAIN_MODULE} required username="u";'}

    message = config_error(options)

    assert "cannot read a PKCS12 truststore" in message
    assert "cannot read a PEM keystore file" in message
    assert 'has no password="..."' in message
    assert "kafka.options.sasl.mechanism: is not set" in message


SECRET_CASES = [
    sasl_options(f'{PLAIN_MODULE} required username="u" password="{SECRET}"; {SCRAM_MODULE} required;'),
    sasl_options(f'{PLAIN_MODULE} required username="u" password="{SECRET}'),
    sasl_options(f'{PLAIN_MODULE} required username="u" password="{SECRET}\\n";'),
    sasl_options(f'{PLAIN_MODULE} required username="u" password=my {SECRET};'),
    sasl_options(f'{PLAIN_MODULE} required username="u" password=my {SECRET}'),
    sasl_options(f'{PLAIN_MODULE} required username="u" {SECRET}="a" {SECRET}="b";'),
    sasl_options(f'{PLAIN_MODULE} required username="u" password=[{SECRET}];'),
    sasl_options(f'{PLAIN_MODULE} required username="u" password="{SECRET}";', mechanism=SECRET),
    sasl_options(f'{PLAIN_MODULE} required username="u" password="{SECRET}";', mechanism="GSSAPI"),
    sasl_options(f'{PLAIN_MODULE} required username="{SECRET}";'),
    sasl_options(f'{PLAIN_MODULE} {SECRET} username="u" password="p";'),
    sasl_options(f'org.example.{SECRET} required username="u" password="{SECRET}";'),
    sasl_options(f'{SECRET}.PlainLoginModule required username="u" password="p";', mechanism=None),
    sasl_options(f"{SECRET}"),
    {"ssl.truststore.type": SECRET, "ssl.truststore.location": f"/etc/{SECRET}"},
    {"ssl.keystore.type": SECRET, "ssl.keystore.location": f"/etc/{SECRET}", "ssl.keystore.password": SECRET},
    {"ssl.truststore.location": f"/etc/{SECRET}.jks", "ssl.truststore.password": SECRET},
    {"ssl.keystore.type": "PEM", "ssl.keystore.location": f"/etc/{SECRET}.pem", "ssl.key.password": SECRET},
]


@pytest.mark.parametrize("options", SECRET_CASES)
def test_error_messages_never_show_values(options):
    message = config_error(options)

    assert SECRET not in message
    assert SECRET.lower() not in message.lower()
