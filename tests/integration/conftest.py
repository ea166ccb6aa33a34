"""Fixtures for tests that run real workers against the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.workers import Deployment


@pytest.fixture
def deployment_factory(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Make deployments (own topics, group, data dirs); all their workers stop at teardown."""
    made: list[Deployment] = []

    def make(partitions: int = 2, **extra_env: str) -> Deployment:
        dep = Deployment(kafka_bootstrap, tmp_path / f"dep{len(made)}", dict(extra_env), partitions)
        dep.base.mkdir(parents=True)
        dep.create_topics()
        made.append(dep)
        return dep

    yield make
    for dep in made:
        dep.stop_all()
