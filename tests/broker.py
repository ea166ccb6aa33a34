"""pytest plugin: a real Kafka broker for integration tests.

Registered from tests/conftest.py with ``pytest_plugins = ["tests.broker"]``.

Fixtures
--------
``kafka_broker``        session: :class:`BrokerInfo` (bootstrap, source, description, started_here).
``kafka_bootstrap``     session: ``"host:port"`` of a broker that answers Kafka API requests.
``kafka_topic_factory`` function: ``make(prefix="t", partitions=1, config=None) -> topic name``;
                        creates uniquely named topics and deletes them after the test.

Broker selection, first match wins:
  (a) ``KAFKA_BOOTSTRAP_SERVERS`` is set -> used as is (waits up to 30 s for it to answer);
  (b) a Docker engine answers (5 s) -> testcontainers, generic ``apache/kafka`` image
      (``KAFKA_TEST_IMAGE``, default ``apache/kafka:4.1.1`` like docker-compose.yml), KRaft
      single node;
      set ``KAFKA_TEST_NO_DOCKER=1`` to skip this step;
  (c) ``deploy/kafka/kafka.sh up`` (local Apache Kafka from Maven Central, no Docker), with
      ``PYTHON=sys.executable``. Stopped at session end only if this fixture started it.

The broker in use is printed when the fixture is set up and again in the terminal summary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
WAIT_READY = REPO_ROOT / "deploy" / "kafka" / "wait_ready.py"
DEFAULT_TEST_IMAGE = "apache/kafka:4.1.1"

SOURCE_ENV = "env"
SOURCE_DOCKER = "testcontainers"
SOURCE_LOCAL = "local"


@dataclasses.dataclass
class BrokerInfo:
    bootstrap: str
    source: str  # "env" | "testcontainers" | "local"
    description: str
    started_here: bool = False


_BROKER: BrokerInfo | None = None


# --------------------------------------------------------------------------- helpers
def _wait_ready_module():
    spec = importlib.util.spec_from_file_location("distillguard_wait_ready", WAIT_READY)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def wait_for_broker(bootstrap: str, timeout_s: float = 60.0) -> bool:
    """True once ``bootstrap`` answers a real Kafka Metadata request, False after ``timeout_s``."""
    return _wait_ready_module().wait_ready(bootstrap, timeout_s) is not None


def _kafka_home() -> Path:
    return Path(os.environ.get("KAFKA_HOME_DIR") or REPO_ROOT / ".kafka")


def _local_kind() -> str:
    try:
        return (_kafka_home() / "kafka.kind").read_text().strip()
    except OSError:
        return ""


def _describe_local(bootstrap: str, started: bool) -> str:
    kind = _local_kind()
    how = "started by this test session" if started else "already running"
    if kind.startswith("apache-kafka"):
        version = kind.split()[-1]
        return f"local Apache Kafka {version} (jars from Maven Central, {how}) at {bootstrap}"
    if kind.startswith("tansu"):
        return f"local Tansu fallback broker [{kind}] ({how}) at {bootstrap}"
    return f"already-running broker at {bootstrap} (not started by deploy/kafka/kafka.sh)"


def _docker_available(timeout_s: float = 5.0) -> bool:
    if os.environ.get("KAFKA_TEST_NO_DOCKER") == "1":
        return False
    if shutil.which("docker"):
        try:
            r = subprocess.run(
                ["docker", "info"], capture_output=True, timeout=timeout_s, check=False
            )
            return r.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
    try:
        import docker

        client = docker.from_env(timeout=int(timeout_s))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no engine, no SDK, bad DOCKER_HOST: all mean "no Docker"
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_testcontainer():
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient

    image = os.environ.get("KAFKA_TEST_IMAGE", DEFAULT_TEST_IMAGE)
    host = DockerClient().host()
    host = "127.0.0.1" if host in ("localhost", "") else host
    port = _free_port()
    container = (
        DockerContainer(image)
        .with_bind_ports(9092, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://{host}:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="4",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_NUM_PARTITIONS="4",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="true",
        )
    )
    container.start()
    bootstrap = f"{host}:{port}"
    if not wait_for_broker(bootstrap, 120):
        stdout, stderr = container.get_logs()
        logs = (stdout + stderr).decode(errors="replace")[-3000:]
        container.stop()
        raise RuntimeError(f"Kafka container {image} did not become ready on {bootstrap}:\n{logs}")
    return container, BrokerInfo(
        bootstrap, SOURCE_DOCKER, f"Apache Kafka container {image} (testcontainers) at {bootstrap}"
    )


def _run_kafka_sh(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(
        ["bash", str(KAFKA_SH), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def _sessions_lock() -> Iterator[Path]:
    """Serialise local-broker bookkeeping between concurrent pytest processes (xdist, users)."""
    home = _kafka_home()
    (home / "sessions").mkdir(parents=True, exist_ok=True)
    with open(home / ".sessions.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield home
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _local_broker() -> tuple[BrokerInfo, Callable[[], None]]:
    """Use (or start) the deploy/kafka broker; leases make concurrent sessions share it safely.

    Every session using the local broker holds a lease ``.kafka/sessions/<pid>``. A broker
    started by a test session is marked in ``.kafka/started_by_tests`` (its pid); the last session
    to leave stops it, so one session never pulls the broker from under another. A broker started
    by hand (``kafka.sh up`` / ``make kafka-up``) carries no marker and is never stopped by tests.
    """
    port = os.environ.get("KAFKA_PORT", "9092")
    bootstrap = f"127.0.0.1:{port}"
    me = os.getpid()
    with _sessions_lock() as home:
        marker = home / "started_by_tests"
        if wait_for_broker(bootstrap, 3):
            started = False
        else:
            # Cold start resolves jars from Maven Central first; be generous.
            r = _run_kafka_sh("up", timeout=600)
            if r.returncode != 0:
                pytest.fail(
                    f"deploy/kafka/kafka.sh up failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr}"
                )
            started = "already running" not in r.stdout
            broker_pid = _read_int(home / "kafka.pid")
            if started and broker_pid is not None:
                marker.write_text(f"{broker_pid}\n")
        (home / "sessions" / str(me)).write_text(f"{me}\n")
    info = BrokerInfo(bootstrap, SOURCE_LOCAL, _describe_local(bootstrap, started=started), started)

    def release() -> None:
        with _sessions_lock() as home:
            leases = home / "sessions"
            (leases / str(me)).unlink(missing_ok=True)
            others = []
            for lease in leases.iterdir():
                pid = _read_int(lease)
                if pid is not None and pid != me and _pid_alive(pid):
                    others.append(pid)
                else:
                    lease.unlink(missing_ok=True)
            marker = home / "started_by_tests"
            owner_pid = _read_int(marker)
            if others or owner_pid is None:
                return
            if owner_pid == _read_int(home / "kafka.pid"):
                _run_kafka_sh("down", timeout=60)
            marker.unlink(missing_ok=True)

    return info, release


def _announce(config: pytest.Config, text: str) -> None:
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line("")
        tr.write_line(f"kafka broker: {text}", bold=True)
    else:
        print(f"kafka broker: {text}", file=sys.stderr)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[BrokerInfo]:
    global _BROKER
    config = request.config
    cleanup: Callable[[], None] | None = None

    env_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if env_bootstrap:
        if not wait_for_broker(env_bootstrap, 30):
            pytest.fail(
                f"KAFKA_BOOTSTRAP_SERVERS={env_bootstrap} does not answer Kafka requests (30 s)"
            )
        info = BrokerInfo(
            env_bootstrap,
            SOURCE_ENV,
            f"external broker from KAFKA_BOOTSTRAP_SERVERS at {env_bootstrap}",
        )
    elif _docker_available():
        container, info = _start_testcontainer()
        cleanup = container.stop
    else:
        info, cleanup = _local_broker()
    _BROKER = info
    _announce(config, info.description)
    try:
        yield info
    finally:
        if cleanup is not None:
            cleanup()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerInfo) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_topic_factory(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="distillguard-tests")
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        admin.create_topics(
            [
                NewTopic(
                    name=name,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs=config or {},
                )
            ],
            timeout_ms=30_000,
        )
        created.append(name)
        _wait_topic_ready(admin, name, partitions)
        return name

    try:
        yield make
    finally:
        if created:
            with contextlib.suppress(Exception):
                admin.delete_topics(created, timeout_ms=30_000)
        admin.close()


def _wait_topic_ready(admin, name: str, partitions: int, timeout_s: float = 30.0) -> None:
    """Wait until every partition of ``name`` has a leader in the cluster metadata."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(Exception):
            (desc,) = admin.describe_topics([name])
            parts = desc.get("partitions") or []
            leaders = [p.get("leader_id", p.get("leader")) for p in parts]
            if len(parts) == partitions and all(isinstance(x, int) and x >= 0 for x in leaders):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {name} not ready after {timeout_s}s")
        time.sleep(0.2)


# --------------------------------------------------------------------------- reporting
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _BROKER is not None:
        terminalreporter.write_sep("-", "kafka broker")
        terminalreporter.write_line(f"kafka broker: {_BROKER.description}")
