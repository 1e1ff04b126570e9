"""Shared fixtures (every module in tests/fixtures/ is a pytest plugin), and one fix of node ids
for pytest-xdist (README "Test it")."""

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
    run one of the seven. Each gets the id its name says."""
    if NodeId is None:
        return
    for item in items:
        head, bracket, params = item.name.partition("[")
        if bracket and item.nodeid.endswith("::" + head):
            item._id = NodeId.parse(f"{item.nodeid}[{params}")  # type: ignore[attr-defined]
