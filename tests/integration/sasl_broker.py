"""A private Apache Kafka broker that requires SASL (PLAIN and SCRAM-SHA-256), for tests.

Started the way ``deploy/kafka/kafka.sh`` starts the project's broker (same cached jars, a
log4j2 file, ``kafka.tools.StorageTool format`` then ``kafka.Kafka``), but on free ports, in
its own directory, with one ``SASL_PLAINTEXT`` client listener and these accounts:

* PLAIN: ``admin``/``admin-secret`` (also used broker-to-broker), ``alice``/``alice-secret``;
* SCRAM-SHA-256: ``bob``/``bob-secret`` (written into the metadata log at format time).

Also SASL-capable variants of ``tests.integration.workers.produce``/``consume``.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.broker import KAFKA_SH
from tests.integration.workers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.4.0")
ADMIN = ("PLAIN", "admin", "admin-secret")
PLAIN_USERS = {"admin": "admin-secret", "alice": "alice-secret"}
SCRAM_USERS = {"bob": "bob-secret"}

LOG4J2 = """\
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.apiversions.name = org.apache.kafka.clients
logger.apiversions.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


class BrokerStartError(RuntimeError):
    """The SASL broker did not come up; the message ends with the tail of its log."""


def libs_dir() -> Path:
    """Where deploy/kafka/kafka.sh caches the Kafka jars (same env vars, same default)."""
    cache = Path(os.environ.get("KAFKA_CACHE_DIR") or REPO_ROOT / ".cache")
    return cache / "kafka" / KAFKA_VERSION / "libs"


def kafka_libs() -> Path | None:
    """The cached Kafka jars directory, or None if the jars are not there."""
    libs = libs_dir()
    return libs if any(libs.glob("kafka_2.13-*.jar")) else None


def ensure_kafka_libs() -> str | None:
    """Make sure the Kafka jars are cached (``kafka.sh jars``); why not, or None when they are.

    Only a machine without Java or Maven - the documented requirements of the local broker,
    absent where the session broker comes from Docker - cannot have them. Anywhere else a
    failed resolution raises :class:`BrokerStartError` with Maven's output.
    """
    if kafka_libs() is not None:
        return None
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not on PATH and no Kafka jars cached in {libs_dir()}"
    proc = subprocess.run(["bash", str(KAFKA_SH), "jars"],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or kafka_libs() is None:
        raise BrokerStartError(f"kafka.sh jars failed ({proc.returncode}):\n{proc.stdout[-2000:]}"
                               f"{proc.stderr[-2000:]}")
    return None


def security(mechanism: str, username: str, password: str) -> dict[str, Any]:
    """kafka-python keyword arguments for SASL_PLAINTEXT with these credentials."""
    return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
            "sasl_plain_username": username, "sasl_plain_password": password}


def worker_env(mechanism: str, username: str, password: str) -> dict[str, str]:
    """The environment variables (``streams.settings``) that make distillguard use SASL."""
    return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": mechanism,
            "KAFKA_SASL_USERNAME": username, "KAFKA_SASL_PASSWORD": password}


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGKILL the broker if the test process dies without tearing it down."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class SaslBroker:
    """One running broker process."""

    base: Path
    port: int
    controller_port: int
    proc: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.base / "kafka.log"

    def log(self, since: int = 0) -> str:
        """The broker log from byte offset ``since``."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(since)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM (controlled shutdown), SIGKILL if still alive after ``timeout_s``."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def _properties(data_dir: Path, port: int, cport: int) -> str:
    plain_users = " ".join(f'user_{u}="{p}"' for u, p in PLAIN_USERS.items())
    _, admin_user, admin_password = ADMIN
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="{admin_user}" password="{admin_password}" {plain_users};
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs={data_dir}
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
"""


def _java(base: Path, libs: Path, *args: str) -> list[str]:
    return ["java", "-Xmx384m", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={base / 'log4j2.properties'}",
            "-cp", f"{libs}/*", *args]


def answers(bootstrap: str, mechanism: str, username: str, password: str,
            timeout_s: float = 3) -> bool:
    """True if ``bootstrap`` answers a Metadata request authenticated with these credentials."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="dgtest-sasl-probe",
                                 request_timeout_ms=int(timeout_s * 1000),
                                 bootstrap_timeout_ms=int(timeout_s * 1000),
                                 **security(mechanism, username, password))
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def _start_once(base: Path, libs: Path, timeout_s: float) -> SaslBroker:
    base.mkdir(parents=True, exist_ok=True)
    port, cport = free_port(), free_port()
    while cport == port:
        cport = free_port()
    data_dir = base / "data"
    props = base / "server.properties"
    props.write_text(_properties(data_dir, port, cport))
    (base / "log4j2.properties").write_text(LOG4J2)
    log_path = base / "kafka.log"
    # an id starting with "-" is read by the storage tool's argument parser as an option (1 in
    # 64 here: this failed a CI run); Kafka's own Uuid.randomUuid never hands those out
    cluster_id = "-"
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    scram = [arg for user, pw in SCRAM_USERS.items()
             for arg in ("--add-scram", f"SCRAM-SHA-256=[name={user},password={pw}]")]
    with log_path.open("ab") as log:
        fmt = subprocess.run(_java(base, libs, "kafka.tools.StorageTool", "format",
                                   "-t", cluster_id, "-c", str(props), "--ignore-formatted",
                                   *scram),
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             timeout=120, check=False)
    if fmt.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise BrokerStartError(f"kafka.tools.StorageTool format exited {fmt.returncode}:"
                               f"\n{tail}")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(_java(base, libs, "kafka.Kafka", str(props)), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    broker = SaslBroker(base, port, cport, proc)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if proc.poll() is not None:
                raise BrokerStartError(f"SASL broker exited with {proc.returncode} before "
                                       f"answering on {broker.bootstrap}:\n{broker.log_tail()}")
            if answers(broker.bootstrap, *ADMIN):
                return broker
            if time.monotonic() > deadline:
                raise BrokerStartError(f"SASL broker did not answer an authenticated Metadata "
                                       f"request on {broker.bootstrap} within {timeout_s:.0f} s:"
                                       f"\n{broker.log_tail()}")
            time.sleep(0.5)
    except BaseException:
        broker.stop(timeout_s=5)
        raise


def start_sasl_broker(base: Path, timeout_s: float = 90) -> SaslBroker:
    """Format and start a broker under ``base``; return once it answers SASL requests.

    Raises :class:`BrokerStartError` (with the log tail) if it does not within ``timeout_s``.
    A port grabbed by someone else between picking and binding gets one retry on new ports.
    """
    libs = kafka_libs()
    if libs is None:
        raise BrokerStartError(f"no Kafka jars in {libs_dir()} (see ensure_kafka_libs)")
    try:
        return _start_once(base / "try0", libs, timeout_s)
    except BrokerStartError as exc:
        if "Address already in use" not in str(exc):
            raise
    return _start_once(base / "try1", libs, timeout_s)
