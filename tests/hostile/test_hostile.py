"""The hostile corpus (tests/hostile/cases.py) through the real server: for every case, the
documented status and code, the JSON error shape, CORS and X-Request-Id on the answer, no
traceback in the server's log, and the case's key in no answer, header or log line.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import LiveServer, start_live_server
from tests.fixtures.model_server import Scripted, ScriptedModel
from tests.hostile.cases import ALL, KEY, Case

# Short enough for the "slower than the timeout" case, long enough for a loaded machine.
LLM_TIMEOUT_S = "1.5"


@pytest.fixture(scope="module")
def hostile_server(
    _model_server: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {
        "OPENAI_BASE_URL": _model_server.base_url,
        "AIOPS_LLM_TIMEOUT_S": LLM_TIMEOUT_S,
        "AIOPS_LLM_MAX_RETRIES": "0",
    }
    server = start_live_server(env, tmp_path_factory.mktemp("hostile") / "server.log")
    yield server
    server.stop()


def with_key(value: Any, key: str) -> Any:
    """`value` with every `{KEY}` replaced by `key` (text, bytes, scripted answers)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace(KEY, key)
    if isinstance(value, bytes):
        return value.replace(KEY.encode(), key.encode())
    if isinstance(value, Scripted):
        error = json.loads(with_key(json.dumps(value.error), key))
        return dataclasses.replace(value, content=with_key(value.content, key), error=error)
    return {name: with_key(text, key) for name, text in value.items()}


def encoded(body: Any, key: str) -> bytes | None:
    """The case's body as bytes, with its key: JSON for a dict or list, else as written."""
    if body is None:
        return None
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return with_key(body, key)


def send(server: LiveServer, case: Case, key: str) -> tuple[int, dict[str, str], bytes]:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/json", **with_key(case.headers, key)}
    try:
        connection.request(case.method, case.path, encoded(case.body, key), headers)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("case", ALL, ids=[case.name for case in ALL])
def test_hostile_case(hostile_server: LiveServer, model: ScriptedModel, case: Case) -> None:
    key = f"sk-test-{uuid.uuid4().hex}"
    model.reply(*(with_key(reply, key) for reply in case.replies))
    log_before = len(Path(hostile_server.log_path).read_bytes())
    status, headers, body = send(hostile_server, case, key)
    log = Path(hostile_server.log_path).read_bytes()[log_before:].decode(errors="replace")

    shown = f"{status} {headers} {body[:500]!r}"
    assert status == case.status, shown
    assert "x-request-id" in headers and "access-control-allow-origin" in headers, shown
    assert re.fullmatch(r"[!-~]{1,64}", headers["x-request-id"]), shown
    if case.method != "HEAD" and status != 204:
        assert headers["content-type"].startswith("application/json"), shown
        payload = json.loads(body)
        if case.code is None:
            json.loads(payload["GenParamsStr"]) if "GenParamsStr" in payload else None
        else:
            assert payload["code"] == case.code, shown
            assert payload["error"], shown
            if case.field_ is not None:
                assert payload["field"] == case.field_, shown
    assert "Traceback" not in log and '"internal_error"' not in log, log
    assert '"status": ' + str(case.status) in log, log
    for place in (body.decode(errors="replace"), json.dumps(headers), log):
        assert key not in place


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(ALL) >= 60
    assert len({case.name for case in ALL}) == len(ALL)
