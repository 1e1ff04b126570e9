"""Shared fixtures (every module in tests/fixtures/ is a pytest plugin), one fix of node ids for
pytest-xdist, and the order files are handed out in (README "Test it")."""

from collections import Counter
from pathlib import Path

import pytest

try:
    from _pytest.nodeid import NodeId
except ImportError:  # an older pytest, with string node ids: left as they are
    NodeId = None  # type: ignore[assignment,misc]

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """schemathesis names the test of each API operation `test_x[POST /gen]`, but under pytest
    9.2 gives all of them the node id of `test_x`; pytest-xdist schedules by node id and would
    run one of the seven. Each gets the id its name says.

    And the files in the order pytest-xdist hands them out (`--no-loadscope-reorder`): those with
    `slow` tests first (builds, packagings, the bench: up to a minute each, so none starts
    last), then the others by their number of tests, most first."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    counts = Counter(item.path for item in items)
    items.sort(key=lambda item: (item.path not in slow, -counts[item.path]))  # stable sort
    if NodeId is None:
        return
    for item in items:
        head, bracket, params = item.name.partition("[")
        if bracket and item.nodeid.endswith("::" + head):
            item._id = NodeId.parse(f"{item.nodeid}[{params}")  # type: ignore[attr-defined]
