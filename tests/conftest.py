"""Fixtures: one real Kafka broker per session, fresh topics per test, the job run two modules share,
the helm binary and the chart, ``ctr`` in this process; the markers of what a test starts; the run's
figures at its end. The helpers themselves are in tests/helpers/."""

from collections.abc import Callable
from pathlib import Path

import pytest

from ctr.broker import KafkaBroker
from ctr.topics import TopicNames

from helpers import cli, job_runs
from helpers.figures import FIGURES
from helpers.helm import chart_without_dependencies, helm_binary
from helpers.kafka import fresh_topics

#: The shared fixtures that start something, and the markers they give the tests that use them
#: (directly or through another fixture); a test that starts one itself carries the marker.
#: `make test-fast` leaves out the tests that start a broker, a JVM or a cluster.
STARTS = {"broker": ("broker",), "published_run": ("broker", "jvm"), "kmock": ("cluster",)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that uses a fixture of ``STARTS`` with that fixture's markers."""
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & set(STARTS):
            for marker in STARTS[fixture]:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory):
    """Apache Kafka on a free 127.0.0.1 port for the whole session."""
    with KafkaBroker(tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture
def new_topics(broker: KafkaBroker) -> Callable[[], TopicNames]:
    """Make fresh topics on the session broker, each call a new set."""

    return lambda: fresh_topics(broker)


@pytest.fixture
def topics(new_topics: Callable[[], TopicNames]) -> TopicNames:
    """Topic names of this test's own, created on the session broker."""
    return new_topics()


@pytest.fixture(scope="session")
def published_run(broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One job run with its metrics on and its rows on the results topic (helpers.job_runs)."""
    return job_runs.published_run(broker, tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm v3 binary."""
    return str(helm_binary())


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of helm/ without its dependencies (they cannot be fetched offline)."""
    return chart_without_dependencies(tmp_path_factory.mktemp("chart"))


@pytest.fixture
def ctr_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., cli.Ran]:
    """``ctr_cli(*args, env={...})``: ``ctr ARGS`` run in this process (helpers.cli)."""
    return cli.in_process(capsys, monkeypatch)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the figures the tests measured, one line each, at the end of the run."""
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
