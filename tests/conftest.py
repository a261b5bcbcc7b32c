"""Fixtures: one real Kafka broker per session, fresh topics per test, the helm binary and the chart;
the run's figures at its end."""

from collections.abc import Callable
from pathlib import Path

import pytest
from helm_tool import chart_without_dependencies, helm_binary
from published_run import published_run  # noqa: F401  (a session fixture of two test modules)
from support import FIGURES, fresh_topics

from ctr.broker import KafkaBroker
from ctr.topics import TopicNames


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
def helm() -> str:
    """The helm v3 binary."""
    return str(helm_binary())


@pytest.fixture(scope="session")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of helm/ without its dependencies (they cannot be fetched offline)."""
    return chart_without_dependencies(tmp_path_factory.mktemp("chart"))


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the figures the tests measured, one line each, at the end of the run."""
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
