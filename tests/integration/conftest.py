"""Fixtures for tests that run real workers against the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers import Deployment


#: worker log lines that say nothing about a failure (group joins retried every 100 ms)
_NOISE = ("coordinator dead", "Discovered coordinator", "(Re-)joining group")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _print_worker_logs(dep: Deployment, lines: int = 80) -> None:
    """The end of each worker's log, without the join-retry noise: what CI shows on a failure."""
    for n, worker in enumerate(dep.workers):
        tail = [ln for ln in worker.log().splitlines() if not any(x in ln for x in _NOISE)]
        print(f"\n----- {dep.base.name} worker {n} (exit {worker.proc.poll()}), last {lines} lines -----")
        print("\n".join(ln[:300] for ln in tail[-lines:]))


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
    for dep in made:
        dep.stop_all()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for dep in made:
            _print_worker_logs(dep)
