"""Locate a ``helm`` binary for the chart tests, building a pinned one if needed.

Order of preference:

1. ``$DISTILLGUARD_HELM`` (explicit path),
2. ``helm`` on ``PATH``,
3. ``<repo>/.cache/bin/helm`` if it was built before and reports the pinned version,
4. build it with ``go install helm.sh/helm/v3/cmd/helm@<HELM_VERSION>`` into ``<repo>/.cache/bin``.
   GOPATH, GOMODCACHE and GOCACHE live under ``<repo>/.cache/go`` so the module download and
   the build cache are kept with the project (``.cache/`` is git-ignored). A file lock
   (``.cache/bin/helm.lock``) keeps two concurrent test sessions from building at once.

The first build takes a few minutes on two cores (measured: 207 s cold incl. module download,
320 s full recompile with the release ldflags under load; see ``python -m tests.deploy.helm_tool``,
which prints the elapsed time); later sessions reuse the cached binary instantly.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HELM_VERSION = "v3.16.4"
HELM_MODULE = "helm.sh/helm/v3/cmd/helm"
# helm v3.16.x is built against k8s.io/client-go v0.31; the release Makefile stamps that (and the
# version) with -X. A plain `go install` would report "v3.16" and default Capabilities.KubeVersion
# to v1.20.0, so we pass the same ldflags as the release build.
HELM_K8S_MINOR = "31"
HELM_LDFLAGS = " ".join(
    [
        "-s",
        "-w",
        f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
        "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
        f"-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor={HELM_K8S_MINOR}",
        "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1",
        f"-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor={HELM_K8S_MINOR}",
    ]
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache"
BIN_DIR = CACHE_DIR / "bin"
GO_DIR = CACHE_DIR / "go"


class HelmUnavailable(RuntimeError):
    """Raised when no helm binary can be found or built."""


def _version_of(helm: str) -> str | None:
    try:
        out = subprocess.run(
            [helm, "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOBIN=str(BIN_DIR),
        GOPATH=str(GO_DIR),
        GOMODCACHE=str(GO_DIR / "pkg" / "mod"),
        GOCACHE=str(GO_DIR / "build-cache"),
        GOFLAGS="-mod=mod -buildvcs=false",
        CGO_ENABLED="0",
    )
    env.setdefault("GOPROXY", "https://proxy.golang.org,direct")
    return env


def build_helm(version: str = HELM_VERSION) -> Path:
    """Build helm ``version`` into ``.cache/bin`` (no-op when already there). Returns the path."""
    go = shutil.which("go")
    if go is None:
        raise HelmUnavailable("helm is not on PATH and no Go toolchain is available to build it")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    target = BIN_DIR / "helm"
    with open(BIN_DIR / "helm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building right now
        if target.exists() and _version_of(str(target)) == version:
            return target
        proc = subprocess.run(
            [go, "install", "-trimpath", f"-ldflags={HELM_LDFLAGS}", f"{HELM_MODULE}@{version}"],
            env=_go_env(),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not target.exists():
            raise HelmUnavailable(
                f"`go install {HELM_MODULE}@{version}` failed (rc={proc.returncode}):\n"
                f"{proc.stderr[-4000:]}"
            )
    return target


def find_helm() -> str:
    """Return a usable helm executable path, building the pinned version if necessary."""
    explicit = os.environ.get("DISTILLGUARD_HELM")
    if explicit:
        if _version_of(explicit) is None:
            raise HelmUnavailable(f"DISTILLGUARD_HELM={explicit} is not a working helm")
        return explicit
    on_path = shutil.which("helm")
    if on_path and (_version_of(on_path) or "").startswith("v3."):
        return on_path
    cached = BIN_DIR / "helm"
    if cached.exists() and _version_of(str(cached)) == HELM_VERSION:
        return str(cached)
    return str(build_helm())


def main() -> int:
    t0 = time.monotonic()
    helm = find_helm()
    elapsed = time.monotonic() - t0
    print(f"{helm} {_version_of(helm)} (resolved in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
