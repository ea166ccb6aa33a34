"""docker-compose.yml: a single-node KRaft broker, topic creation, scalable workers, a replay profile."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SPEC = Path(__file__).with_name("data") / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env(service: dict) -> dict[str, str]:
    e = service.get("environment", {})
    if isinstance(e, list):
        e = dict(item.split("=", 1) for item in e)
    return {k: str(v) for k, v in e.items()}


def test_matches_compose_specification(compose):
    schema = json.loads(SPEC.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, errors


def test_services(services):
    assert {"kafka", "create-topics", "worker", "replay"} <= services.keys()
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    image = services["worker"]["image"]
    for name in ("create-topics", "worker", "replay"):
        svc = services[name]
        assert svc["image"] == image  # one distillguard image for all app services
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (REPO / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
    assert services["create-topics"]["command"] == ["create-topics"]
    assert services["worker"]["command"] == ["worker"]


def test_kafka_kraft_single_node(services):
    kafka = services["kafka"]
    e = env(kafka)
    # the image ignores its default server.properties once any KAFKA_* var is set: all KRaft keys needed
    for key in ("KAFKA_NODE_ID", "KAFKA_PROCESS_ROLES", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENERS",
                "KAFKA_ADVERTISED_LISTENERS", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                "KAFKA_INTER_BROKER_LISTENER_NAME", "KAFKA_CONTROLLER_LISTENER_NAMES", "CLUSTER_ID",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_LOG_DIRS"):
        assert e.get(key), key
    assert set(e["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = e["KAFKA_NODE_ID"]
    voter_id, voter_addr = e["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert voter_id == node_id
    listeners = dict(item.split("://") for item in e["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in e["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols) and set(advertised) <= set(protocols)
    controller = e["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert voter_addr == f"kafka:{listeners[controller].rsplit(':', 1)[1]}"
    assert controller not in advertised
    # host clients and containers each have an advertised listener that matches a bound port
    by_addr = {addr: name for name, addr in advertised.items()}
    assert "localhost:9092" in by_addr and "kafka:19092" in by_addr
    for addr, name in by_addr.items():
        assert listeners[name].endswith(":" + addr.rsplit(":", 1)[1])
    assert e["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert "9092:9092" in [str(p) for p in kafka["ports"]]

    hc = kafka["healthcheck"]
    test = " ".join(hc["test"]) if isinstance(hc["test"], list) else hc["test"]
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in test
    assert hc["retries"] >= 3


def test_startup_order(services):
    assert services["create-topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("worker", "replay"):
        deps = services[name]["depends_on"]
        assert deps["create-topics"]["condition"] == "service_completed_successfully", name
        assert deps["kafka"]["condition"] == "service_healthy", name


def test_app_services_use_the_container_listener(services):
    advertised = env(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for name in ("create-topics", "worker", "replay"):
        bootstrap = env(services[name])["KAFKA_BOOTSTRAP_SERVERS"]
        assert bootstrap == "kafka:19092", name
        assert f"//{bootstrap}" in advertised
    assert env(services["worker"])["DISTILLGUARD_REPLICATION_FACTOR"] == "1"  # single broker


def test_worker_scales_without_shared_state(compose, services):
    worker = services["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert "container_name" not in worker  # would prevent replicas
    # no fixed host port (two replicas cannot bind the same one)
    for port in worker.get("ports", []):
        assert ":" not in str(port), port
    # the RocksDB dir must not be a volume shared by the replicas
    for vol in worker.get("volumes", []):
        spec = vol if isinstance(vol, str) else f"{vol.get('source', '')}:{vol.get('target', '')}"
        assert "/var/lib/distillguard" not in spec, f"shared data volume across replicas: {vol}"


def test_replay_profile(services):
    replay = services["replay"]
    assert replay["profiles"] == ["replay"]
    cmd = replay["command"]
    assert cmd[0] == "replay"
    assert cmd[cmd.index("--bootstrap-servers") + 1] == "kafka:19092"
    assert "--max-speed" in cmd
    capture = cmd[1]
    assert capture.startswith("/app/streams/data/") and capture.endswith(".jsonl.gz")
    # the capture path inside the container is backed by the repo's streams/data directory
    mounts = [v.split(":") for v in replay["volumes"]]
    (host, target, *_), = [m for m in mounts if capture.startswith(m[1] + "/")]
    assert (REPO / host).resolve() == REPO / "streams" / "data"
    assert target == "/app/streams/data"
    assert (REPO / host / capture[len(target) + 1:]).is_file(), "demo capture missing from streams/data/"
    for name in ("kafka", "create-topics", "worker"):
        assert "profiles" not in services[name], name  # the default stack starts without --profile


def _compose_cli() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return cmd
    return None


def test_docker_compose_config():
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no working `docker compose` / `docker-compose` (the compose plugin is not installed)")
    proc = subprocess.run([*cli, "-f", str(COMPOSE), "--profile", "replay", "config", "-q"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
