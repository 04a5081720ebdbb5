"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import NodeProcess, start_node


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Start real daemons (``start_node`` arguments); every one is stopped at teardown."""
    started: list[NodeProcess] = []

    def factory(sections: dict[str, dict[str, Any]], **kwargs: Any) -> NodeProcess:
        node = start_node(tmp_path, sections, **kwargs)
        started.append(node)
        return node

    yield factory
    for node in started:
        node.stop()
