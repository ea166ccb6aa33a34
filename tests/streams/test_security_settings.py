"""Kafka SASL/TLS settings reach every client: the Faust app, aiokafka and kafka-python."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from streams.security import aiokafka_security, faust_credentials, ssl_context
from streams.settings import Settings


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:  # pragma: no cover - openssl is a system requirement here
        pytest.fail("openssl is needed to make a test CA")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=distillguard-test-ca", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt")],
                   check=True, capture_output=True)
    return d / "ca.crt"


def test_plaintext_by_default() -> None:
    s = Settings()
    assert faust_credentials(s) is None and ssl_context(s) is None
    assert aiokafka_security(s) == {"security_protocol": "PLAINTEXT"}


def test_sasl_scram_over_tls_from_the_environment(monkeypatch: pytest.MonkeyPatch, ca_file: Path) -> None:
    for name, value in {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                        "KAFKA_SASL_USERNAME": "dg", "KAFKA_SASL_PASSWORD": "s3cret",
                        "KAFKA_SSL_CAFILE": str(ca_file)}.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    creds = faust_credentials(s)
    assert creds.mechanism.value == "SCRAM-SHA-512" and creds.username == "dg" and creds.password == "s3cret"
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    assert creds.ssl_context.verify_mode == ssl.CERT_REQUIRED and creds.ssl_context.check_hostname
    kw = aiokafka_security(s)
    assert kw["security_protocol"] == "SASL_SSL" and kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kw["sasl_plain_username"] == "dg" and kw["sasl_plain_password"] == "s3cret"
    assert isinstance(kw["ssl_context"], ssl.SSLContext)
    kp = s.kafka_python_security()
    assert kp["security_protocol"] == "SASL_SSL" and kp["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kp["ssl_cafile"] == str(ca_file)


def test_sasl_plain_without_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "dg")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    s = Settings()
    creds = faust_credentials(s)
    assert creds.mechanism.value == "PLAIN" and creds.ssl_context is None
    assert "ssl_context" not in aiokafka_security(s)


def test_tls_only_with_a_missing_ca_file_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/nonexistent/ca.crt")
    with pytest.raises(OSError):
        faust_credentials(Settings())


def test_an_unknown_protocol_or_mechanism_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "GSSAPI")
    with pytest.raises(ValueError):
        Settings()
