"""Fixtures for the deployment-artefact tests (chart, compose file, Dockerfile, dashboard)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.helm_tool import HelmUnavailable, find_helm

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def helm_bin() -> str:
    """Path to a helm v3 binary: PATH, the project cache, or built once with `go install`."""
    try:
        return find_helm()
    except HelmUnavailable as exc:  # no helm and no Go toolchain: nothing to test the chart with
        pytest.skip(f"helm unavailable: {exc}")
