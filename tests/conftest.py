"""Fixtures: one real tansu broker per session, fresh topics per test."""

import uuid
from typing import Callable

import pytest

from ctr.broker import EmbeddedBroker
from ctr.topics import TopicNames


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory):
    """A tansu broker on a free 127.0.0.1 port for the whole session."""
    with EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log") as running:
        yield running


@pytest.fixture
def new_topics(broker: EmbeddedBroker) -> Callable[[], TopicNames]:
    """Make fresh topics on the session broker, each call a new set."""

    def make() -> TopicNames:
        names = TopicNames.with_suffix(uuid.uuid4().hex[:8])
        broker.create_topics(names.all())
        return names

    return make


@pytest.fixture
def topics(new_topics: Callable[[], TopicNames]) -> TopicNames:
    """Topic names of this test's own, created on the session broker."""
    return new_topics()
