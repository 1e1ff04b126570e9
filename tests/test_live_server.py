"""The shared real server of the tests (tests/fixtures/app.py, README "Test it"): a test's view
of it reads only the log lines written since the view began, and no test can stop the server
for the others. (Each test's model calls are its own because the `model` fixture empties the
scripted model for every test.)
"""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, START_FORM, LiveServer
from tests.fixtures.model_server import ScriptedModel


def generate(server: LiveServer, request_id: str) -> dict[str, Any]:
    payload = {"user_input": "more memory", "openai_token": FAKE_KEY, "params": START_FORM}
    status, answer, _ = server.post(payload, {"X-Request-Id": request_id})
    assert status == 200, answer
    return answer


def test_a_view_reads_the_log_from_where_it_began(
    live_server: LiveServer, model: ScriptedModel
) -> None:
    earlier, later = f"earlier-{uuid.uuid4().hex}", f"later-{uuid.uuid4().hex}"
    model.reply('{"changes": {"memory": "128M"}}', '{"changes": {"memory": "256M"}}')
    generate(live_server, earlier)
    view = live_server.since_now()
    generate(view, later)

    assert earlier in live_server.output() and later in live_server.output()
    assert earlier not in view.output() and later in view.output()
    assert view.url == live_server.url  # the same server, not another one


def test_a_test_cannot_stop_the_shared_server(live_server: LiveServer) -> None:
    with pytest.raises(RuntimeError, match="own_live_server"):
        live_server.stop()
    with urllib.request.urlopen(live_server.url + "/healthz", timeout=10) as answer:
        assert answer.status == 200
    assert live_server.process.poll() is None
