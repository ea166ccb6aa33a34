#!/usr/bin/env python3
"""Wait until a Kafka broker really answers Kafka API requests.

    python deploy/kafka/wait_ready.py [--bootstrap 127.0.0.1:9092] [--timeout 120] [--quiet]

Exit status 0 once the broker answered a Metadata request that lists at least one broker,
1 on timeout. Uses kafka-python when it is importable; otherwise (or with --raw) speaks the
Kafka wire protocol directly over a socket: ApiVersions v0 followed by Metadata v0.
Standard library only apart from the optional kafka-python; importable (see ``probe``).
"""

from __future__ import annotations

import argparse
import logging
import socket
import struct
import sys
import time

CLIENT_ID = b"distillguard-wait-ready"


def _split(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return (host or "127.0.0.1").strip("[]"), int(port or 9092)


# --------------------------------------------------------------------------- raw protocol
def _request(sock: socket.socket, api_key: int, api_version: int, corr: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, api_version, corr, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    data = _recv_exact(sock, size)
    (got_corr,) = struct.unpack(">i", data[:4])
    if got_corr != corr:
        raise ConnectionError(f"correlation id mismatch {got_corr} != {corr}")
    return data[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def probe_raw(bootstrap: str, timeout_s: float = 3.0) -> str | None:
    """Return a short description if the broker answers, else None."""
    host, port = _split(bootstrap)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            # ApiVersions v0: empty body. Response: error_code int16, [api_key, min, max].
            resp = _request(sock, 18, 0, 1, b"")
            (err,) = struct.unpack(">h", resp[:2])
            if err != 0:
                return None
            (n_apis,) = struct.unpack(">i", resp[2:6])
            # Metadata v0 with an empty topic array (= all topics). Response starts with brokers.
            resp = _request(sock, 3, 0, 2, struct.pack(">i", 0))
            (n_brokers,) = struct.unpack(">i", resp[:4])
            if n_brokers < 1:
                return None
            return f"ApiVersions ok ({n_apis} apis), Metadata ok ({n_brokers} broker(s))"
    except (OSError, ConnectionError, struct.error):
        return None


# --------------------------------------------------------------------------- kafka-python
def probe_kafka_python(bootstrap: str, timeout_s: float = 3.0) -> str | None:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    ms = int(timeout_s * 1000)
    admin = None
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id=CLIENT_ID.decode(),
            request_timeout_ms=max(ms, 1000),
            reconnect_backoff_ms=100,
            reconnect_backoff_max_ms=500,
        )
        topics = admin.list_topics()  # a real Metadata request
        try:
            cluster = admin.describe_cluster()
            brokers = cluster.get("brokers", []) if isinstance(cluster, dict) else []
            n = len(brokers)
        except Exception:  # noqa: BLE001 - non-Apache brokers may lack DescribeCluster
            n = -1
        if n == 0:
            return None
        return f"kafka-python metadata ok ({len(topics)} topic(s), {n if n > 0 else '?'} broker(s))"
    except (KafkaConfigurationError, TypeError):
        # A kafka-python version we do not understand: use the raw protocol rather than never
        # succeeding.
        return probe_raw(bootstrap, timeout_s)
    except (KafkaError, OSError, ValueError):
        return None
    except Exception:  # noqa: BLE001 - any client failure means "not ready yet"
        return None
    finally:
        if admin is not None:
            try:
                admin.close()
            except Exception:  # noqa: BLE001, S110 - closing a half-open probe client
                pass


def _port_open(bootstrap: str, timeout_s: float = 1.0) -> bool:
    host, port = _split(bootstrap)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def probe(bootstrap: str, timeout_s: float = 3.0, raw: bool = False) -> str | None:
    """One readiness probe. kafka-python if importable (and not ``raw``), raw protocol otherwise."""
    if not _port_open(bootstrap, min(timeout_s, 1.0)):
        return None
    if not raw:
        try:
            import kafka  # noqa: F401
        except ImportError:
            raw = True
    if raw:
        return probe_raw(bootstrap, timeout_s)
    return probe_kafka_python(bootstrap, timeout_s)


def wait_ready(
    bootstrap: str, timeout_s: float = 120.0, raw: bool = False, interval_s: float = 0.5
) -> str | None:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        info = probe(bootstrap, timeout_s=max(0.5, min(3.0, remaining)), raw=raw)
        if info is not None:
            return info
        if time.monotonic() + interval_s >= deadline:
            return None
        time.sleep(interval_s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (0 = a single probe)")
    p.add_argument("--raw", action="store_true", help="skip kafka-python, use the raw protocol")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # silence kafka-python connection noise
    if args.timeout <= 0:
        info = probe(args.bootstrap, raw=args.raw)
    else:
        info = wait_ready(args.bootstrap, args.timeout, raw=args.raw)
    if info is None:
        if not args.quiet:
            print(f"no Kafka broker answering on {args.bootstrap}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"broker ready on {args.bootstrap}: {info}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
