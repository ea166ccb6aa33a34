"""Finding or starting a Kafka broker for the demo and the benchmark.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` if it answers; ``docker compose up -d kafka`` where a
Docker engine answers; otherwise the project's local Apache Kafka (``deploy/kafka/kafka.sh``).
:class:`BrokerHandle` stops only what it started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BrokerHandle", "ensure_broker", "reachable", "REPO"]

REPO = Path(__file__).resolve().parent.parent


def reachable(bootstrap: str, timeout_s: float = 1.0) -> bool:
    """True when a TCP connection to any bootstrap host succeeds."""
    for hostport in bootstrap.split(","):
        host, _, port = hostport.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _docker_engine() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class BrokerHandle:
    """A broker in use: its address, how it came, and whether we must stop it."""

    bootstrap: str
    how: str
    started: bool

    def stop(self) -> None:
        """Stop the broker only if this process started it."""
        if not self.started:
            return
        if self.how == "docker compose":
            subprocess.run(["docker", "compose", "stop", "kafka"], cwd=REPO, check=False)
        else:
            subprocess.run(["bash", str(REPO / "deploy/kafka/kafka.sh"), "down"], check=False)


def ensure_broker(default: str = "127.0.0.1:9092") -> BrokerHandle:
    """Return a reachable broker, starting one if needed."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        if not reachable(env, 3.0):
            raise RuntimeError(f"KAFKA_BOOTSTRAP_SERVERS={env} does not answer")
        return BrokerHandle(env, "KAFKA_BOOTSTRAP_SERVERS", started=False)
    if reachable(default):
        return BrokerHandle(default, "already running", started=False)
    if _docker_engine():
        subprocess.run(["docker", "compose", "up", "-d", "--wait", "kafka"], cwd=REPO, check=True)
        return BrokerHandle(default, "docker compose", started=True)
    env_vars = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(REPO / "deploy/kafka/kafka.sh"), "up"], check=True, env=env_vars)
    return BrokerHandle(default, "local Apache Kafka (deploy/kafka)", started=True)
