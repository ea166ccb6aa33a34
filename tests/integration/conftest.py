"""Fixtures for tests that run real workers against the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers import Deployment, finish


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def deployment_factory(kafka_bootstrap: str, tmp_path: Path,
                       request: pytest.FixtureRequest) -> Iterator[Callable[..., Deployment]]:
    """Make deployments (own topics, group, data dirs); all their workers stop at teardown."""
    made: list[Deployment] = []

    def make(partitions: int = 2, create_topics: bool = True, **extra_env: str) -> Deployment:
        dep = Deployment(kafka_bootstrap, tmp_path / f"dep{len(made)}", dict(extra_env), partitions)
        dep.base.mkdir(parents=True)
        if create_topics:
            dep.create_topics()
        made.append(dep)
        return dep

    yield make
    finish(made, request)
