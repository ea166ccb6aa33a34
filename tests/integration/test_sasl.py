"""distillguard against a real Apache Kafka broker that requires SASL authentication.

Proven here, against a private Apache Kafka broker (KRaft, one ``SASL_PLAINTEXT`` listener,
PLAIN and SCRAM-SHA-256 enabled; see :mod:`tests.integration.sasl_broker`):

* with ``KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT`` and a PLAIN user (alice), and again with a
  SCRAM-SHA-256 user (bob), a real ``distillguard worker`` creates its topics (kafka-python
  admin, ``Settings.kafka_python_security``), becomes ready (Faust/aiokafka clients,
  ``streams.security``), consumes events and writes the volume alert, which is read back
  from the alerts topic with the same credentials;
* the broker really enforces authentication: a client with a wrong PLAIN password, a wrong
  SCRAM password, or no SASL at all is refused, and the broker's log says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration import sasl_broker as sb
from tests.integration.workers import (
    Deployment,
    assert_walking_skeleton_alert,
    consume,
    encode,
    finish,
    produce,
    walking_skeleton,
)

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, a window boundary


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sb.SaslBroker]:
    """A private SASL broker for this module, from the Kafka jars ``kafka.sh`` caches (resolved
    here if need be); always stopped at teardown."""
    try:
        reason = sb.ensure_kafka_libs()
    except sb.BrokerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    if reason is not None:  # no Java or no Maven: the machine's broker comes from Docker
        pytest.skip(f"no private SASL broker: {reason}")
    try:
        broker = sb.start_sasl_broker(tmp_path_factory.mktemp("sasl-broker"), timeout_s=90)
    except sb.BrokerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def sasl_deployment(sasl_broker: sb.SaslBroker, tmp_path: Path,
                    request: pytest.FixtureRequest) -> Iterator[Callable[..., Deployment]]:
    """Like ``deployment_factory``, on the SASL broker; topics are left to the worker."""
    made: list[Deployment] = []

    def make(mechanism: str, username: str, password: str, **extra_env: str) -> Deployment:
        env = {**sb.worker_env(mechanism, username, password), **extra_env}
        dep = Deployment(sasl_broker.bootstrap, tmp_path / f"dep{len(made)}", env)
        dep.base.mkdir(parents=True)
        made.append(dep)
        return dep

    yield make
    finish(made, request)
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"\n----- SASL broker {sasl_broker.bootstrap}, last 40 lines -----")
        print(sasl_broker.log_tail(40))


@pytest.mark.parametrize(("mechanism", "username", "password"),
                         [("PLAIN", "alice", "alice-secret"),
                          ("SCRAM-SHA-256", "bob", "bob-secret")],
                         ids=["PLAIN", "SCRAM-SHA-256"])
def test_worker_alerts_over_sasl(sasl_deployment: Callable[..., Deployment], mechanism: str,
                                 username: str, password: str) -> None:
    """A worker authenticating as ``username`` creates topics, consumes and alerts."""
    sec = sb.security(mechanism, username, password)
    dep = sasl_deployment(mechanism, username, password,
                          DISTILLGUARD_OUTPUT_TOKENS_THRESHOLD="10000")
    worker = dep.start()
    worker.wait_ready()
    assert "created topics" in worker.log()  # no topics existed: the worker made them over SASL

    produce(dep.bootstrap, dep.topics["requests"], list(encode(walking_skeleton(T0))), **sec)

    alerts = consume(dep.bootstrap, dep.topics["alerts"], timeout_s=60, **sec,
                     until=lambda got: any(a["campaign"] == "anomalous_usage" for a in got))
    assert_walking_skeleton_alert(alerts, T0)


@pytest.mark.parametrize(("client", "broker_says"), [
    ({"security_protocol": "PLAINTEXT"},
     "Unexpected Kafka request of type METADATA during SASL handshake"),
    (sb.security("PLAIN", "alice", "not-alice-secret"),
     "Authentication failed: Invalid username or password"),
    (sb.security("SCRAM-SHA-256", "bob", "not-bob-secret"),
     "invalid credentials with SASL mechanism SCRAM-SHA-256"),
], ids=["no-SASL", "PLAIN-wrong-password", "SCRAM-wrong-password"])
def test_broker_refuses_unauthenticated_clients(sasl_broker: sb.SaslBroker,
                                                client: dict[str, str], broker_says: str) -> None:
    """No metadata without valid credentials; the broker logs the refusal with its reason."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    assert sb.answers(sasl_broker.bootstrap, *sb.ADMIN)  # the broker is up and serving
    since = sasl_broker.log_size()
    started = time.monotonic()
    with pytest.raises(KafkaError):
        admin = KafkaAdminClient(bootstrap_servers=sasl_broker.bootstrap,
                                 client_id="dgtest-intruder", request_timeout_ms=3000,
                                 bootstrap_timeout_ms=3000, **client)
        try:
            admin.list_topics()
        finally:
            admin.close()
    assert time.monotonic() - started < 20
    deadline = time.monotonic() + 10
    while broker_says not in sasl_broker.log(since) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert broker_says in sasl_broker.log(since), sasl_broker.log(since)[-3000:]
